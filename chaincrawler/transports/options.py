"""``ApiOptions``: how the API serves (no web imports here: settings build it cheaply)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ApiOptions:
    """Auth tokens (none: no auth), CORS origins, stream heartbeat and per-client buffer."""

    tokens: Sequence[str] = ()
    cors_origins: Sequence[str] = ()
    heartbeat_interval: float = 15.0
    stream_buffer: int = 1000
