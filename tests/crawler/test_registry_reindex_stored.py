"""Re-indexing the stored-collection balance model from its stored events, on a simulated
node with real transactions, on SQLite and PostgreSQL: the rebuilt collections, their
reads at every height of the reorg window and the window's snapshots equal the original
crawl's and a re-index from the node's; a reorg across the window after the rebuild then
gives the answers of a fresh crawl. A replay that fails (a key ``prefetch_events`` did not
load, a handler bug) writes nothing of the model, and what an interrupted one left is
cleared first."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.crawler.errors import ReindexError
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
from chaincrawler.crawler.reindex import reindex_from_events, reindex_from_node
from chaincrawler.eventstore import (
    CollectionWrite,
    EventQuery,
    EventStore,
    PostgresEventStore,
    open_store,
)
from chaincrawler.examples import AddressBalances, BalancesChanged, StoredAddressBalances
from chaincrawler.models import Event, ReplayError, on
from chaincrawler.node.client import NodeClient, RetryPolicy
from chaincrawler.testing.chaingen import ChainGenerator
from chaincrawler.testing.simnode import SimNode
from tests.crawler.fakes import FakeNode
from tests.crawler.test_reindex_stored import CHAIN, collections
from tests.crawler.test_reindex_stored import OPTIONS as FAKE_OPTIONS
from tests.crawler.test_reindex_stored import crawl as fake_crawl
from tests.crawler.test_stored_collections import Mined, Mixed

OPTIONS = CrawlerOptions(poll_interval=0.05, max_reorg_depth=6, catchup_batch_blocks=4,
                         collection_cache_entries=5)
NAME = StoredAddressBalances.name


class Counted(StoredAddressBalances):
    """The stored example plus plain attributes (snapshotted per block of the window)."""

    name = NAME

    transactions: int = 0
    last_txid: str = ""

    @on(BalancesChanged)
    def _changed(self, event: BalancesChanged) -> None:
        super()._changed(event)
        self.transactions += 1
        self.last_txid = event.txid


class CountedV2(Counted):
    """The same model after a change of its handlers: a new version."""

    name = NAME
    version = "2"


@pytest.fixture
async def chain(tmp_path: Path) -> AsyncIterator[tuple[NodeClient, ChainGenerator]]:
    """A node with mature coins, then 6 blocks of 5 transactions."""
    async with SimNode(tmp_path / "node", rpc_port=0, rest=True) as sim, NodeClient(
        sim.rpc_url, cookie_file=sim.cookie_file, rest=True,
        retry=RetryPolicy(attempts=2, initial_delay=0.01),
    ) as rpc:
        gen = ChainGenerator(rpc, seed="replay")
        await gen.mine_until_mature()
        await gen.fill(6, 5)
        yield rpc, gen


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], EventStore]:
    """Makes stores of the parametrised backend by name."""
    if request.param == "sqlite":
        return lambda name: open_store(f"sqlite:///{tmp_path / name}.db")
    dsn: str = request.getfixturevalue("pg_dsn")
    schemas: Callable[[], str] = request.getfixturevalue("pg_schemas")
    return lambda name: PostgresEventStore(dsn, schema=schemas())


async def opened(new_store: Callable[[str], EventStore], name: str,
                 genesis: str = REGTEST.genesis_hash) -> EventStore:
    store = new_store(name)
    await store.open(network="fake" if genesis != REGTEST.genesis_hash else REGTEST.name,
                     genesis_hash=genesis)
    return store


async def crawl(rpc: NodeClient, store: EventStore, *models: Any) -> Crawler:
    crawler = Crawler(rpc, store, [AddressBalances(), *models], REGTEST, OPTIONS)
    await crawler.run(follow=False)
    return crawler


async def accounts(store: EventStore, at_height: int | None = None) -> dict[str, str]:
    """Every key of the collection (``scan``), at the tip or read at ``at_height``."""
    values: dict[str, str] = {}
    after: str | None = None
    while True:
        page = (await store.scan(NAME, "accounts", after=after, limit=50)).result
        values.update(page)
        if len(page) < 50:
            break
        after = page[-1][0]
    if at_height is None:
        return values
    return (await store.get_many(NAME, "accounts", sorted(values), at_height=at_height)).result


async def window(store: EventStore) -> dict[int, tuple[Any, ...]]:
    """Per height of the reorg window: the collection read there and the snapshot there."""
    tip = await store.tip()
    assert tip is not None
    seen: dict[int, tuple[Any, ...]] = {}
    for height in range(tip.height - OPTIONS.max_reorg_depth, tip.height + 1):
        snapshot = await store.latest_snapshot(NAME, height)
        assert snapshot is not None and snapshot.block_height == height
        seen[height] = (await accounts(store, height), snapshot.block_hash, snapshot.state)
    return seen


async def test_from_events_equals_the_crawl_and_from_node_and_follows_a_reorg(
    chain: tuple[NodeClient, ChainGenerator], new_store: Callable[[str], EventStore]
) -> None:
    rpc, gen = chain
    store = await opened(new_store, "store")
    try:
        crawler = await crawl(rpc, store, Counted())
        memory = crawler.models[1]
        assert isinstance(memory, AddressBalances)
        crawled = await accounts(store), await window(store)
        assert {a: json.loads(v) for a, v in crawled[0].items()} == {
            a: [memory.balances[a], memory.tx_counts[a]] for a in memory.balances}
        assert len(crawled[0]) > 40
        others = await store.read_events(EventQuery(model=memory.name))
        events = await store.read_events(EventQuery(model=NAME))

        model = CountedV2()
        done = await reindex_from_events(store, [model], FAKE_OPTIONS)
        assert [(d.model, d.events) for d in done] == [(NAME, len(events))]
        assert (await store.model_versions())[NAME] == "2"
        assert (await accounts(store), await window(store)) == crawled  # stored == replayed
        assert model.transactions == len(events)
        assert model.last_txid == json.loads(events[-1].payload)["txid"]
        assert await store.read_events(EventQuery(model=NAME)) == events
        assert await store.read_events(EventQuery(model=memory.name)) == others
        assert (await store.scan(f"{NAME}.rebuild", "accounts")).result == []

        await reindex_from_node(rpc, store, [CountedV2()], REGTEST, OPTIONS)
        assert (await accounts(store), await window(store)) == crawled
        await reindex_from_events(store, [CountedV2()], OPTIONS)  # over the node's rebuild
        assert (await accounts(store), await window(store)) == crawled

        # a reorg across the window: rolled back through the rebuild's undo records
        await gen.reorg(4, 5, double_spend=True)
        await gen.fill(1, 3)
        crawler = await crawl(rpc, store, CountedV2())
        assert [r.depth for r in await store.reorgs()] == [4]
        fresh = await opened(new_store, "fresh")
        try:
            fresh_crawler = await crawl(rpc, fresh, CountedV2())
            assert await accounts(store) == await accounts(fresh)
            assert await window(store) == await window(fresh)
            live, want = crawler.models[2], fresh_crawler.models[2]
            assert isinstance(live, CountedV2) and isinstance(want, CountedV2)
            assert live.state_dict() == want.state_dict()
            fresh_memory = fresh_crawler.models[1]
            assert isinstance(fresh_memory, AddressBalances)
            address = max(fresh_memory.balances, key=lambda a: fresh_memory.tx_counts[a])
            assert await live.balance(address) == fresh_memory.balance(address)
        finally:
            await fresh.close()
    finally:
        await store.close()


class Hooked(Mixed):
    """``mixed`` with a new version whose ``prefetch_events`` loads what its handler reads."""

    name = "mixed"
    version = "2"

    async def prefetch_events(self, events: Sequence[Event]) -> None:
        mined = [e for e in events if isinstance(e, Mined)]
        await self.per_slot.prefetch(str(e.height % 7) for e in mined)
        await self.latest.prefetch(str(h % 5) for e in mined for h in (e.height, e.height + 1))


class HalfHooked(Hooked):
    """Its hook forgets the keys of ``latest`` the handler reads."""

    name = "mixed"

    async def prefetch_events(self, events: Sequence[Event]) -> None:
        await self.per_slot.prefetch(str(e.height % 7) for e in events
                                     if isinstance(e, Mined))


class Broken(Hooked):
    """Its handler raises at block 25 (after batches of the replay were committed)."""

    name = "mixed"

    @on(Mined)
    def _mined(self, event: Mined) -> None:
        if event.height == 25:
            raise RuntimeError("boom")
        super()._mined(event)


async def stored_data(store: EventStore) -> tuple[Any, ...]:
    """The model's collections, snapshots, version, and what is staged for a rebuild."""
    snapshots = [await store.latest_snapshot("mixed", h) for h in range(29, 40)]  # the window
    staged = [(await store.scan("mixed.rebuild", c)).result for c in ("per_slot", "latest")]
    return (await collections(store), snapshots, (await store.model_versions())["mixed"],
            staged)


async def test_a_failed_replay_writes_nothing_and_a_leftover_is_cleared(
    new_store: Callable[[str], EventStore]
) -> None:
    store = await opened(new_store, "store", CHAIN[0].hash)
    try:
        await fake_crawl(FakeNode(CHAIN), store, Mixed())
        before = await stored_data(store)
        with pytest.raises(ReindexError, match=r"'mixed' cannot be rebuilt from its events.*"
                           r"key '1' of stored collection 'latest'.*prefetch_events.*did not "
                           r"load that key.*Nothing of the model was written"):
            await reindex_from_events(store, [HalfHooked()], FAKE_OPTIONS)
        assert await stored_data(store) == before
        with pytest.raises(ReplayError, match=r"'mixed'.*block 25.*boom"):
            await reindex_from_events(store, [Broken()], FAKE_OPTIONS)
        assert await stored_data(store) == before
        # what a killed rebuild left staged is not adopted
        await store.commit_reindexed([], [], [CollectionWrite(
            "mixed.rebuild", "per_slot", "junk", "1", 39, CHAIN[39].hash)])
        model = Hooked()
        await reindex_from_events(store, [model], FAKE_OPTIONS)
        after = await stored_data(store)
        assert after[0] == before[0] and after[3] == before[3] == [[], []]
        assert [(s.block_height, s.state) for s in after[1] if s] == [
            (s.block_height, s.state) for s in before[1] if s] and all(after[1])
        assert after[2] == "2"
        assert model.blocks == 40
    finally:
        await store.close()
