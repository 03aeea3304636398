"""While a crawl runs, the garbage collector makes no automatic full pass over what a
catch-up batch allocates (a third of the crawl's CPU on the ingest benchmark), and no
automatic pass at all while it catches up; the thresholds, and the collector, are given
back when the run ends."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block
from chaincrawler.crawler.heap import IdleCollector
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
from chaincrawler.eventstore import SQLiteEventStore
from chaincrawler.models import Event, Model, on
from chaincrawler.node.client import NodeClient
from chaincrawler.testing.simnode import SimNode


class Kept(Event):
    height: int


class Hoarder(Model):
    """Keeps 60,000 small containers per block, as a model's state or a cache would, and
    counts the collector's full passes that start while it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[list[int]] = []
        self.running = False
        self.full_passes_in_blocks = 0
        self.passes_in_blocks = 0

    def process_block(self, block: Block) -> None:
        assert block.height is not None
        self.running = True
        try:
            self.kept.extend([i] for i in range(60_000))
            self.apply(Kept(height=block.height))
        finally:
            self.running = False

    @on(Kept)
    def _kept(self, event: Kept) -> None:
        pass


@pytest.fixture
async def rpc(tmp_path: Path) -> AsyncIterator[NodeClient]:
    async with SimNode(tmp_path / "node", rpc_port=0, rest=True) as sim, \
            NodeClient(sim.rpc_url, cookie_file=sim.cookie_file, rest=True) as client:
        desc = (await client.call("getdescriptorinfo", "raw(51)"))["descriptor"]
        await client.call("generatetodescriptor", 12, desc)
        yield client


async def test_a_catch_up_batch_meets_no_automatic_full_pass(
    rpc: NodeClient, tmp_path: Path
) -> None:
    store = SQLiteEventStore(tmp_path / "store.db")
    await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    model = Hoarder()

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and model.running:
            model.passes_in_blocks += 1
            if info["generation"] == 2:
                model.full_passes_in_blocks += 1

    before = gc.get_threshold()
    gc.callbacks.append(count)
    try:
        crawler = Crawler(rpc, store, [model], REGTEST, CrawlerOptions())
        summary = await crawler.run(follow=False)
    finally:
        gc.callbacks.remove(count)
        await store.close()
    assert summary.tip is not None and summary.tip.height == 12
    assert len(model.kept) == 13 * 60_000
    # CPython's default thresholds make several full passes over these 780,000 lists
    assert model.full_passes_in_blocks == 0
    # nor (catching up 13 blocks) any young pass: the collection after each batch does it
    assert model.passes_in_blocks == 0
    assert gc.get_threshold() == before and gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_hold_and_release_give_the_thresholds_back() -> None:
    before = gc.get_threshold()
    heap = IdleCollector()
    heap.hold()
    heap.hold()  # a second hold keeps the first's saved thresholds
    assert gc.get_threshold()[2] > before[2]
    heap.release()
    assert gc.get_threshold() == before


def test_catching_up_pauses_the_automatic_passes_even_when_it_fails() -> None:
    heap = IdleCollector()
    with pytest.raises(RuntimeError), heap.catching_up():
        assert not gc.isenabled()
        raise RuntimeError("a model failed")
    assert gc.isenabled()
