"""``http_server(crawler, settings.http)``: what ``chaincrawler run`` wraps the crawl in.

Imports the web stack only when serving is enabled, so the CLI stays quick without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from chaincrawler.config.sections import HttpSettings
from chaincrawler.crawler.pipeline import Crawler

if TYPE_CHECKING:
    from chaincrawler.transports.server import ApiServer


@contextlib.asynccontextmanager
async def http_server(crawler: Crawler, http: HttpSettings) -> AsyncIterator[ApiServer | None]:
    """Serve ``crawler`` at ``http.host:http.port`` while the body runs (None if disabled)."""
    if not http.enabled:
        yield None
        return
    from chaincrawler.transports.server import serve_crawler

    async with serve_crawler(crawler, http.options(), host=http.host,
                             port=http.port) as server:
        yield server
