"""Replies recorded from a real Bitcoin Core (31.99, regtest): the simulated node and the
node client are checked against them.

Each ``core_replies/NN-<what>.json`` holds one exchange: the ``request`` (JSON-RPC body,
or REST path), ``http_status`` and ``reply`` (or ZMQ ``frames``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CORE_REPLIES = Path(__file__).resolve().parent / "core_replies"
"""The directory of the recorded exchanges."""


def recorded(name: str) -> dict[str, Any]:
    """The exchange whose file name starts with ``name`` (e.g. ``"15-getblock"``)."""
    matches = sorted(CORE_REPLIES.glob(f"{name}*.json"))
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} recorded replies match {name!r} in {CORE_REPLIES}")
    data: dict[str, Any] = json.loads(matches[0].read_text())
    return data


def recorded_result(name: str) -> Any:
    """The ``result`` of a recorded JSON-RPC reply (or the body of a REST one)."""
    reply = recorded(name)["reply"]
    return reply["result"] if isinstance(reply, dict) and "jsonrpc" in reply else reply
