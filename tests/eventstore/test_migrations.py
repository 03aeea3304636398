"""Stores written by older schema versions (tests/data/stores) open, migrate and crawl on.

Crawling on includes what the newer versions add: stored collections, model versions
(2), mempool events and mempool model failures (3). A version-1 store is migrated all
the way, through every step. A version-3 store made by a crawl with a reorg window
(undo records of the window only) keeps its collections at every height of the window
through the change to the window overlay (4): reads at a height, a rollback inside the
window, and refusals below it; so does a version-4 store (the same crawl kept as that
overlay) through the change to blocks named by sequence numbers (5), and a version-5
store through the change to uncompressed snapshots on PostgreSQL (6), each column then
stored as a fresh store stores it.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from chaincrawler.eventstore import (
    SCHEMA_VERSION,
    BlockRecord,
    CollectionWrite,
    EventQuery,
    EventStore,
    HistoryPrunedError,
    MempoolEventQuery,
    PendingEvent,
    PendingMempoolEvent,
    PendingSnapshot,
    PostgresEventStore,
    Retention,
    SchemaVersionError,
    SQLiteEventStore,
)
from chaincrawler.testing.storesuite import GENESIS, NETWORK

DATA = Path(__file__).parents[1] / "data" / "stores"
EXPECTED = {v: json.loads((DATA / f"expected-v{v}.json").read_text()) for v in (1, 2, 3, 4, 5)}
V1_MODELS = {"deposits", "balances", "quiet"}


async def answers(store: EventStore, version: int) -> dict[str, Any]:
    """What ``make_v<version>.py`` recorded, asked of ``store`` (same shape)."""
    snaps = {}
    for model in sorted(V1_MODELS):
        snap = await store.latest_snapshot(model)
        assert snap is not None
        snaps[model] = [snap.block_height, snap.block_hash, snap.state]
    tip = await store.tip()
    assert tip is not None
    facts = {
        "tip": [tip.height, tip.hash],
        "chain": [[b.height, b.hash, b.prev_hash, b.time] for b in await store.chain_window(100)],
        "orphaned": [[b.height, b.hash, b.reorg_id] for b in await store.orphaned_blocks()],
        "events": [
            [e.position, e.model, e.version, e.event_type, e.event_version, e.payload,
             e.block_height, e.block_hash, str(e.status), e.reorg_id]
            for e in await store.read_events(EventQuery(include_rolled_back=True))
        ],
        "snapshots": snaps,
        "reorgs": [
            [r.id, r.fork_height, r.fork_hash, r.old_tip_height, r.old_tip_hash,
             r.new_tip_hash, r.depth, r.rolled_back_events]
            for r in await store.reorgs()
        ],
        "checkpoints": {"ws": await store.get_checkpoint("ws")},
        "meta": {k: v for k, v in (await store.meta()).items() if k != "created_at"},
    }
    if version == 1:
        return facts
    return {
        **facts,
        "collections": {
            f"{model}/{collection}": [
                list(pair) for pair in (await store.scan(model, collection)).result
            ]
            for model, collection in (("deposits", "seen"), ("balances", "by_addr"))
        },
        "at_height_5": (await store.get_many(
            "deposits", "seen", ["k4", "k5", "shared"], at_height=5)).result,
        "model_versions": await store.model_versions(),
    }


def expected(backend: str, version: int) -> dict[str, Any]:
    facts = {key.split(".", 1)[1]: value for key, value in EXPECTED[version].items()
             if key.startswith(backend + ".")}
    facts["meta"] = {**facts["meta"], "schema_version": str(SCHEMA_VERSION)}
    return facts


async def check_migration(store: EventStore, backend: str, version: int = 1) -> None:
    """``store`` holds a store of schema ``version``: refused unmigrated, then migrated
    with the same answers, then it crawls on."""
    with pytest.raises(SchemaVersionError, match="older"):
        await store.open(network=NETWORK, genesis_hash=GENESIS, writer=False)
    with pytest.raises(SchemaVersionError, match="create_schema=True"):
        await store.open(network=NETWORK, genesis_hash=GENESIS, create_schema=False)
    await store.open(network=NETWORK, genesis_hash=GENESIS)
    try:
        want = expected(backend, version)
        got = await answers(store, version)
        for key in want:
            assert got[key] == want[key], key
        assert await store.known_models() == V1_MODELS
        assert await store.read_mempool_events() == []
        assert await store.mempool_failures() == []
        # It crawls on: a block with an event (keys unsorted) and a snapshot, then a reorg.
        tip = await store.tip()
        assert tip is not None
        block = BlockRecord(tip.height + 1, "ab" * 32, tip.hash, 1_700_000_000)
        payload = '{"z": 1, "a": {"y": 2, "b": 3}}'
        value = '{"z": 1, "a": 2}'
        result = await store.commit(
            [block], [PendingEvent("deposits", "Seen", 1, payload, block.height, block.hash)],
            [PendingSnapshot("quiet", block.height, block.hash, '{"b": 1, "a": 2}')],
            [CollectionWrite("deposits", "seen", "k", value, block.height, block.hash)],
        )
        assert (await store.get_many("deposits", "seen", ["k"])).result == {"k": value}
        seen_before = len(want.get("collections", {}).get("deposits/seen", []))
        assert (await store.count("deposits", "seen")).result == seen_before + 1
        assert result.first_position == len(want["events"]) + 1
        (event,) = await store.read_events(EventQuery(from_position=result.first_position))
        assert (event.payload, event.version) == (payload, 8)
        await store.register_models(["newcomer"])
        assert await store.known_models() == {*V1_MODELS, "newcomer"}
        recorded = want.get("model_versions", dict.fromkeys(V1_MODELS))
        assert await store.model_versions() == {**recorded, "newcomer": None}
        await store.set_model_versions({"deposits": "3"})
        assert (await store.model_versions())["deposits"] == "3"
        # What version 3 adds: mempool events, alone and with a block, and failures.
        mempool = '{"z": "aa", "a": 1}'
        await store.append_mempool_events([PendingMempoolEvent("pending", "Seen", 1, mempool,
                                                               "aa")])
        second = BlockRecord(block.height + 1, "cd" * 32, block.hash, 1_700_000_001)
        await store.commit([second], [], mempool_events=[PendingMempoolEvent(
            "pending", "Confirmed", 1, mempool, "aa", second.height, second.hash)])
        stored = await store.read_mempool_events(MempoolEventQuery(txid="aa"))
        assert [(e.position, e.payload, e.block_height) for e in stored] == [
            (1, mempool, None), (2, mempool, second.height)]
        await store.set_mempool_failure("pending", "KeyError: 'x'")
        assert [f.model for f in await store.mempool_failures()] == ["pending"]
        reorg = await store.rollback(tip.height)
        assert reorg.id == 2 and reorg.rolled_back_events == 1
        assert (await store.count("deposits", "seen")).result == seen_before
        assert await store.max_mempool_position() == 2
    finally:
        await store.close()


async def test_sqlite_v1_store_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(DATA / "sqlite-v1.db", path)
    await check_migration(SQLiteEventStore(path), "sqlite")
    fresh = tmp_path / "fresh.db"
    async with SQLiteEventStore(fresh) as store:
        await store.open(network=NETWORK, genesis_hash=GENESIS)
    assert sqlite_columns(path) == sqlite_columns(fresh)


def sqlite_columns(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        tables = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        )]
        return {
            table: [*conn.execute(f"PRAGMA table_info({table})"),
                    *conn.execute(f"PRAGMA index_list({table})"),
                    *conn.execute(f"PRAGMA table_list({table})")]
            for table in tables
        }
    finally:
        conn.close()


async def test_sqlite_v2_store_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(DATA / "sqlite-v2.db", path)
    await check_migration(SQLiteEventStore(path), "sqlite", 2)
    fresh = tmp_path / "fresh.db"
    async with SQLiteEventStore(fresh) as store:
        await store.open(network=NETWORK, genesis_hash=GENESIS)
    assert sqlite_columns(path) == sqlite_columns(fresh)


@pytest.mark.parametrize("version", [1, 2])
async def test_postgres_older_store_is_migrated(
    pg_dsn: str, pg_schemas: Callable[[], str], version: int
) -> None:
    schema, fresh = pg_schemas(), pg_schemas()
    dump = (DATA / f"postgres-v{version}.sql").read_text()
    dump = dump.replace(f"cc_v{version}_fixture", schema)
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(dump)
    finally:
        await conn.close()
    await check_migration(PostgresEventStore(pg_dsn, schema=schema), "postgresql", version)
    async with PostgresEventStore(pg_dsn, schema=fresh) as store:
        await store.open(network=NETWORK, genesis_hash=GENESIS)
    assert await postgres_columns(pg_dsn, schema) == await postgres_columns(pg_dsn, fresh)


async def postgres_columns(dsn: str, schema: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT c.table_name, c.column_name, c.data_type, c.is_nullable, "
            "c.ordinal_position, c.collation_name, a.attstorage "
            "FROM information_schema.columns c "
            "JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_schema) || '.' || "
            "quote_ident(c.table_name))::regclass AND a.attname = c.column_name "
            "WHERE c.table_schema = $1 ORDER BY c.table_name, c.ordinal_position", schema,
        )
        return [tuple(row) for row in rows]
    finally:
        await conn.close()


def _make_v3() -> Any:
    """``make_v3.py``: its ``answers`` asks a store what the fixture recorded."""
    spec = importlib.util.spec_from_file_location("make_v3", DATA / "make_v3.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The maker of the fixtures of a crawl with a reorg window: versions 3 and 4 (``make_v4.py``
#: runs its ``main``) hold the same chain and answers.
MAKE = _make_v3()


def expected_window(backend: str, version: int) -> dict[str, Any]:
    facts = {key.split(".", 1)[1]: value for key, value in EXPECTED[version].items()
             if key.startswith(backend + ".")}
    meta = dict(facts["meta"])
    if version == 3:
        meta["collections_settled_through"] = meta.pop("undo_pruned_through")
    facts["meta"] = {**meta, "schema_version": str(SCHEMA_VERSION)}
    return facts


async def check_window_migration(
    new_store: Callable[[], EventStore], backend: str, version: int
) -> None:
    """A version-3, -4 or -5 store (tip 10, window of 3, settled through 7) migrates with
    the same answers at every height of the window, rolls back inside it, refuses below
    it, and crawls on."""
    store = new_store()
    with pytest.raises(SchemaVersionError, match="older"):
        await store.open(network=NETWORK, genesis_hash=GENESIS, writer=False)
    await store.open(network=NETWORK, genesis_hash=GENESIS)
    await store.close()
    want = expected_window(backend, version)
    got = await MAKE.answers(new_store())
    got = json.loads(json.dumps(got))  # tuples as lists, as in the file
    for key in want:
        assert got[key] == want[key], key
    keys = {"deposits/seen": MAKE.SEEN_KEYS, "balances/by_addr": MAKE.ADDR_KEYS}
    store = new_store()
    await store.open(network=NETWORK, genesis_hash=GENESIS)
    try:
        for height in (6, 5):
            with pytest.raises(HistoryPrunedError, match="above height 7"):
                await store.get_many("deposits", "seen", ["shared"], at_height=height)
        with pytest.raises(HistoryPrunedError, match="cannot roll back to height 6"):
            await store.rollback(6)
        reorg = await store.rollback(8)  # inside the window
        assert reorg.rolled_back_events == 4
        for name, names in keys.items():
            model, collection = name.split("/")
            state = want["at_heights"]["8"][name]
            assert (await store.get_many(model, collection, names)).result == state
            assert (await store.scan(model, collection)).result == sorted(state.items())
            assert (await store.count(model, collection)).result == len(state)
            at_7 = await store.get_many(model, collection, names, at_height=7)
            assert at_7.result == want["at_heights"]["7"][name]
        # It crawls on with a window of 3: the migrated window settles as blocks come.
        tip = await store.tip()
        assert tip is not None
        keep = Retention(max_reorg_depth=3)
        for height in range(9, 13):
            block = BlockRecord(height, f"{height:064x}", tip.hash, 1_700_000_000 + height)
            await store.commit(
                [block], [PendingEvent("deposits", "Seen", 1, "{}", height, block.hash)],
                writes=[CollectionWrite("deposits", "seen", "shared", f"{height}", height,
                                        block.hash),
                        CollectionWrite("deposits", "seen", "k1", None, height, block.hash)],
                retention=keep,
            )
            tip = block
        at_9 = {**want["at_heights"]["8"]["deposits/seen"], "shared": "9"}
        del at_9["k1"]
        found = await store.get_many("deposits", "seen", MAKE.SEEN_KEYS, at_height=9)
        assert found.result == at_9
        with pytest.raises(HistoryPrunedError, match="above height 9"):
            await store.get_many("deposits", "seen", ["shared"], at_height=8)
        assert (await store.count("deposits", "seen")).result == len(at_9)
        assert (await store.get_many("deposits", "seen", ["shared"])).result == {
            "shared": "12"}
        assert [e.model for e in await store.read_mempool_events(
            MempoolEventQuery(txid="aa"))] == ["pending", "pending"]
    finally:
        await store.close()


@pytest.mark.parametrize("version", [3, 4, 5])
async def test_sqlite_window_store_is_migrated(tmp_path: Path, version: int) -> None:
    path = tmp_path / "old.db"
    shutil.copy(DATA / f"sqlite-v{version}.db", path)
    await check_window_migration(lambda: SQLiteEventStore(path), "sqlite", version)
    fresh = tmp_path / "fresh.db"
    async with SQLiteEventStore(fresh) as store:
        await store.open(network=NETWORK, genesis_hash=GENESIS)
    assert sqlite_columns(path) == sqlite_columns(fresh)


@pytest.mark.parametrize("version", [3, 4, 5])
async def test_postgres_window_store_is_migrated(
    pg_dsn: str, pg_schemas: Callable[[], str], version: int
) -> None:
    schema, fresh = pg_schemas(), pg_schemas()
    dump = (DATA / f"postgres-v{version}.sql").read_text().replace(
        f"cc_v{version}_fixture", schema)
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(dump)
    finally:
        await conn.close()
    await check_window_migration(
        lambda: PostgresEventStore(pg_dsn, schema=schema), "postgresql", version)
    async with PostgresEventStore(pg_dsn, schema=fresh) as store:
        await store.open(network=NETWORK, genesis_hash=GENESIS)
    assert await postgres_columns(pg_dsn, schema) == await postgres_columns(pg_dsn, fresh)
