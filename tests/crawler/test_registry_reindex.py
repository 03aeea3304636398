"""Re-indexing one model of a store (from its events, from the node) on a simulated node:
its state and active events equal a fresh crawl's; the other models' data is untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chaincrawler.app import RebuildRefusedError, reindex_models
from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block
from chaincrawler.config import load_settings
from chaincrawler.crawler.errors import ReindexError
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
from chaincrawler.crawler.registry import UNFINISHED
from chaincrawler.crawler.reindex import reindex_from_events, reindex_from_node
from chaincrawler.crawler.restore import restore_model
from chaincrawler.eventstore import EventQuery, EventStore, StoredEvent
from chaincrawler.models import Model, on
from chaincrawler.node.client import NodeClient
from tests.crawler import registry_kit
from tests.crawler.registry_kit import (
    Heights,
    Other,
    Seen,
    mine,
    open_at,
    simnode_client,
)

OPTIONS = CrawlerOptions(poll_interval=0.05, catchup_batch_blocks=3, snapshot_interval=2)


class HeightsNewHandler(Heights):
    """Version 2: the handler changed (keeps doubled heights); the events are the same."""

    name = "heights"
    version = "2"

    @on(Seen)
    def _seen(self, event: Seen) -> None:
        self.heights.append(event.height * 2)


class HeightsNewProcess(Heights):
    """Version 2: process_block changed (even heights only): its events differ."""

    name = "heights"
    version = "2"

    def process_block(self, block: Block) -> None:
        if (block.height or 0) % 2 == 0:
            self.apply(Seen(height=block.height or 0))


@pytest.fixture
async def rpc(tmp_path: Path) -> AsyncIterator[NodeClient]:
    async with simnode_client(tmp_path / "node", 9) as client:
        yield client


store = registry_kit.store  # the fixture


async def crawl(rpc: NodeClient, store: EventStore, *models: Model) -> Crawler:
    return await registry_kit.crawl(rpc, store, *models, options=OPTIONS)


def essence(events: list[StoredEvent]) -> list[tuple[object, ...]]:
    return [(e.event_type, e.version, e.payload, e.block_height, e.block_hash) for e in events]


async def fresh_crawl(rpc: NodeClient, path: Path, model: Model) -> tuple[Model, list[StoredEvent]]:
    """The model crawled alone into a new store: its live state and active events."""
    store = await open_at(path)
    try:
        crawler = await crawl(rpc, store, model)
        return crawler.models[1], await store.read_events(EventQuery(model=model.name))
    finally:
        await store.close()


async def test_from_events_rebuilds_one_models_state_and_snapshot(
    rpc: NodeClient, store: EventStore, tmp_path: Path
) -> None:
    await crawl(rpc, store, Heights(), Other())
    before = await store.read_events(EventQuery(model="other"))
    heights_events = await store.read_events(EventQuery(model="heights"))
    other_snapshot = await store.latest_snapshot("other")
    done = await reindex_from_events(store, [HeightsNewHandler()], OPTIONS)
    assert [(d.model, d.events) for d in done] == [("heights", 10)]
    assert (await store.model_versions())["heights"] == "2"
    assert await store.read_events(EventQuery(model="heights")) == heights_events
    assert await store.read_events(EventQuery(model="other")) == before
    assert await store.latest_snapshot("other") == other_snapshot
    snapshot = await store.latest_snapshot("heights")
    assert snapshot is not None and snapshot.block_height == 9
    assert await store.latest_snapshot("heights", 8) is None  # the old code's are gone
    # it rejoins the others: the next crawl runs both, from the new state
    await mine(rpc, 2)
    crawler = await crawl(rpc, store, HeightsNewHandler(), Other())
    live = crawler.models[1]
    fresh, _ = await fresh_crawl(rpc, tmp_path / "fresh.db", HeightsNewHandler())
    assert isinstance(live, HeightsNewHandler) and isinstance(fresh, HeightsNewHandler)
    assert live.heights == fresh.heights == [h * 2 for h in range(12)]
    assert await store.read_events(EventQuery(model="other", to_height=9)) == before


async def test_from_node_replaces_one_models_events(
    rpc: NodeClient, store: EventStore, tmp_path: Path
) -> None:
    await crawl(rpc, store, Heights(), Other())
    other_before = await store.read_events(EventQuery(model="other"))
    tip = await store.tip()
    model = HeightsNewProcess()
    done = await reindex_from_node(rpc, store, [model], REGTEST, OPTIONS)
    assert [(d.model, d.events) for d in done] == [("heights", 5)]
    assert await store.tip() == tip  # no block added
    assert (await store.model_versions())["heights"] == "2"
    assert await store.read_events(EventQuery(model="other")) == other_before
    assert await store.read_events(EventQuery(model="heights", include_rolled_back=True)) == \
        await store.read_events(EventQuery(model="heights"))
    fresh, fresh_events = await fresh_crawl(rpc, tmp_path / "fresh.db", HeightsNewProcess())
    stored = await store.read_events(EventQuery(model="heights"))
    assert essence(stored) == essence(fresh_events)
    assert isinstance(fresh, HeightsNewProcess)
    assert model.heights == fresh.heights == [0, 2, 4, 6, 8]
    # it rejoins the others at the tip, through a reorg too
    await rpc.call("invalidateblock", await rpc.get_block_hash(8))
    await mine(rpc, 4, "52")  # fork at 7, new tip 11
    crawler = await crawl(rpc, store, HeightsNewProcess(), Other())
    live_heights, live_other = crawler.models[1], crawler.models[2]
    assert isinstance(live_heights, HeightsNewProcess) and isinstance(live_other, Other)
    assert live_heights.heights == [0, 2, 4, 6, 8, 10]
    assert live_other.count == 12
    assert await store.read_events(EventQuery(model="other", to_height=7)) == other_before[:8]
    again = HeightsNewProcess()
    await restore_model(again, store, await store.tip(), use_snapshot=False)
    assert again.heights == live_heights.heights


async def test_from_node_stops_when_the_nodes_chain_changed(
    rpc: NodeClient, store: EventStore
) -> None:
    await crawl(rpc, store, Heights(), Other())
    await rpc.call("invalidateblock", await rpc.get_block_hash(6))
    await mine(rpc, 5, "52")
    with pytest.raises(ReindexError, match=r"the node's block at height 6 is .*a reorg"):
        await reindex_from_node(rpc, store, [HeightsNewProcess()], REGTEST, OPTIONS)
    assert (await store.model_versions())["heights"] == UNFINISHED
    # following the node, then the next crawl with the model finishes its re-index first
    await crawl(rpc, store, Other())
    crawler = await crawl(rpc, store, HeightsNewProcess(), Other())
    live = crawler.models[1]
    assert isinstance(live, HeightsNewProcess) and live.heights == [0, 2, 4, 6, 8, 10]
    assert (await store.model_versions())["heights"] == "2"


async def test_from_events_refuses_a_model_whose_history_the_store_lacks(
    rpc: NodeClient, tmp_path: Path
) -> None:
    path = tmp_path / "store.db"
    store = await open_at(path)
    try:
        await crawl(rpc, store, Heights(), Other())
        await crawl(rpc, store, Other())  # heights is left out at height 9
    finally:
        await store.close()
    settings = load_settings(network="regtest", store__url=f"sqlite:///{path}")
    for model, why in ((Heights(), "'heights' was left out of a run at height 9"),
                       (Late(), "'late' was never crawled into this store")):
        with pytest.raises(RebuildRefusedError, match=rf"{why}.*--from-node"):
            await reindex_models(settings, [model], from_node=False)
    store = await open_at(path)
    try:
        assert (await store.model_versions())["heights"] == "1"
        snapshot = await store.latest_snapshot("heights")
        assert snapshot is not None and snapshot.block_height == 9
    finally:
        await store.close()


class Late(Other):
    name = "late"
