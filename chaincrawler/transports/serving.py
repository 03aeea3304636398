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
    from chaincrawler.transports.api import ApiOptions
    from chaincrawler.transports.server import ApiServer


def api_options(http: HttpSettings) -> ApiOptions:
    """The app's options from the ``http`` settings section."""
    from chaincrawler.transports.api import ApiOptions

    return ApiOptions(
        tokens=[t.get_secret_value() for t in http.tokens],
        cors_origins=list(http.cors_origins),
        heartbeat_interval=http.heartbeat_interval,
        stream_buffer=http.stream_buffer,
    )


@contextlib.asynccontextmanager
async def http_server(crawler: Crawler, http: HttpSettings) -> AsyncIterator[ApiServer | None]:
    """Serve ``crawler`` at ``http.host:http.port`` while the body runs (None if disabled)."""
    if not http.enabled:
        yield None
        return
    from chaincrawler.transports.server import serve_crawler

    async with serve_crawler(crawler, api_options(http), host=http.host,
                             port=http.port) as server:
        yield server
