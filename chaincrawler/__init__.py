"""chaincrawler: index Bitcoin with reorg-aware event sourcing."""

from __future__ import annotations

from chaincrawler.errors import ChainDataError, ChaincrawlerError

__version__ = "0.1.0"

__all__ = ["ChainDataError", "ChaincrawlerError", "__version__"]
