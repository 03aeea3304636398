"""A crawler on the simulated node, served by a real uvicorn on 127.0.0.1, on both stores."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
from chaincrawler.eventstore import EventQuery, EventStore, open_store
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.models import Model
from chaincrawler.node.client import NodeClient
from chaincrawler.testing.chaingen import ChainGenerator
from chaincrawler.testing.postgres import drop_schemas
from chaincrawler.testing.simnode import SimNode
from chaincrawler.transports.options import ApiOptions
from chaincrawler.transports.server import ApiServer, serve_crawler


@dataclass
class Served:
    """What a test talks to: the server's URL, and the crawler, node and store behind it."""

    server: ApiServer
    crawler: Crawler
    gen: ChainGenerator
    rpc: NodeClient
    store: EventStore
    task: asyncio.Task[None]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    async def synced(self, timeout: float = 20.0) -> None:
        """Wait until the crawler has committed the node's tip."""
        async with asyncio.timeout(timeout):
            while True:
                if self.task.done():
                    self.task.result()
                best = await self.rpc.get_best_block_hash()
                tip = self.crawler.tip
                if tip is not None and tip.hash == best:
                    return
                await asyncio.sleep(0.02)

    async def active_log(self) -> dict[int, tuple[str, str, str]]:
        """The store's active events: position -> (model, type, payload)."""
        events = await self.store.read_events(EventQuery())
        return {e.position: (e.model, e.event_type, e.payload) for e in events}


Serve = Callable[..., Awaitable[Served]]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}", {}
    dsn = request.getfixturevalue("pg_dsn")
    return dsn, {"schema": f"cc_test_{uuid.uuid4().hex[:12]}"}


@pytest.fixture
async def serve(tmp_path: Path, store_url: tuple[str, dict[str, Any]]) -> AsyncIterator[Serve]:
    """Start node + crawler + server: ``await serve(blocks=3, options=ApiOptions(...))``."""
    stack = contextlib.AsyncExitStack()
    url, store_options = store_url
    made: list[Served] = []

    async def start(*, blocks: int = 3, txs: int = 4, options: ApiOptions | None = None,
                    models: list[Model] | None = None) -> Served:
        node = await stack.enter_async_context(
            SimNode(tmp_path / "node", rpc_port=0, rest=True))
        rpc = await stack.enter_async_context(
            NodeClient(node.rpc_url, cookie_file=node.cookie_file, rest=True))
        gen = ChainGenerator(rpc, seed="transports")
        await gen.mine_until_mature()
        await gen.fill(blocks, txs)
        store = open_store(url, **store_options)
        await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
        stack.push_async_callback(store.close)
        crawler = Crawler(rpc, store, models or [AddressBalances()], REGTEST,
                          CrawlerOptions(poll_interval=0.05, snapshot_interval=10,
                                         max_reorg_depth=20))
        server = await stack.enter_async_context(serve_crawler(crawler, options))
        task = asyncio.create_task(crawler.run(follow=True))

        async def stop() -> None:
            crawler.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        stack.push_async_callback(stop)
        served = Served(server, crawler, gen, rpc, store, task)
        await served.synced()
        made.append(served)
        return served

    try:
        yield start
    finally:
        await stack.aclose()
        if store_options.get("schema"):
            await drop_schemas(url, [store_options["schema"]])
