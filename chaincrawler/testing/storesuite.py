"""The conformance suite every EventStore backend must pass, shipped for backend authors.

``EventStoreConformance`` holds the tests (pytest, with pytest-asyncio in auto
mode); a backend proves itself by subclassing it in a test module and providing
the ``backend`` fixture: a ``StoreBackend`` that makes stores at one fresh
location per test, and reaches that location directly (raw SQL, to inject faults
the public API cannot produce)::

    from chaincrawler.testing.storesuite import EventStoreConformance, StoreBackend

    class MyBackend(StoreBackend):
        ...  # new_store, other_store, execute, fetchval, location_exists, make_foreign

    class TestMyEventStore(EventStoreConformance):
        @pytest.fixture
        def backend(self, tmp_path: Path) -> StoreBackend:
            return MyBackend(tmp_path)

chaincrawler's own SQLite and PostgreSQL stores run it in ``tests/eventstore/``.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
import hashlib
import json
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest

from chaincrawler.eventstore import (
    SCHEMA_VERSION,
    AtTip,
    BlockRecord,
    BlockStatus,
    CollectionWrite,
    EventQuery,
    EventStatus,
    EventStore,
    EventStoreError,
    HistoryPrunedError,
    MempoolEventQuery,
    NotAStoreError,
    PendingEvent,
    PendingMempoolEvent,
    PendingSnapshot,
    Retention,
    SchemaMissingError,
    SchemaVersionError,
    StoreClosedError,
    StoreConflictError,
    StoreLockedError,
    StoreNetworkMismatchError,
    StoreReadOnlyError,
    schema,
)

NETWORK = "regtest"
GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"


class StoreBackend(abc.ABC):
    """Makes stores at one location and reaches that location with raw SQL."""

    @abc.abstractmethod
    def new_store(self) -> EventStore:
        """A new, unopened store object at this test's location."""

    @abc.abstractmethod
    def other_store(self) -> EventStore:
        """A new, unopened store at a second location, separate from the first."""

    @abc.abstractmethod
    async def execute(self, sql: str) -> None:
        """Run one SQL statement directly against the store's database."""

    @abc.abstractmethod
    async def fetchval(self, sql: str) -> Any:
        """The first column of the first row of a query run directly."""

    @abc.abstractmethod
    async def location_exists(self) -> bool:
        """Whether anything exists at the store's location (a file, a schema)."""

    @abc.abstractmethod
    async def make_foreign(self) -> None:
        """Put another application's data at the location: a table ``other_app`` of one row."""


def block_hash(branch: str, height: int) -> str:
    return hashlib.sha256(f"{branch}:{height}".encode()).hexdigest()


def make_chain(
    start: int, count: int, branch: str = "a", prev_hash: str | None = None
) -> list[BlockRecord]:
    """``count`` linked blocks from ``start``; the first builds on ``prev_hash``."""
    blocks = []
    prev = prev_hash if prev_hash is not None else block_hash("a", start - 1)
    for height in range(start, start + count):
        current = block_hash(branch, height)
        blocks.append(BlockRecord(height, current, prev, 1_600_000_000 + height))
        prev = current
    return blocks


def make_events(
    blocks: Sequence[BlockRecord], models: Sequence[str] = ("balances",), per_block: int = 2
) -> list[PendingEvent]:
    """Events for ``blocks`` in block order, alternating between ``models``."""
    events = []
    for block in blocks:
        for i in range(per_block):
            model = models[i % len(models)]
            payload = json.dumps({"height": block.height, "i": i, "addr": f"bc1q{block.hash[:8]}"})
            event_type = "Credited" if i % 2 == 0 else "Debited"
            events.append(PendingEvent(model, event_type, 1, payload, block.height, block.hash))
    return events


def snapshot(model: str, block: BlockRecord, state: dict[str, Any]) -> PendingSnapshot:
    return PendingSnapshot(model, block.height, block.hash, json.dumps(state))


def put(
    block: BlockRecord, key: str, value: str | None, model: str = "m", collection: str = "c"
) -> CollectionWrite:
    """The write of ``value`` (None: a delete) to ``key`` by ``block``."""
    return CollectionWrite(model, collection, key, value, block.height, block.hash)


#: Keys ``commit_random_writes`` draws from.
KEYSPACE = 30


async def commit_random_writes(
    store: EventStore,
    blocks: Sequence[BlockRecord],
    *,
    seed: int,
    start: Mapping[str, str] | None = None,
    batch: bool = False,
    retention: Retention | None = None,
) -> dict[int, dict[str, str]]:
    """Commit ``blocks`` (one commit, or one each) with random sets and deletes of
    collection ``m``/``c`` on top of ``start``; return the state after each block by
    height, plus the state before the first one (in key order ``k0, k1, ...``).
    """
    rng = random.Random(seed)
    state = dict(start or {})

    def ordered(values: Mapping[str, str]) -> dict[str, str]:
        return {f"k{i}": values[f"k{i}"] for i in range(KEYSPACE) if f"k{i}" in values}

    history = {blocks[0].height - 1: ordered(state)}
    writes: list[CollectionWrite] = []
    for block in blocks:
        mine = []
        for key in rng.sample([f"k{i}" for i in range(KEYSPACE)], 8):
            value = None if rng.random() < 0.3 else json.dumps({"v": rng.randrange(100)})
            mine.append(put(block, key, value))
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        history[block.height] = ordered(state)
        if batch:
            writes.extend(mine)
        else:
            await store.commit([block], [], writes=mine, retention=retention)
    if batch:
        await store.commit(blocks, [], writes=writes, retention=retention)
    return history


def mempool_event(
    txid: str, model: str = "pending", block: BlockRecord | None = None, kind: str = "Seen"
) -> PendingMempoolEvent:
    """A mempool event about ``txid`` (payload keys deliberately unsorted)."""
    payload = json.dumps({"txid": txid, "amount": 5, "address": "bcrt1qü", "a": [2, 1]})
    return PendingMempoolEvent(model, kind, 1, payload, txid,
                               None if block is None else block.height,
                               None if block is None else block.hash)


def canonical_events(events: Sequence[Any]) -> list[tuple[Any, ...]]:
    """What must be identical between a reorged store and a fresh crawl of its chain."""
    return [
        (e.model, e.version, e.event_type, e.event_version, json.loads(e.payload),
         e.block_height, e.block_hash)
        for e in events
    ]


async def open_store_at(
    backend: StoreBackend, *, network: str = NETWORK, genesis: str = GENESIS, **kwargs: Any
) -> EventStore:
    store = backend.new_store()
    await store.open(network=network, genesis_hash=genesis, **kwargs)
    return store


class EventStoreConformance:
    """Tests every backend passes. Subclasses provide the ``backend`` fixture."""

    @pytest.fixture
    def backend(self) -> StoreBackend:
        raise NotImplementedError("a backend's test class provides this fixture")

    @pytest.fixture
    async def store(self, backend: StoreBackend) -> AsyncIterator[EventStore]:
        store = await open_store_at(backend)
        yield store
        await store.close()

    # -- append and read -------------------------------------------------------------

    async def test_empty_store(self, store: EventStore) -> None:
        assert await store.tip() is None
        assert await store.max_position() == 0
        assert await store.read_events() == []
        assert await store.chain_window(10) == []
        assert await store.reorgs() == []
        meta = await store.meta()
        assert meta["network"] == NETWORK
        assert meta["genesis_hash"] == GENESIS
        assert meta["schema_version"] == str(SCHEMA_VERSION)

    async def test_commit_assigns_gap_free_positions_and_per_model_versions(
        self, store: EventStore
    ) -> None:
        blocks = make_chain(1, 3)
        events = make_events(blocks, models=("a", "b", "a"), per_block=3)
        result = await store.commit(blocks, events)
        assert (result.first_position, result.last_position) == (1, 9)
        more = make_chain(4, 1, prev_hash=blocks[-1].hash)
        second = await store.commit(more, make_events(more, models=("b",), per_block=2))
        assert list(second.positions) == [10, 11]

        stored = await store.read_events()
        assert [e.position for e in stored] == list(range(1, 12))
        assert [e.version for e in stored if e.model == "a"] == [1, 2, 3, 4, 5, 6]
        assert [e.version for e in stored if e.model == "b"] == [1, 2, 3, 4, 5]
        assert all(e.status is EventStatus.ACTIVE and e.reorg_id is None for e in stored)
        assert all(e.created_at.tzinfo is not None for e in stored)
        assert canonical_events(stored[:9]) == [
            (p.model, v, p.event_type, 1, json.loads(p.payload), p.block_height, p.block_hash)
            for p, v in zip(events, [1, 1, 2, 3, 2, 4, 5, 3, 6], strict=True)
        ]
        assert await store.max_position() == 11

    async def test_commit_without_events_or_blocks(self, store: EventStore) -> None:
        blocks = make_chain(1, 2)
        result = await store.commit(blocks, [])
        assert list(result.positions) == []
        assert result.first_position == 1
        assert await store.tip() == blocks[-1]

    async def test_payloads_round_trip_as_json(self, store: EventStore) -> None:
        blocks = make_chain(1, 1)
        payload = {"z": [1, 2.5, None, True], "a": {"nested": "ünïcødé ₿"}, "big": 2**60}
        event = PendingEvent("m", "T", 3, json.dumps(payload), 1, blocks[0].hash)
        await store.commit(blocks, [event])
        (stored,) = await store.read_events()
        assert json.loads(stored.payload) == payload
        assert stored.event_version == 3

    async def test_read_filters_and_order(self, store: EventStore) -> None:
        blocks = make_chain(10, 5)
        await store.commit(blocks, make_events(blocks, models=("a", "b"), per_block=4))
        everything = await store.read_events()
        assert len(everything) == 20

        def positions(events: Sequence[Any]) -> list[int]:
            return [e.position for e in events]

        only_a = await store.read_events(EventQuery(model="a"))
        assert positions(only_a) == [e.position for e in everything if e.model == "a"]
        debits = await store.read_events(EventQuery(event_types=("Debited",)))
        assert {e.event_type for e in debits} == {"Debited"} and len(debits) == 10
        assert await store.read_events(EventQuery(event_types=())) == []
        assert positions(await store.read_events(EventQuery(from_position=5, to_position=8))) == [
            5, 6, 7, 8,
        ]
        by_height = await store.read_events(EventQuery(from_height=11, to_height=12))
        assert {e.block_height for e in by_height} == {11, 12} and len(by_height) == 8
        newest = await store.read_events(EventQuery(order="desc", limit=3))
        assert positions(newest) == [20, 19, 18]
        combined = await store.read_events(
            EventQuery(model="b", event_types=("Debited",), from_height=12, limit=2)
        )
        assert [(e.model, e.event_type) for e in combined] == [("b", "Debited")] * 2
        assert all(e.block_height >= 12 for e in combined)

    async def test_iter_events_pages_like_read_events(self, store: EventStore) -> None:
        blocks = make_chain(1, 7)
        await store.commit(blocks, make_events(blocks, models=("a", "b"), per_block=3))
        for query in (
            EventQuery(),
            EventQuery(order="desc"),
            EventQuery(model="a", limit=5),
            EventQuery(order="desc", limit=4, from_height=2),
        ):
            expected = await store.read_events(query)
            paged = [e async for e in store.iter_events(query, batch_size=2)]
            assert paged == expected

    async def test_chain_queries(self, store: EventStore) -> None:
        blocks = make_chain(100, 6)
        await store.commit(blocks, [])
        assert await store.tip() == blocks[-1]
        assert await store.canonical_block(102) == blocks[2]
        assert await store.canonical_block(99) is None
        assert await store.chain_window(3) == blocks[-3:]
        assert await store.chain_window(50) == blocks

    # -- commit linkage -----------------------------------------------------------------

    async def test_commit_linkage_conflicts_write_nothing(self, store: EventStore) -> None:
        blocks = make_chain(1, 3)
        await store.commit(blocks, make_events(blocks))
        tip, position = await store.tip(), await store.max_position()
        nxt = make_chain(4, 2, prev_hash=blocks[-1].hash)
        other = make_chain(4, 1, branch="b", prev_hash=block_hash("b", 3))
        broken_link = [nxt[0], dataclasses.replace(nxt[1], prev_hash=block_hash("x", 4))]
        foreign = PendingEvent("m", "T", 1, "{}", 2, blocks[1].hash)
        cases: list[tuple[list[BlockRecord], list[PendingEvent], list[PendingSnapshot]]] = [
            (blocks, make_events(blocks), []),  # the same batch again (crash-restart)
            (other, make_events(other), []),  # does not build on our tip
            (make_chain(5, 1, prev_hash=nxt[0].hash), [], []),  # height gap
            (broken_link, [], []),  # blocks of the batch not linked
            (nxt, [foreign], []),  # event of a block outside the batch
            (nxt, list(reversed(make_events(nxt))), []),  # events out of block order
            (nxt, [], [snapshot("m", other[0], {})]),  # snapshot of an unknown block
        ]
        for new_blocks, events, snaps in cases:
            with pytest.raises(StoreConflictError):
                await store.commit(new_blocks, events, snaps)
            assert await store.tip() == tip
            assert await store.max_position() == position
        assert await store.latest_snapshot("m") is None
        assert list((await store.commit(nxt, make_events(nxt))).positions) == [7, 8, 9, 10]

    async def test_empty_store_accepts_any_start_height(self, store: EventStore) -> None:
        blocks = make_chain(800_000, 2)
        await store.commit(blocks, make_events(blocks))
        assert (await store.tip()) == blocks[-1]

    async def test_failed_commit_leaves_nothing(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        first = make_chain(1, 1)
        await store.commit(first, make_events(first))
        # The database, not the store's checks, rejects a row half way through the batch.
        await backend.execute(
            "CREATE UNIQUE INDEX inject_dup ON events (event_type) WHERE event_type = 'Dup'"
        )
        blocks = make_chain(2, 3, prev_hash=first[0].hash)
        events = make_events(blocks)
        dup = [PendingEvent("m", "Dup", 1, "{}", 3, blocks[1].hash)] * 2
        events = events[:4] + dup + events[4:]
        with pytest.raises(StoreConflictError):
            await store.commit(blocks, events, [snapshot("m", blocks[2], {"n": 1})])
        assert await store.tip() == first[0]
        assert await store.max_position() == 2
        assert await store.canonical_block(2) is None
        assert await store.latest_snapshot("m") is None
        await backend.execute("DROP INDEX inject_dup")
        result = await store.commit(blocks, events, [snapshot("m", blocks[2], {"n": 1})])
        assert list(result.positions) == list(range(3, 3 + len(events)))
        assert await store.tip() == blocks[-1]

    # -- reorgs ----------------------------------------------------------------------------

    async def test_rollback_marks_events_and_keeps_them(self, store: EventStore) -> None:
        blocks = make_chain(1, 10)
        events = make_events(blocks, models=("a", "b"), per_block=2)
        await store.commit(
            blocks, events, [snapshot("a", blocks[3], {"h": 4}), snapshot("a", blocks[7], {"h": 8})]
        )
        new_tip = block_hash("b", 11)

        reorg = await store.rollback(6, new_tip_hash=new_tip)

        assert (reorg.fork_height, reorg.fork_hash) == (6, blocks[5].hash)
        assert (reorg.old_tip_height, reorg.old_tip_hash) == (10, blocks[-1].hash)
        assert (reorg.new_tip_hash, reorg.depth, reorg.rolled_back_events) == (new_tip, 4, 8)
        assert await store.reorgs() == [reorg]
        assert await store.tip() == blocks[5]
        assert await store.max_position() == 20
        active = await store.read_events()
        assert [e.position for e in active] == list(range(1, 13))
        everything = await store.read_events(EventQuery(include_rolled_back=True))
        assert len(everything) == 20
        rolled = [e for e in everything if e.status is EventStatus.ROLLED_BACK]
        assert [e.position for e in rolled] == list(range(13, 21))
        assert all(e.reorg_id == reorg.id and e.block_height > 6 for e in rolled)
        assert [json.loads(e.payload) for e in rolled] == [
            json.loads(p.payload) for p in events[12:]
        ]
        assert await store.read_events(EventQuery(reorg_id=reorg.id)) == rolled
        snap = await store.latest_snapshot("a")
        assert snap is not None and snap.block_height == 4
        orphans = await store.orphaned_blocks(reorg_id=reorg.id)
        assert sorted(b.height for b in orphans) == [7, 8, 9, 10]
        assert all(b.status is BlockStatus.ORPHANED and b.reorg_id == reorg.id for b in orphans)

    async def test_new_branch_after_rollback_equals_a_fresh_crawl(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        main = make_chain(1, 8)
        await store.commit(main[:5], make_events(main[:5], models=("a", "b"), per_block=3))
        await store.commit(main[5:], make_events(main[5:], models=("a", "b"), per_block=3))
        await store.rollback(5)
        branch = make_chain(6, 4, branch="b", prev_hash=main[4].hash)
        await store.commit(branch, make_events(branch, models=("b", "a"), per_block=2))
        second = await store.rollback(7)
        tail = make_chain(8, 2, branch="c", prev_hash=branch[1].hash)
        await store.commit(tail, make_events(tail, models=("a",), per_block=1))

        final_chain = main[:5] + branch[:2] + tail
        assert await store.chain_window(100) == final_chain
        versions_a = [e.version for e in await store.read_events(EventQuery(model="a"))]
        assert versions_a == list(range(1, len(versions_a) + 1))
        assert second.rolled_back_events == 4

        fresh = backend.other_store()
        await fresh.open(network=NETWORK, genesis_hash=GENESIS)
        try:
            await fresh.commit(main[:5], make_events(main[:5], models=("a", "b"), per_block=3))
            await fresh.commit(branch[:2], make_events(branch[:2], models=("b", "a"), per_block=2))
            await fresh.commit(tail, make_events(tail, models=("a",), per_block=1))
            fresh_events = await fresh.read_events()
        finally:
            await fresh.close()
        assert canonical_events(await store.read_events()) == canonical_events(fresh_events)

    async def test_events_of_each_reorg_across_nested_reorgs(self, store: EventStore) -> None:
        main = make_chain(1, 8)
        await store.commit(main, make_events(main, per_block=3))
        first = await store.rollback(5)
        branch = make_chain(6, 3, branch="b", prev_hash=main[4].hash)
        await store.commit(branch, make_events(branch, per_block=3))
        second = await store.rollback(3)  # deeper: main 4-5 and the whole branch

        everything = await store.read_events(EventQuery(include_rolled_back=True))
        for reorg, heights in ((first, {6, 7, 8}), (second, {4, 5, 6, 7, 8})):
            mine = await store.read_events(EventQuery(reorg_id=reorg.id))
            assert mine == [e for e in everything if e.reorg_id == reorg.id]
            assert {e.block_height for e in mine} == heights
            assert len(mine) == reorg.rolled_back_events
        assert second.rolled_back_events == 6 + 9
        assert [e.position for e in await store.read_events()] == list(range(1, 10))

    async def test_rollback_refuses_impossible_forks(self, store: EventStore) -> None:
        with pytest.raises(StoreConflictError):
            await store.rollback(0)
        blocks = make_chain(50, 3)
        await store.commit(blocks, [])
        for fork in (52, 60, 10):
            with pytest.raises(StoreConflictError):
                await store.rollback(fork)
        assert await store.tip() == blocks[-1]
        assert await store.reorgs() == []

    async def test_rollback_below_the_first_stored_block(self, store: EventStore) -> None:
        blocks = make_chain(100, 3)
        await store.commit(blocks, make_events(blocks))
        reorg = await store.rollback(99)
        assert reorg.fork_hash == blocks[0].prev_hash
        assert reorg.rolled_back_events == 6
        assert await store.tip() is None
        other = make_chain(100, 1, branch="b")
        await store.commit(other, make_events(other))
        assert [e.version for e in await store.read_events()] == [1, 2]

    # -- stored collections -----------------------------------------------------------

    async def test_collection_writes_commit_with_their_blocks(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        blocks = make_chain(1, 2)
        odd = '{"b" :1,"a":[ 2.50 ]}'
        await store.commit(blocks, make_events(blocks), writes=[
            put(blocks[0], "alice", "5"), put(blocks[0], "bob", odd),
            put(blocks[0], "alice", "1", collection="other"),
            put(blocks[0], "alice", "9", model="n"),
            put(blocks[1], "alice", "7"), put(blocks[1], "carol", '"ü ₿"'),
        ])
        read = await store.get_many("m", "c", ["carol", "nobody", "alice", "bob", "alice"])
        assert read.tip == blocks[-1]
        assert list(read.result.items()) == [("carol", '"ü ₿"'), ("alice", "7"), ("bob", odd)]
        assert (await store.get_many("m", "other", ["alice", "bob"])).result == {"alice": "1"}
        assert (await store.get_many("n", "c", ["alice"])).result == {"alice": "9"}
        assert (await store.get_many("m", "c", [])).result == {}
        more = make_chain(3, 1, prev_hash=blocks[-1].hash)
        await store.commit(more, [], writes=[put(more[0], "bob", None)])
        counted = await store.count("m", "c")
        assert (counted.tip, counted.result) == (more[0], 2)
        assert (await store.count("m", "nothing")).result == 0
        async with await open_store_at(backend, writer=False) as reader:
            assert (await reader.get_many("m", "c", ["alice", "bob"])).result == {"alice": "7"}

    async def test_scan_pages_in_key_byte_order(self, store: EventStore) -> None:
        blocks = make_chain(1, 1)
        keys = ["b", "B", "a", "ab", "A", "é", "z", "a b", "0", "~"]
        await store.commit(blocks, [], writes=[put(blocks[0], k, json.dumps(k)) for k in keys])
        ordered = sorted(keys, key=lambda k: k.encode())
        first = await store.scan("m", "c", limit=4)
        assert first.tip == blocks[0]
        pages = [first.result]
        while len(pages[-1]) == 4:
            pages.append((await store.scan("m", "c", after=pages[-1][-1][0], limit=4)).result)
        assert [len(page) for page in pages] == [4, 4, 2]
        assert [item for page in pages for item in page] == [(k, json.dumps(k)) for k in ordered]
        assert (await store.scan("m", "c", after=ordered[-1])).result == []
        assert (await store.scan("m", "none")).result == []
        with pytest.raises(ValueError):
            await store.scan("m", "c", limit=0)

    async def test_collection_writes_that_do_not_fit_write_nothing(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        first = make_chain(1, 1)
        await store.commit(first, [], writes=[put(first[0], "k", "1")])
        nxt = make_chain(2, 2, prev_hash=first[0].hash)
        other = make_chain(2, 1, branch="b", prev_hash=first[0].hash)
        cases = [
            (nxt, [put(other[0], "k", "2")]),  # names a block outside the commit
            (nxt, [put(nxt[0], "k", "2"), put(nxt[0], "k", "3")]),  # twice in one block
            (make_chain(3, 1, prev_hash=nxt[0].hash), [put(nxt[0], "k", "2")]),  # height gap
            ([], [put(first[0], "k", "2")]),  # a committed block
        ]
        for blocks, writes in cases:
            with pytest.raises(StoreConflictError):
                await store.commit(blocks, [], writes=writes)
        # The database rejects a row half way: the writes go with the rest.
        await backend.execute(
            "CREATE UNIQUE INDEX inject_dup ON events (event_type) WHERE event_type = 'Dup'"
        )
        dup = [PendingEvent("m", "Dup", 1, "{}", 3, nxt[1].hash)] * 2
        with pytest.raises(StoreConflictError):
            await store.commit(nxt, dup, writes=[put(nxt[0], "k", "2"), put(nxt[1], "new", "3")])
        await backend.execute("DROP INDEX inject_dup")
        assert await store.tip() == first[0]
        assert (await store.get_many("m", "c", ["k", "new"])).result == {"k": "1"}
        assert await backend.fetchval("SELECT COUNT(*) FROM collection_recent") == 1
        await store.commit(nxt, [], writes=[put(nxt[0], "k", "2"), put(nxt[1], "k", "3")])
        assert (await store.get_many("m", "c", ["k"])).result == {"k": "3"}

    async def test_rollback_restores_collections_exactly(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        main = make_chain(1, 8)
        history = await commit_random_writes(store, main[:3], seed=1)
        history |= await commit_random_writes(
            store, main[3:6], seed=2, start=history[3], batch=True
        )
        history |= await commit_random_writes(store, main[6:], seed=3, start=history[6])
        keys = [f"k{i}" for i in range(KEYSPACE)]
        await store.rollback(4)
        assert (await store.get_many("m", "c", keys)).result == history[4]
        assert await store.scan("m", "c") == AtTip(main[3], sorted(history[4].items()))
        assert (await store.count("m", "c")).result == len(history[4])
        assert await backend.fetchval(
            "SELECT COUNT(*) FROM collection_blocks WHERE block_height > 4 "
            "AND status = 'canonical'"
        ) == 0
        assert await backend.fetchval("SELECT COUNT(*) FROM collection_recent") > 0
        branch = make_chain(5, 3, branch="b", prev_hash=main[3].hash)
        await commit_random_writes(store, branch, seed=4, start=history[4])
        await store.rollback(2)  # deeper than the first reorg: both branches' blocks
        assert (await store.get_many("m", "c", keys)).result == history[2]
        await store.rollback(0)
        assert (await store.count("m", "c")).result == 0
        # A new branch on the restored state equals the same chain crawled fresh.
        tail = make_chain(2, 4, branch="c", prev_hash=main[0].hash)
        fresh = backend.other_store()
        await fresh.open(network=NETWORK, genesis_hash=GENESIS)
        try:
            for target in (store, fresh):
                await commit_random_writes(target, main[:1], seed=1)
                await commit_random_writes(target, tail, seed=5, start=history[1])
            assert await store.scan("m", "c", limit=10_000) == await fresh.scan(
                "m", "c", limit=10_000
            )
            assert (await store.count("m", "c")).result > 0
        finally:
            await fresh.close()

    async def test_rollback_restores_each_collection_of_a_shared_key_apart(
        self, store: EventStore
    ) -> None:
        blocks = make_chain(1, 3)
        places = [("m", "c"), ("m", "d"), ("n", "c")]
        await store.commit(blocks[:1], [], writes=[
            put(blocks[0], "k", f'"{m}{c}1"', m, c) for m, c in places])
        await store.commit(blocks[1:], [], writes=[
            put(blocks[1], "k", '"mc2"', "m", "c"), put(blocks[1], "k", None, "m", "d"),
            put(blocks[2], "k", '"mc3"', "m", "c"), put(blocks[2], "k", '"md3"', "m", "d"),
            put(blocks[2], "j", '"nc3"', "n", "c"),
        ])
        await store.rollback(1)
        for model, collection in places:
            found = (await store.get_many(model, collection, ["k", "j"])).result
            assert found == {"k": f'"{model}{collection}1"'}, (model, collection)

    async def test_values_at_a_height_within_the_window(self, store: EventStore) -> None:
        blocks = make_chain(1, 6)
        history = await commit_random_writes(store, blocks, seed=7)
        keys = [f"k{i}" for i in range(KEYSPACE)]
        for height in range(0, 7):
            at = await store.get_many("m", "c", keys, at_height=height)
            assert (at.tip, at.result) == (blocks[-1], history[height]), height
        assert (await store.get_many("m", "c", ["k1", "k0"], at_height=3)).result == {
            k: history[3][k] for k in ("k1", "k0") if k in history[3]
        }
        with pytest.raises(HistoryPrunedError):
            await store.get_many("m", "c", keys, at_height=7)

    async def test_retention_settles_and_refuses_what_it_settled(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        blocks = make_chain(1, 10)
        keep = Retention(max_reorg_depth=3)
        history = await commit_random_writes(store, blocks, seed=9, retention=keep)
        lowest = await backend.fetchval("SELECT MIN(block_height) FROM collection_blocks")
        assert lowest == 8
        keys = [f"k{i}" for i in range(KEYSPACE)]
        assert (await store.get_many("m", "c", keys, at_height=7)).result == history[7]
        with pytest.raises(HistoryPrunedError):
            await store.get_many("m", "c", keys, at_height=6)
        with pytest.raises(HistoryPrunedError):
            await store.rollback(6)
        assert await store.tip() == blocks[-1]
        assert await store.reorgs() == []
        assert (await store.get_many("m", "c", keys)).result == history[10]
        await store.rollback(7)
        assert (await store.get_many("m", "c", keys)).result == history[7]
        # A commit without retention settles nothing.
        branch = make_chain(8, 2, branch="b", prev_hash=blocks[6].hash)
        await store.commit(branch, [], writes=[put(b, "k0", str(b.height)) for b in branch])
        assert await backend.fetchval("SELECT COUNT(*) FROM collection_recent") == 2

    async def test_retention_settles_the_window_into_the_base(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        blocks = make_chain(1, 10)
        keep = Retention(max_reorg_depth=3)
        history = await commit_random_writes(store, blocks[:2], seed=11, retention=keep)
        # One commit of 8 blocks: those at or below the horizon (10 - 3) go to the base.
        history |= await commit_random_writes(
            store, blocks[2:], seed=12, start=history[2], batch=True, retention=keep
        )
        # The base holds the state at the horizon, the overlay the blocks above it.
        assert await backend.fetchval("SELECT MIN(block_height) FROM collection_blocks") == 8
        assert await backend.fetchval("SELECT COUNT(*) FROM collection_values") == len(
            history[7])
        keys = [f"k{i}" for i in range(KEYSPACE)]
        for height in (7, 8, 9, 10):
            at = await store.get_many("m", "c", keys, at_height=height)
            assert at.result == history[height], height
        with pytest.raises(HistoryPrunedError, match="above height 7"):
            await store.get_many("m", "c", keys, at_height=6)
        # Block by block: each commit settles the block leaving the window.
        more = make_chain(11, 4, prev_hash=blocks[-1].hash)
        for block in more:
            history |= await commit_random_writes(
                store, [block], seed=block.height, start=history[block.height - 1],
                retention=keep,
            )
            horizon = block.height - 3
            assert await backend.fetchval(
                "SELECT MIN(block_height) FROM collection_blocks") == horizon + 1
            at = await store.get_many("m", "c", keys, at_height=horizon)
            assert at.result == history[horizon]
            assert (await store.get_many("m", "c", keys)).result == history[block.height]
        await store.rollback(11)
        assert (await store.get_many("m", "c", keys)).result == history[11]
        with pytest.raises(HistoryPrunedError, match="cannot roll back to height 10"):
            await store.rollback(10)

    async def test_orphaned_blocks_rows_stay_unseen_until_they_settle(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        keep = Retention(max_reorg_depth=3)
        main = make_chain(1, 5)
        for block in main:
            await store.commit([block], [], writes=[
                put(block, "k", f'"{block.height}"'), put(block, f"own{block.height}", "1")],
                retention=keep)
        await store.rollback(3)
        orphaned = "SELECT COUNT(*) FROM collection_blocks WHERE status = 'orphaned'"
        assert await backend.fetchval(orphaned) == 2
        assert await backend.fetchval("SELECT COUNT(*) FROM collection_recent") == 6
        names = ["k", "own3", "own4", "own5"]
        assert (await store.get_many("m", "c", names)).result == {"k": '"3"', "own3": "1"}
        assert (await store.count("m", "c")).result == 4
        branch = make_chain(4, 6, branch="b", prev_hash=main[2].hash)
        await store.commit(branch[:1], [], writes=[put(branch[0], "k", '"b4"')], retention=keep)
        assert (await store.get_many("m", "c", names)).result == {"k": '"b4"', "own3": "1"}
        assert (await store.get_many("m", "c", names, at_height=3)).result == {
            "k": '"3"', "own3": "1"}
        assert (await store.scan("m", "c")).result == [
            ("k", '"b4"'), ("own1", "1"), ("own2", "1"), ("own3", "1")]
        # Once the horizon passes their height, the orphaned blocks' rows are deleted.
        for block in branch[1:]:
            await store.commit([block], [], writes=[put(block, "k", f'"b{block.height}"')],
                               retention=keep)
        assert await backend.fetchval(orphaned) == 0
        assert await backend.fetchval(
            "SELECT COUNT(*) FROM collection_recent WHERE seq NOT IN "
            "(SELECT seq FROM collection_blocks)") == 0
        assert (await store.get_many("m", "c", names)).result == {"k": '"b9"', "own3": "1"}
        assert (await store.count("m", "c")).result == 4

    async def test_a_commit_without_retention_deletes_orphaned_rows(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        main = make_chain(1, 3)
        await store.commit(main, [], writes=[put(b, "k", str(b.height)) for b in main])
        await store.rollback(1)
        branch = make_chain(2, 1, branch="b", prev_hash=main[0].hash)
        await store.commit(branch, [], writes=[put(branch[0], "j", "1")])
        assert await backend.fetchval(
            "SELECT COUNT(*) FROM collection_blocks WHERE status = 'orphaned'") == 0
        assert await backend.fetchval("SELECT COUNT(*) FROM collection_recent") == 2
        assert (await store.get_many("m", "c", ["k", "j"])).result == {"k": "1", "j": "1"}

    async def test_blocks_leave_the_window_in_batches(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        keep = Retention(max_reorg_depth=20)  # a batch of 2 blocks
        blocks = make_chain(1, 23)
        lowest = "SELECT MIN(block_height) FROM collection_blocks"
        for block in blocks:
            await store.commit([block], [], writes=[put(block, "k", str(block.height))],
                               retention=keep)
            if block.height == 21:  # block 1 is due alone: it waits for the next
                assert await backend.fetchval(lowest) == 1
                at_1 = await store.get_many("m", "c", ["k"], at_height=1)
                assert at_1.result == {"k": "1"}
        assert await backend.fetchval(lowest) == 3  # 1-2 left at 22, 3 waits
        assert (await store.meta())["collections_settled_through"] == "2"
        assert await backend.fetchval("SELECT value FROM collection_values") == "2"
        assert (await store.get_many("m", "c", ["k"])).result == {"k": "23"}
        with pytest.raises(HistoryPrunedError, match="above height 2"):
            await store.get_many("m", "c", ["k"], at_height=1)

    async def test_scan_and_count_merge_the_window_over_the_base(
        self, store: EventStore
    ) -> None:
        blocks = make_chain(1, 14)
        keep = Retention(max_reorg_depth=4)
        history: dict[int, dict[str, str]] = {0: {}}
        for block in blocks:
            history |= await commit_random_writes(
                store, [block], seed=100 + block.height, start=history[block.height - 1],
                retention=keep,
            )
            want = sorted(history[block.height].items())
            for limit in (1, 2, 5, 1000):
                pages: list[list[tuple[str, str]]] = []
                after = None
                while not pages or len(pages[-1]) == limit:
                    read = await store.scan("m", "c", after=after, limit=limit)
                    assert read.tip == block
                    pages.append(read.result)
                    after = pages[-1][-1][0] if pages[-1] else None
                assert [item for page in pages for item in page] == want, (block, limit)
            assert (await store.count("m", "c")).result == len(want), block
        # A key only in the window, a key of the base the window deletes, another model.
        tip = make_chain(15, 1, prev_hash=blocks[-1].hash)[0]
        state = history[14]
        gone = next(iter(state))
        await store.commit([tip], [], writes=[
            put(tip, "zz-new", "1"), put(tip, gone, None),
            put(tip, "zz-new", "2", collection="other"),
        ])
        want = sorted({**state, "zz-new": "1"}.items())
        want.remove((gone, state[gone]))
        assert (await store.scan("m", "c", limit=1000)).result == want
        assert (await store.scan("m", "c", after=want[-2][0])).result == [("zz-new", "1")]
        assert (await store.count("m", "c")).result == len(want)
        assert (await store.count("m", "other")).result == 1

    async def test_snapshot_retention(self, backend: StoreBackend, store: EventStore) -> None:
        blocks = make_chain(1, 12)
        keep = Retention(max_reorg_depth=3, snapshots=2)
        for block in blocks[:10]:
            await store.commit(
                [block], [], [snapshot("a", block, {"h": block.height})], retention=keep
            )
        await store.commit([], [], [snapshot("b", blocks[1], {}), snapshot("b", blocks[3], {})])

        async def heights(model: str) -> list[int]:
            found = []
            for height in range(1, 13):
                snap = await store.latest_snapshot(model, height)
                if snap is not None and snap.block_height == height:
                    found.append(height)
            return found

        # Above 10 - 3, the newest at or below 7, the newest two.
        assert await heights("a") == [7, 8, 9, 10]
        assert await heights("b") == [2, 4]
        sparse = Retention(max_reorg_depth=3, snapshots=1)
        await store.commit(blocks[10:], [], [snapshot("a", blocks[11], {})], retention=sparse)
        assert await heights("a") == [9, 10, 12]
        assert await heights("b") == [2, 4]  # only the snapshotted models are pruned
        await store.commit([], [], [snapshot("b", blocks[5], {})], retention=sparse)
        assert await heights("b") == [6]
        assert await backend.fetchval("SELECT COUNT(*) FROM snapshots") == 4

    async def test_model_versions(self, backend: StoreBackend, store: EventStore) -> None:
        await store.register_models(["balances"])
        assert await store.model_versions() == {"balances": None}
        await store.set_model_versions({"balances": "2", "utxos": "1"})
        await store.register_models(["utxos", "chain"])
        await store.set_model_versions({})
        assert await store.model_versions() == {"balances": "2", "utxos": "1", "chain": None}
        assert await store.known_models() == {"balances", "utxos", "chain"}
        await store.set_model_versions({"balances": "3"})
        async with await open_store_at(backend, writer=False) as reader:
            assert (await reader.model_versions())["balances"] == "3"
            with pytest.raises(StoreReadOnlyError):
                await reader.set_model_versions({"balances": "4"})

    async def test_clear_model_removes_one_models_data_only(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        blocks = make_chain(1, 6)
        await store.set_model_versions({"a": "1", "b": "1"})
        await store.commit(blocks[:4], make_events(blocks[:4], ["a", "b"]),
                           [snapshot("a", blocks[3], {}), snapshot("b", blocks[3], {})],
                           [put(blocks[0], "k", "1", model="a"), put(blocks[0], "k", "2", "b")])
        await store.rollback(2)  # rolled-back events of both models
        await store.commit(make_chain(3, 2, "c", blocks[1].hash), [],
                           writes=[put(make_chain(3, 1, "c", blocks[1].hash)[0], "j", "3", "a")])
        b_before = await store.read_events(EventQuery(model="b", include_rolled_back=True))
        await store.clear_model("a")
        assert await store.read_events(EventQuery(model="a", include_rolled_back=True)) == []
        assert await store.read_events(EventQuery(model="b", include_rolled_back=True)) == b_before
        assert await store.latest_snapshot("a") is None
        assert (await store.count("a", "c")).result == 0
        assert (await store.get_many("b", "c", ["k"])).result == {"k": "2"}
        assert await backend.fetchval(
            "SELECT COUNT(*) FROM collection_recent WHERE model = 'a'") == 0
        assert await backend.fetchval(
            "SELECT COUNT(*) FROM collection_values WHERE model = 'a'") == 0
        assert await store.model_versions() == {"a": "1", "b": "1"}
        assert (await store.tip() or pytest.fail("no tip")).height == 4
        async with await open_store_at(backend, writer=False) as reader:
            with pytest.raises(StoreReadOnlyError):
                await reader.clear_model("b")

    async def test_commit_reindexed_appends_a_models_events_to_stored_blocks(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        blocks = make_chain(1, 5)
        await store.commit(blocks, make_events(blocks, ["b"], per_block=1),
                           [snapshot("a", blocks[1], {"old": 1}), snapshot("a", blocks[2], {})])
        late = [e for e in make_events(blocks, ["a"], per_block=1) if e.block_height != 3]
        result = await store.commit_reindexed(late[:2], [snapshot("a", blocks[1], {"n": 2})])
        assert list(result.positions) == [6, 7]
        # each snapshot replaces the model's older ones (written by other code)
        newest = await store.latest_snapshot("a")
        assert newest is not None and (newest.block_height, newest.state) == (2, '{"n": 2}')
        await store.commit_reindexed(late[2:])
        stored = await store.read_events(EventQuery(model="a"))
        assert [(e.block_height, e.version) for e in stored] == [(1, 1), (2, 2), (4, 3), (5, 4)]
        assert (await store.tip() or pytest.fail("no tip")).height == 5  # no block added
        # replays from a height see every model's events although positions interleave
        from_4 = await store.read_events(EventQuery(from_height=4))
        assert [(e.model, e.block_height) for e in from_4] == [("b", 4), ("b", 5), ("a", 4),
                                                               ("a", 5)]
        with pytest.raises(StoreConflictError, match="continue its stream"):
            await store.commit_reindexed(late[:1])
        off_chain = dataclasses.replace(late[0], block_hash=block_hash("x", 1))
        with pytest.raises(StoreConflictError, match="canonical block there"):
            await store.commit_reindexed([dataclasses.replace(off_chain, model="c")])
        # a rollback takes the re-indexed events with the others
        reorg = await store.rollback(3)
        assert reorg.rolled_back_events == 4
        rolled = await store.read_events(EventQuery(reorg_id=reorg.id))
        assert sorted((e.model, e.block_height) for e in rolled) == [
            ("a", 4), ("a", 5), ("b", 4), ("b", 5)]
        assert [e.block_height for e in await store.read_events(EventQuery(model="a"))] == [1, 2]

    async def test_commit_reindexed_applies_collection_writes_in_the_window(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        blocks = make_chain(1, 6)
        await store.commit(blocks, make_events(blocks, ["b"], per_block=1))
        await store.commit_reindexed([], [], [put(blocks[1], "k", "1", "a"),
                                              put(blocks[4], "k", "2", "a")])
        await store.commit_reindexed([], [], [put(blocks[5], "j", "3", "a"),
                                              put(blocks[5], "k", "4", "a")],
                                     retention=Retention(2, 1))
        assert (await store.get_many("a", "c", ["k", "j"])).result == {"k": "4", "j": "3"}
        # writes below the window (tip 6 - depth 2) are settled; a rollback drops the rest
        assert await backend.fetchval("SELECT COUNT(*) FROM collection_recent") == 3
        await store.rollback(4)
        assert (await store.get_many("a", "c", ["k", "j"])).result == {"k": "1"}
        with pytest.raises(StoreConflictError, match="canonical block there"):
            await store.commit_reindexed([], [], [put(blocks[4], "k", "5", "a")])
        with pytest.raises(StoreConflictError, match="two writes of key 'k'"):
            await store.commit_reindexed([], [], [put(blocks[2], "k", "5", "a"),
                                                  put(blocks[2], "k", "6", "a")])
        assert (await store.get_many("a", "c", ["k"])).result == {"k": "1"}

    async def test_collection_reads_match_the_tip_they_report(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        blocks = make_chain(1, 40)
        await store.commit(blocks[:1], [], writes=[put(blocks[0], "height", "1")])

        async def crawl() -> None:
            for block in blocks[1:]:
                await store.commit([block], make_events([block], per_block=50), writes=[
                    put(block, "height", str(block.height)), put(block, f"n{block.height}", "1"),
                ])

        async with await open_store_at(backend, writer=False) as reader:
            writer = asyncio.create_task(crawl())
            try:
                while not writer.done():
                    read = await reader.get_many("m", "c", ["height"])
                    counted = await reader.count("m", "c")
                    assert read.tip is not None and counted.tip is not None
                    assert read.result == {"height": str(read.tip.height)}
                    assert counted.result == counted.tip.height
            finally:
                if not writer.done():
                    writer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await writer
            await writer
        assert (await store.count("m", "c")).result == 40

    # -- mempool events ------------------------------------------------------------------

    async def test_mempool_events_have_their_own_log(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        blocks = make_chain(1, 2)
        await store.commit(blocks, make_events(blocks))
        first = await store.append_mempool_events(
            [mempool_event("aa"), mempool_event("bb", model="other")]
        )
        second = await store.append_mempool_events([mempool_event("aa", kind="Replaced")])
        assert (list(first.positions), list(second.positions)) == ([1, 2], [3])
        assert await store.max_mempool_position() == 3
        assert await store.max_position() == 4  # block events' positions are their own
        assert len(await store.read_events()) == 4
        async with await open_store_at(backend, writer=False) as reader:
            stored = await reader.read_mempool_events()
            assert [(e.position, e.model, e.event_type, e.txid) for e in stored] == [
                (1, "pending", "Seen", "aa"), (2, "other", "Seen", "bb"),
                (3, "pending", "Replaced", "aa"),
            ]
            assert stored[0].payload == mempool_event("aa").payload  # the text as written
            assert stored[0].block_height is None and stored[0].block_hash is None
            assert stored[0].created_at.tzinfo is not None

            async def positions(**query: Any) -> list[int]:
                events = await reader.read_mempool_events(MempoolEventQuery(**query))
                return [e.position for e in events]

            assert await positions(after=1) == [2, 3]
            assert await positions(model="pending") == [1, 3]
            assert await positions(txid="aa", after=1) == [3]
            assert await positions(limit=2) == [1, 2]
            assert await positions(after=3) == []
            with pytest.raises(StoreReadOnlyError):
                await reader.append_mempool_events([mempool_event("cc")])

    async def test_mempool_events_commit_with_their_block_and_survive_a_rollback(
        self, store: EventStore
    ) -> None:
        blocks = make_chain(1, 3)
        await store.commit(blocks[:1], [])
        confirmed = [mempool_event("aa", block=blocks[1]), mempool_event("bb", block=blocks[2])]
        with pytest.raises(StoreConflictError, match="not in the commit"):
            await store.commit(blocks[1:2], make_events(blocks[1:2]), mempool_events=confirmed)
        assert await store.tip() == blocks[0]  # nothing of the failed commit was written
        assert await store.read_mempool_events() == []
        with pytest.raises(StoreConflictError, match="not in the commit"):
            await store.append_mempool_events([confirmed[0]])  # names a block: only in commit
        result = await store.commit(blocks[1:], make_events(blocks[1:]), mempool_events=confirmed)
        assert list(result.positions) == [1, 2, 3, 4]  # the block events' positions
        stored = await store.read_mempool_events()
        assert [(e.position, e.txid, e.block_height, e.block_hash) for e in stored] == [
            (1, "aa", 2, blocks[1].hash), (2, "bb", 3, blocks[2].hash),
        ]
        await store.rollback(1)  # mempool events are not part of the chain's log
        assert await store.read_mempool_events() == stored

    async def test_mempool_retention_prunes_old_events_and_keeps_the_newest(
        self, store: EventStore
    ) -> None:
        await store.append_mempool_events([mempool_event("aa"), mempool_event("bb")])
        kept = await store.append_mempool_events([mempool_event("cc"), mempool_event("dd")],
                                                 retention=timedelta(0))
        assert [e.txid for e in await store.read_mempool_events()] == ["cc", "dd"]
        await store.append_mempool_events([], retention=timedelta(0))
        assert [e.position for e in await store.read_mempool_events()] == [kept.last_position]
        await store.append_mempool_events([mempool_event("ee")], retention=timedelta(days=1))
        assert [e.position for e in await store.read_mempool_events()] == [4, 5]
        # A block commit prunes by the same setting, in its own transaction.
        blocks = make_chain(1, 1)
        await store.commit(blocks, [], retention=Retention(6, mempool_events=timedelta(0)),
                           mempool_events=[mempool_event("ff", block=blocks[0])])
        assert [(e.position, e.txid) for e in await store.read_mempool_events()] == [(6, "ff")]
        await store.append_mempool_events([mempool_event("gg")], retention=timedelta(0))
        assert [e.position for e in await store.read_mempool_events()] == [7]

    async def test_writes_from_several_tasks_at_once(self, store: EventStore) -> None:
        # The crawler commits blocks while the mempool feed appends, on one store object.
        blocks = make_chain(1, 3)
        await asyncio.gather(
            store.commit(blocks, make_events(blocks)),
            *(store.append_mempool_events([mempool_event(f"{i:02x}")]) for i in range(5)),
        )
        assert await store.tip() == blocks[-1]
        assert sorted(e.position for e in await store.read_mempool_events()) == [1, 2, 3, 4, 5]

    async def test_mempool_failures_are_recorded_for_other_processes(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        assert await store.mempool_failures() == []
        await store.set_mempool_failure("pending", "KeyError: 'x'")
        await store.set_mempool_failure("broken", "ValueError: bad")
        await store.set_mempool_failure("pending", "KeyError: 'y'")
        async with await open_store_at(backend, writer=False) as reader:
            failures = await reader.mempool_failures()
            assert [(f.model, f.error) for f in failures] == [
                ("broken", "ValueError: bad"), ("pending", "KeyError: 'y'"),
            ]
            with pytest.raises(StoreReadOnlyError):
                await reader.set_mempool_failure("pending", None)
        await store.set_mempool_failure("pending", None)
        assert [f.model for f in await store.mempool_failures()] == ["broken"]

    async def test_a_reader_wakes_after_mempool_events_are_appended(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        async with await open_store_at(backend, writer=False) as reader:
            changes = reader.changes(poll_interval=0.02)
            try:
                await asyncio.wait_for(anext(changes), 30)
                woken = asyncio.ensure_future(anext(changes))
                await store.append_mempool_events([mempool_event("aa")])
                await asyncio.wait_for(woken, 30)
                assert await reader.max_mempool_position() == 1
            finally:
                await changes.aclose()

    # -- snapshots, checkpoints, models ------------------------------------------------

    async def test_payload_and_snapshot_text_round_trips_exactly(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        blocks = make_chain(1, 2)
        texts = [
            json.dumps({"zeta": 1, "alpha": {"yy": [3, 1], "b": {"z": None, "aa": True}}, "m": 2}),
            json.dumps({"b": 1, "a": "\u20bf ü", "ab": 2.5}, separators=(",", ":")),
            '{"spaced" :  1 ,"a":[ ]}',
        ]
        events = [PendingEvent("m", "T", 1, text, 1, blocks[0].hash) for text in texts]
        events.append(PendingEvent("m", "T", 1, texts[0], 2, blocks[1].hash))
        state = json.dumps({"zz": {"k2": 0, "k1": [{"y": 1, "x": 2}]}, "aa": 1})
        await store.commit(blocks, events, [PendingSnapshot("m", 2, blocks[1].hash, state)])
        await store.rollback(1)
        everything = await store.read_events(EventQuery(include_rolled_back=True))
        assert [e.payload for e in everything] == [*texts, texts[0]]
        snap = await store.latest_snapshot("m")
        assert snap is None
        await store.commit([], [], [PendingSnapshot("m", 1, blocks[0].hash, state)])
        async with await open_store_at(backend, writer=False) as reader:
            assert [e.payload for e in await reader.read_events()] == texts
            snap = await reader.latest_snapshot("m")
            assert snap is not None and snap.state == state

    async def test_known_models(self, backend: StoreBackend, store: EventStore) -> None:
        assert await store.known_models() == set()
        await store.register_models(["balances", "deposits"])
        await store.register_models(["deposits", "chain", "chain"])
        await store.register_models([])
        assert await store.known_models() == {"balances", "deposits", "chain"}
        async with await open_store_at(backend, writer=False) as reader:
            assert await reader.known_models() == {"balances", "deposits", "chain"}
            with pytest.raises(StoreReadOnlyError):
                await reader.register_models(["other"])
        await store.close()
        async with await open_store_at(backend) as reopened:
            assert await reopened.known_models() == {"balances", "deposits", "chain"}


    async def test_latest_snapshot_at_or_below_height(self, store: EventStore) -> None:
        blocks = make_chain(1, 6)
        snaps = [snapshot("a", blocks[h - 1], {"h": h}) for h in (2, 4, 6)]
        await store.commit(blocks, [], [*snaps, snapshot("b", blocks[2], {"b": 3})])

        async def height(model: str, max_height: int | None = None) -> int | None:
            snap = await store.latest_snapshot(model, max_height)
            return None if snap is None else snap.block_height

        assert await height("a") == 6
        assert await height("a", 5) == 4
        assert await height("a", 4) == 4
        assert await height("a", 1) is None
        assert await height("b") == 3
        assert await height("nobody") is None
        latest = await store.latest_snapshot("a")
        assert latest is not None and json.loads(latest.state) == {"h": 6}
        assert latest.block_hash == blocks[5].hash
        # A snapshot-only commit (e.g. on shutdown) for a stored block replaces that height.
        await store.commit([], [], [snapshot("a", blocks[5], {"h": 6, "again": True})])
        latest = await store.latest_snapshot("a")
        assert latest is not None and json.loads(latest.state) == {"h": 6, "again": True}

    async def test_checkpoints(self, backend: StoreBackend, store: EventStore) -> None:
        assert await store.get_checkpoint("ws") is None
        await store.set_checkpoint("ws", 10)
        await store.set_checkpoint("ws", 25)
        await store.set_checkpoint("http", 3)
        assert await store.get_checkpoint("ws") == 25
        assert await store.get_checkpoint("http") == 3
        reader = await open_store_at(backend, writer=False)
        try:
            await reader.set_checkpoint("reader", 7)
            assert await reader.get_checkpoint("ws") == 25
        finally:
            await reader.close()
        assert await store.get_checkpoint("reader") == 7

    # -- guards -------------------------------------------------------------------------

    async def test_refuses_another_network(self, backend: StoreBackend, store: EventStore) -> None:
        await store.commit(make_chain(1, 1), [])
        await store.close()
        with pytest.raises(StoreNetworkMismatchError) as info:
            await open_store_at(backend, network="mainnet", genesis="00" * 32)
        assert "regtest" in str(info.value) and "mainnet" in str(info.value)
        with pytest.raises(StoreNetworkMismatchError):
            await open_store_at(backend, genesis="11" * 32)
        with pytest.raises(StoreNetworkMismatchError):
            await open_store_at(backend, genesis="11" * 32, writer=False)
        reopened = await open_store_at(backend)
        await reopened.close()

    async def test_an_empty_store_is_restamped_by_the_writer(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        await store.set_checkpoint("ws", 1)  # a checkpoint is not chain data
        await store.close()
        with pytest.raises(StoreNetworkMismatchError):
            await open_store_at(backend, network="mainnet", genesis="00" * 32, writer=False)
        async with await open_store_at(backend, network="mainnet", genesis="00" * 32) as stamped:
            meta = await stamped.meta()
            assert (meta["network"], meta["genesis_hash"]) == ("mainnet", "00" * 32)
            await stamped.commit(make_chain(1, 1), [])
        with pytest.raises(StoreNetworkMismatchError):
            await open_store_at(backend)
        async with await open_store_at(
            backend, network="mainnet", genesis="00" * 32, writer=False
        ) as reader:
            assert (await reader.meta())["network"] == "mainnet"

    async def test_reader_creates_nothing(self, backend: StoreBackend) -> None:
        for create_schema in (True, False):
            with pytest.raises(SchemaMissingError, match="no chaincrawler store"):
                await open_store_at(backend, writer=False, create_schema=create_schema)
        assert not await backend.location_exists()

    async def test_refuses_another_applications_data(self, backend: StoreBackend) -> None:
        await backend.make_foreign()
        try:
            for writer in (True, False):
                with pytest.raises(NotAStoreError, match="other_app"):
                    await open_store_at(backend, writer=writer)
            with pytest.raises(NotAStoreError):
                await backend.new_store().destroy()
            assert await backend.fetchval("SELECT COUNT(*) FROM other_app") == 1
            for table in ("meta", "events"):
                with pytest.raises(Exception):  # noqa: B017 -- the driver's "no such table"
                    await backend.fetchval(f"SELECT COUNT(*) FROM {table}")
        finally:
            await backend.execute("DROP TABLE other_app")

    async def test_refuses_a_newer_schema(self, backend: StoreBackend, store: EventStore) -> None:
        await store.close()
        await backend.execute(
            f"UPDATE meta SET value = '{SCHEMA_VERSION + 1}' WHERE key = 'schema_version'"
        )
        for writer in (True, False):
            with pytest.raises(SchemaVersionError, match="newer"):
                await open_store_at(backend, writer=writer)

    async def test_a_failed_migration_changes_nothing(
        self, backend: StoreBackend, store: EventStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        blocks = make_chain(1, 2)
        await store.commit(blocks, make_events(blocks))
        await store.close()
        monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
        broken = schema.Migration(
            both=["CREATE TABLE migration_probe (id INTEGER)", "UPDATE no_such_table SET x = 1"]
        )
        monkeypatch.setattr(schema, "MIGRATIONS", {SCHEMA_VERSION: broken})
        with pytest.raises(EventStoreError):
            await open_store_at(backend)
        assert await backend.fetchval(
            "SELECT value FROM meta WHERE key = 'schema_version'"
        ) == str(SCHEMA_VERSION)
        with pytest.raises(Exception):  # noqa: B017 -- the driver's "no such table"
            await backend.fetchval("SELECT COUNT(*) FROM migration_probe")

    async def test_migrates_an_older_schema(
        self, backend: StoreBackend, store: EventStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        blocks = make_chain(1, 2)
        await store.commit(blocks, make_events(blocks))
        await store.close()
        monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
        monkeypatch.setattr(
            schema, "MIGRATIONS",
            {SCHEMA_VERSION: schema.Migration(both=["CREATE TABLE migration_probe (id INTEGER)"])},
        )
        with pytest.raises(SchemaVersionError, match="older"):
            await open_store_at(backend, writer=False)
        with pytest.raises(SchemaVersionError, match=r"older.*create_schema=True"):
            await open_store_at(backend, create_schema=False)
        migrated = await open_store_at(backend)
        try:
            assert (await migrated.meta())["schema_version"] == str(SCHEMA_VERSION + 1)
            assert await migrated.tip() == blocks[-1]
        finally:
            await migrated.close()
        assert await backend.fetchval("SELECT COUNT(*) FROM migration_probe") == 0

    async def test_schema_creation_can_be_switched_off(self, backend: StoreBackend) -> None:
        with pytest.raises(SchemaMissingError):
            await open_store_at(backend, create_schema=False)
        with pytest.raises(SchemaMissingError):
            await open_store_at(backend, create_schema=False, writer=False)
        store = await open_store_at(backend)
        await store.close()
        store = await open_store_at(backend, create_schema=False)
        assert await store.tip() is None
        await store.close()

    async def test_one_writer_any_number_of_readers(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        reader = await open_store_at(backend, writer=False)
        other_reader = await open_store_at(backend, writer=False)
        try:
            with pytest.raises(StoreLockedError, match="another chaincrawler process is writing"):
                await open_store_at(backend)
            assert store.is_writer and not reader.is_writer
            blocks = make_chain(1, 2)
            await store.commit(blocks, make_events(blocks))
            assert await reader.tip() == blocks[-1]
            assert len(await other_reader.read_events()) == 4
            with pytest.raises(StoreReadOnlyError):
                await reader.commit(make_chain(3, 1, prev_hash=blocks[-1].hash), [])
            with pytest.raises(StoreReadOnlyError):
                await reader.rollback(1)
            await store.close()
            successor = await open_store_at(backend)
            await successor.close()
        finally:
            await reader.close()
            await other_reader.close()

    async def test_readers_never_see_a_partial_commit(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        first = make_chain(1, 1)
        await store.commit(first, make_events(first))
        blocks = make_chain(2, 20, prev_hash=first[0].hash)
        events = make_events(blocks, models=("a", "b"), per_block=300)
        reader = await open_store_at(backend, writer=False)
        try:
            commit = asyncio.create_task(store.commit(blocks, events))
            tips, counts, positions = set(), set(), set()
            while not commit.done():
                tip = await reader.tip()
                tips.add(None if tip is None else tip.height)
                counts.add(len(await reader.read_events(EventQuery(from_position=3))))
                positions.add(await reader.max_position())
            await commit
            assert tips <= {1, 21}
            assert counts <= {0, len(events)}
            assert positions <= {2, 2 + len(events)}
            assert len(await reader.read_events()) == 2 + len(events)
        finally:
            await reader.close()

    # -- following, removing ----------------------------------------------------------

    async def test_a_reader_wakes_after_the_writers_commit_and_rollback(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        async with await open_store_at(backend, writer=False) as reader:
            changes = reader.changes(poll_interval=0.02)
            try:
                await asyncio.wait_for(anext(changes), 30)  # at once: "look now"
                blocks = make_chain(1, 3)
                for write in (
                    lambda: store.commit(blocks[:2], make_events(blocks[:2])),
                    lambda: store.commit(blocks[2:], []),
                    lambda: store.rollback(1),
                ):
                    woken = asyncio.ensure_future(anext(changes))
                    await write()
                    await asyncio.wait_for(woken, 30)
                tip = await reader.tip()
                assert tip is not None and tip.height == 1
            finally:
                await changes.aclose()

    async def test_destroy_removes_the_store(
        self, backend: StoreBackend, store: EventStore
    ) -> None:
        blocks = make_chain(1, 3)
        await store.commit(blocks, make_events(blocks), [snapshot("m", blocks[2], {"x": 1})])
        await store.register_models(["m"])
        reader = await open_store_at(backend, writer=False)
        try:
            with pytest.raises(StoreReadOnlyError):
                await reader.destroy()
        finally:
            await reader.close()
        with pytest.raises(StoreLockedError):
            await backend.new_store().destroy()
        assert await store.tip() == blocks[-1]
        removed = await store.destroy()
        assert removed != "nothing"
        assert not store.is_open
        assert not await backend.location_exists()
        assert await backend.new_store().destroy() == "nothing"
        async with await open_store_at(backend) as fresh:
            assert await fresh.tip() is None
            assert await fresh.read_events() == []
            assert await fresh.known_models() == set()
        assert await backend.new_store().destroy() != "nothing"
        assert not await backend.location_exists()

    async def test_closed_store_refuses_calls(self, backend: StoreBackend) -> None:
        store = backend.new_store()
        with pytest.raises(StoreClosedError):
            await store.tip()
        await store.open(network=NETWORK, genesis_hash=GENESIS)
        await store.close()
        await store.close()
        with pytest.raises(StoreClosedError):
            await store.commit(make_chain(1, 1), [])

    async def test_reopen_keeps_everything(self, backend: StoreBackend, store: EventStore) -> None:
        blocks = make_chain(1, 5)
        await store.commit(blocks, make_events(blocks), [snapshot("m", blocks[2], {"x": 1})])
        reorg = await store.rollback(3)
        branch = make_chain(4, 1, branch="b", prev_hash=blocks[2].hash)
        await store.commit(branch, make_events(branch))
        await store.set_checkpoint("ws", 4)
        before = (
            await store.read_events(EventQuery(include_rolled_back=True)),
            await store.chain_window(10),
            await store.orphaned_blocks(),
            await store.latest_snapshot("m"),
            await store.meta(),
        )
        await store.close()
        async with await open_store_at(backend, writer=False) as reopened:
            after = (
                await reopened.read_events(EventQuery(include_rolled_back=True)),
                await reopened.chain_window(10),
                await reopened.orphaned_blocks(),
                await reopened.latest_snapshot("m"),
                await reopened.meta(),
            )
            assert await reopened.reorgs() == [reorg]
            assert await reopened.get_checkpoint("ws") == 4
        assert after == before
        assert not reopened.is_open
