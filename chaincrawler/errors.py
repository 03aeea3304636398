"""The exception hierarchy: every error chaincrawler raises derives from ChaincrawlerError."""

from __future__ import annotations


class ChaincrawlerError(Exception):
    """Base class of every error raised by chaincrawler."""


class ChainDataError(ChaincrawlerError, ValueError):
    """Raw chain data (a block, transaction or script) is malformed.

    ``offset`` is the byte offset in the input where parsing failed.
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        self.offset = offset
        where = f" at offset {offset}" if offset is not None else ""
        super().__init__(f"{message}{where}")
