"""The store's model registry: model versions are recorded, checked and adopted."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.crawler.errors import ModelVersionError
from chaincrawler.eventstore import EventStore, SQLiteEventStore
from chaincrawler.node.client import NodeClient
from tests.crawler import registry_kit
from tests.crawler.registry_kit import Heights, crawl, simnode_client


class HeightsV2(Heights):
    name = "heights"
    version = "2"


store = registry_kit.store  # the fixture


@pytest.fixture
async def rpc(tmp_path: Path) -> AsyncIterator[NodeClient]:
    async with simnode_client(tmp_path / "node", 4) as client:
        yield client


async def test_a_first_crawl_records_each_models_version(
    rpc: NodeClient, store: EventStore
) -> None:
    await crawl(rpc, store, HeightsV2())
    assert await store.model_versions() == {"chain": "1", "heights": "2"}


async def test_a_model_of_another_version_is_refused_naming_the_command(
    rpc: NodeClient, store: EventStore
) -> None:
    await crawl(rpc, store, Heights())
    before = await store.max_position()
    with pytest.raises(ModelVersionError, match=r"model 'heights' is version 2 but the store "
                       r"holds the history of version 1.*chaincrawler rebuild --model heights"):
        await crawl(rpc, store, HeightsV2())
    assert await store.max_position() == before
    assert (await store.model_versions())["heights"] == "1"
    again = await crawl(rpc, store, Heights())  # the recorded version still runs
    assert again.tip is not None and again.tip.height == 4


async def test_a_store_without_versions_adopts_the_running_ones(
    rpc: NodeClient, tmp_path: Path
) -> None:
    path = tmp_path / "old.db"
    store = SQLiteEventStore(path)
    await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    await crawl(rpc, store, Heights())
    await store.close()
    with sqlite3.connect(path) as db:  # as a store migrated from before versions has it
        db.execute("UPDATE models SET version = NULL")
    store = SQLiteEventStore(path)
    await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    try:
        assert set((await store.model_versions()).values()) == {None}
        crawler = await crawl(rpc, store, HeightsV2())
        assert crawler.tip is not None and crawler.tip.height == 4
        assert await store.model_versions() == {"chain": "1", "heights": "2"}
        live = crawler.models[1]
        assert isinstance(live, HeightsV2) and live.heights == [0, 1, 2, 3, 4]
    finally:
        await store.close()
