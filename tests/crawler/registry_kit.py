"""What the registry and re-index tests share: their models, a simulated node, a store
(the ``store`` fixture: import it into the test module), a crawl."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
from chaincrawler.eventstore import EventStore, SQLiteEventStore
from chaincrawler.models import Event, Model, on
from chaincrawler.node.client import NodeClient, RetryPolicy
from chaincrawler.testing.simnode import SimNode


class Seen(Event):
    height: int


class Heights(Model):
    """One event per block; the state lists the heights."""

    heights: list[int] = []  # noqa: RUF012

    def process_block(self, block: Block) -> None:
        self.apply(Seen(height=block.height or 0))

    @on(Seen)
    def _seen(self, event: Seen) -> None:
        self.heights.append(event.height)


class Other(Model):
    """Another model of the same store: counts its events."""

    count: int = 0

    def process_block(self, block: Block) -> None:
        self.apply(Seen(height=block.height or 0))

    @on(Seen)
    def _seen(self, event: Seen) -> None:
        self.count += 1


async def mine(rpc: NodeClient, n: int, script: str = "51") -> None:
    """``n`` blocks paying to ``script`` (another script mines a distinct competing branch)."""
    desc = (await rpc.call("getdescriptorinfo", f"raw({script})"))["descriptor"]
    await rpc.call("generatetodescriptor", n, desc)


@contextlib.asynccontextmanager
async def simnode_client(directory: Path, blocks: int) -> AsyncIterator[NodeClient]:
    """A client of a simulated node in ``directory`` that has mined ``blocks`` blocks."""
    async with (
        SimNode(directory, rpc_port=0, rest=True) as sim,
        NodeClient(sim.rpc_url, cookie_file=sim.cookie_file, rest=True,
                   retry=RetryPolicy(attempts=2, initial_delay=0.01)) as client,
    ):
        await mine(client, blocks)
        yield client


async def open_at(path: Path) -> EventStore:
    """The regtest SQLite store at ``path``, open as the writer."""
    store = SQLiteEventStore(path)
    await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    return store


@contextlib.asynccontextmanager
async def opened_store(path: Path) -> AsyncIterator[EventStore]:
    """``open_at(path)``, closed on exit."""
    store = await open_at(path)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EventStore]:
    """A regtest SQLite store in ``tmp_path``, open as the writer."""
    async with opened_store(tmp_path / "store.db") as s:
        yield s


async def crawl(rpc: NodeClient, store: EventStore, *models: Model,
                options: CrawlerOptions | None = None) -> Crawler:
    """Crawl ``models`` up to the node's tip (``options``: polling every 50 ms)."""
    crawler = Crawler(rpc, store, list(models), REGTEST,
                      options or CrawlerOptions(poll_interval=0.05))
    await crawler.run(follow=False)
    return crawler
