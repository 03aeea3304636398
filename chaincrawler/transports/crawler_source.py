"""``CrawlerSource``: serve the models of a crawler running in this process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

import structlog

from chaincrawler.crawler.pipeline import Committed, Crawler, Notification
from chaincrawler.errors import ChaincrawlerError
from chaincrawler.eventstore import BlockRecord, EventStore
from chaincrawler.models import Model
from chaincrawler.transports.source import View

log = structlog.get_logger(__name__)

NODE_HEIGHT_TIMEOUT = 2.0


class CrawlerSource:
    """A ``StateSource`` over a ``Crawler`` in the same process and event loop.

    Queries run inside ``Crawler.committed()``, so they never see a block half
    processed; while a catch-up batch is in flight they wait for its commit.
    Call ``await start()`` before serving (it reads the store's last position).
    """

    def __init__(self, crawler: Crawler) -> None:
        self._crawler = crawler
        self._listeners: list[Callable[[Notification], None]] = []
        self._tip: BlockRecord | None = None
        self._position = 0
        crawler.subscribe(self._on_notice)

    async def start(self) -> None:
        """Read the committed tip and position from the store."""
        self._tip = await self.store.tip()
        self._position = await self.store.max_position()

    @property
    def store(self) -> EventStore:
        return self._crawler.store

    @property
    def models(self) -> Sequence[Model]:
        return self._crawler.models

    @property
    def max_reorg_depth(self) -> int:
        return self._crawler.options.max_reorg_depth

    @property
    def following(self) -> str:
        return "node"

    def view(self) -> View:
        return View(self._tip, self._position, self.max_reorg_depth)

    @contextlib.asynccontextmanager
    async def committed(self) -> AsyncIterator[View]:
        async with self._crawler.committed() as tip:
            yield View(tip, self._position, self.max_reorg_depth)

    def subscribe(self, listener: Callable[[Notification], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def upstream_height(self) -> int | None:
        try:
            async with asyncio.timeout(NODE_HEIGHT_TIMEOUT):
                return await self._crawler.node.get_block_count()
        except (ChaincrawlerError, TimeoutError) as exc:
            log.warning("node height unavailable", error=str(exc))
            return None

    def _on_notice(self, note: Notification) -> None:
        self._tip = self._crawler.tip  # the crawler sets it before notifying
        if isinstance(note, Committed) and note.positions:
            self._position = note.positions[-1]
        for listener in list(self._listeners):
            listener(note)
