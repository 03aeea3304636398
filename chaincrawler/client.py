"""The Python client of a chaincrawler server (see ``chaincrawler.transports.client``)."""

from __future__ import annotations

from chaincrawler.transports.client import (
    ApiError,
    AsyncClient,
    CaughtUp,
    Client,
    Cursor,
    EventsFrame,
    RollbackFrame,
    StreamClosed,
    StreamMessage,
    StreamView,
)

__all__ = [
    "ApiError",
    "AsyncClient",
    "CaughtUp",
    "Client",
    "Cursor",
    "EventsFrame",
    "RollbackFrame",
    "StreamClosed",
    "StreamMessage",
    "StreamView",
]
