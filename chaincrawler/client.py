"""The Python client of a chaincrawler server (see ``chaincrawler.transports.client``)."""

from __future__ import annotations

from chaincrawler.transports import client as _client
from chaincrawler.transports.client import *  # noqa: F403

__all__ = _client.__all__
