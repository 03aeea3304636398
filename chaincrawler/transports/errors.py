"""Transport errors: ``ApiError`` is a request the API refuses, with its HTTP status."""

from __future__ import annotations

from typing import Any

from chaincrawler.errors import ChaincrawlerError


class TransportError(ChaincrawlerError):
    """Base class of the transports' errors."""


class ApiError(TransportError):
    """A refused request: ``status`` (4xx, or 500 for a failing query) and a stable ``code``."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """The response body: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class StreamClosed(TransportError):
    """The server closed the stream with ``code``; ``resume`` is where to resume from."""

    def __init__(self, code: int, reason: str, resume: dict[str, int] | None = None) -> None:
        super().__init__(f"stream closed by the server ({code}): {reason}")
        self.code = code
        self.reason = reason
        self.resume = resume
