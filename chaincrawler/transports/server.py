"""Run the API on uvicorn inside the caller's event loop, beside the crawler."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import structlog
import uvicorn
from fastapi import FastAPI

from chaincrawler.crawler.pipeline import Crawler
from chaincrawler.transports.api import create_app
from chaincrawler.transports.crawler_source import CrawlerSource
from chaincrawler.transports.errors import TransportError
from chaincrawler.transports.options import ApiOptions
from chaincrawler.transports.stream import StreamHub

log = structlog.get_logger(__name__)


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handlers: the crawler's own stop the process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ApiServer:
    """``app`` served by uvicorn at ``host:port`` (port 0: a free one) in this loop.

    WebSocket frames are not compressed (no permessage-deflate): each stream frame is
    encoded once for all its clients, and compressing it again per connection cost
    most of a fan-out's CPU (``benchmarks/transport.py``).
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="off",
                                ws="websockets-sansio", ws_per_message_deflate=False,
                                timeout_graceful_shutdown=2)
        self._server = _Uvicorn(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The port listened on."""
        sockets = self._server.servers[0].sockets if self._server.servers else []
        return int(sockets[0].getsockname()[1]) if sockets else self._server.config.port

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        return f"http://{self._server.config.host}:{self.port}"

    async def start(self) -> None:
        """Listen; raises TransportError if the address cannot be bound."""
        self._task = asyncio.create_task(self._server.serve(), name="chaincrawler-http")
        while not self._server.started:
            if self._task.done():
                error = self._task.exception() if not self._task.cancelled() else None
                raise TransportError(
                    f"cannot serve HTTP on {self._server.config.host}:"
                    f"{self._server.config.port}: {error or 'uvicorn exited'}")
            await asyncio.sleep(0.01)
        log.info("serving", url=self.url, dashboard=self.url + "/")

    async def stop(self) -> None:
        """Close the stream clients (1001), then the server."""
        hub = getattr(self.app.state, "hub", None)
        if isinstance(hub, StreamHub):
            await hub.close()
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, SystemExit):
                await self._task
            self._task = None


@contextlib.asynccontextmanager
async def serve_crawler(crawler: Crawler, options: ApiOptions | None = None, *,
                        host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[ApiServer]:
    """Serve ``crawler``'s committed state over HTTP/WebSocket while the body runs."""
    source = CrawlerSource(crawler)
    await source.start()
    server = ApiServer(create_app(source, options), host, port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
