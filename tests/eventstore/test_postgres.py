"""The conformance suite on PostgreSQL, plus connection faults and schema sharing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from chaincrawler.eventstore import (
    SCHEMA_VERSION,
    EventStore,
    PostgresEventStore,
    StoreLockedError,
    StoreOperationalError,
    open_store,
    schema,
)
from chaincrawler.eventstore.lock import PG_WRITER_LOCK, pg_lock_key
from chaincrawler.eventstore.postgres import notify_channel
from chaincrawler.testing.storesuite import (
    GENESIS,
    NETWORK,
    EventStoreConformance,
    StoreBackend,
    make_chain,
    make_events,
    snapshot,
)


class PostgresBackend(StoreBackend):
    def __init__(self, dsn: str, schema: str, other_schema: str) -> None:
        self.dsn = dsn
        self.schema = schema
        self.other_schema = other_schema

    def new_store(self) -> EventStore:
        return PostgresEventStore(self.dsn, schema=self.schema, max_pool_size=4)

    def other_store(self) -> EventStore:
        return PostgresEventStore(self.dsn, schema=self.other_schema, max_pool_size=4)

    async def fetchval(self, sql: str) -> Any:
        conn = await asyncpg.connect(self.dsn, server_settings={"search_path": self.schema})
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    async def execute(self, sql: str) -> None:
        await self.fetchval(sql)

    async def location_exists(self) -> bool:
        return bool(await self.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '{self.schema}')"
        ))

    async def make_foreign(self) -> None:
        await self.execute(f'CREATE SCHEMA "{self.schema}"')
        await self.execute("CREATE TABLE other_app (id INTEGER)")
        await self.execute("INSERT INTO other_app VALUES (1)")


class TestPostgresEventStore(EventStoreConformance):
    @pytest.fixture
    def backend(self, pg_dsn: str, pg_schemas: Callable[[], str]) -> StoreBackend:
        return PostgresBackend(pg_dsn, pg_schemas(), pg_schemas())


async def test_connection_killed_mid_commit_stores_nothing(
    pg_dsn: str, pg_schemas: Callable[[], str]
) -> None:
    schema = pg_schemas()
    store = open_store(pg_dsn, schema=schema, max_pool_size=2)
    await store.open(network=NETWORK, genesis_hash=GENESIS)
    holder = await asyncpg.connect(pg_dsn)
    killer = await asyncpg.connect(pg_dsn)
    try:
        first = make_chain(1, 1)
        await store.commit(first, make_events(first))
        blocks = make_chain(2, 50, prev_hash=first[0].hash)
        events = make_events(blocks, models=("a", "b"), per_block=400)
        # Hold the snapshots table: the commit writes blocks and COPYs its 20,000 events,
        # then waits on the snapshot upsert. Kill its connection right there.
        async with holder.transaction():
            await holder.execute(f'LOCK TABLE "{schema}".snapshots IN ACCESS EXCLUSIVE MODE')
            commit = asyncio.create_task(
                store.commit(blocks, events, [snapshot("a", blocks[-1], {"n": 1})])
            )
            pid = None
            while pid is None and not commit.done():
                pid = await killer.fetchval(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'chaincrawler' "
                    "AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO snapshots%'"
                )
                await asyncio.sleep(0.01)
            assert pid is not None, "the commit finished before it could be interrupted"
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
            with pytest.raises(StoreOperationalError, match="PostgreSQL operation failed"):
                await commit
        assert await store.tip() == first[0]
        assert await store.max_position() == 2
        assert await store.canonical_block(2) is None
        assert await store.latest_snapshot("a") is None
        # The store reconnects and the retried batch goes through whole.
        result = await store.commit(blocks, events, [snapshot("a", blocks[-1], {"n": 1})])
        assert list(result.positions) == list(range(3, 3 + len(events)))
        assert await store.tip() == blocks[-1]
    finally:
        await holder.close()
        await killer.close()
        await store.close()


async def test_writer_lock_survives_losing_its_connection(
    pg_dsn: str, pg_schemas: Callable[[], str]
) -> None:
    schema = pg_schemas()
    store = open_store(pg_dsn, schema=schema)
    await store.open(network=NETWORK, genesis_hash=GENESIS)
    admin = await asyncpg.connect(pg_dsn)
    try:
        lock_holder = (
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            f"AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            f"AND classid = {PG_WRITER_LOCK} AND objid::int4 = "
            f"{pg_lock_key(await admin.fetchval('SELECT current_database()'), schema)}"
        )
        pid = await admin.fetchval(lock_holder)
        assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
        await _commits_and_holds_the_lock(store, pg_dsn, schema)
    finally:
        await admin.close()
        await store.close()


async def _commits_and_holds_the_lock(store: EventStore, pg_dsn: str, schema: str) -> None:
    """``store`` commits, and still holds the writer lock: a second writer is refused."""
    blocks = make_chain(1, 2)
    await store.commit(blocks, make_events(blocks))
    assert await store.tip() == blocks[-1]
    with pytest.raises(StoreLockedError, match="another chaincrawler process is writing"):
        await open_store(pg_dsn, schema=schema).open(network=NETWORK, genesis_hash=GENESIS)


class _HalfClosed:
    """A lock connection caught between the server's termination message and the closed
    socket: asyncpg refuses any query with InternalClientError."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def fetchval(self, *_: object) -> object:
        raise asyncpg.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        )

    def terminate(self) -> None:
        self._conn.terminate()


async def test_writer_lock_is_taken_again_after_a_half_closed_connection(
    pg_dsn: str, pg_schemas: Callable[[], str]
) -> None:
    schema = pg_schemas()
    store = open_store(pg_dsn, schema=schema)
    await store.open(network=NETWORK, genesis_hash=GENESIS)
    try:
        assert isinstance(store, PostgresEventStore) and store._lock_conn is not None
        store._lock_conn = _HalfClosed(store._lock_conn)  # type: ignore[assignment]
        await _commits_and_holds_the_lock(store, pg_dsn, schema)
    finally:
        await store.close()


async def test_writers_in_separate_schemas_share_a_server(
    pg_dsn: str, pg_schemas: Callable[[], str]
) -> None:
    first = open_store(pg_dsn, schema=pg_schemas())
    second = open_store(pg_dsn, schema=pg_schemas())
    await first.open(network=NETWORK, genesis_hash=GENESIS)
    try:
        await second.open(network="mainnet", genesis_hash="00" * 32)
        try:
            await first.commit(make_chain(1, 2), [])
            await second.commit(make_chain(7, 1), [])
            tip_one, tip_two = await first.tip(), await second.tip()
            assert tip_one is not None and tip_one.height == 2
            assert tip_two is not None and tip_two.height == 7
        finally:
            await second.close()
    finally:
        await first.close()


async def test_unreachable_server_is_an_operational_error() -> None:
    store = PostgresEventStore(
        "postgresql://postgres:secret@127.0.0.1:1/test", connect_timeout=2
    )
    with pytest.raises(StoreOperationalError) as info:
        await store.open(network=NETWORK, genesis_hash=GENESIS)
    assert "secret" not in str(info.value)
    assert not store.is_open


async def test_readers_poll_where_listen_is_refused(
    pg_dsn: str, pg_schemas: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*_: object) -> None:
        # What a hot standby answers: LISTEN is a write to the notification queue.
        raise asyncpg.exceptions.ReadOnlySQLTransactionError(
            "cannot execute LISTEN during recovery"
        )

    schema = pg_schemas()
    writer = open_store(pg_dsn, schema=schema)
    await writer.open(network=NETWORK, genesis_hash=GENESIS)
    reader = open_store(pg_dsn, schema=schema)
    await reader.open(network=NETWORK, genesis_hash=GENESIS, writer=False)
    monkeypatch.setattr(asyncpg.Connection, "add_listener", refuse)
    changes = reader.changes(poll_interval=0.02)
    try:
        await asyncio.wait_for(anext(changes), 30)
        woken = asyncio.ensure_future(anext(changes))
        await writer.commit(make_chain(1, 1), [])
        await asyncio.wait_for(woken, 30)
        woken = asyncio.ensure_future(anext(changes))
        await writer.commit(make_chain(2, 1, prev_hash=make_chain(1, 1)[0].hash), [])
        await asyncio.wait_for(woken, 30)
    finally:
        await changes.aclose()
        await reader.close()
        await writer.close()


def test_notify_channels_fit_postgres_identifiers() -> None:
    assert notify_channel("chaincrawler") == "chaincrawler.chaincrawler"
    long_a, long_b = "a" * 62 + "b", "a" * 62 + "c"
    assert len(notify_channel(long_a)) <= 63
    assert notify_channel(long_a) != notify_channel(long_b)


async def test_a_migration_is_not_bounded_by_the_statement_timeouts(
    pg_dsn: str, pg_schemas: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    schema_name = pg_schemas()

    def store() -> PostgresEventStore:
        return PostgresEventStore(
            pg_dsn, schema=schema_name, statement_timeout=0.3, command_timeout=0.3
        )

    async with store() as created:
        await created.open(network=NETWORK, genesis_hash=GENESIS)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    slow = schema.Migration(postgresql=["SELECT pg_sleep(1)"])
    monkeypatch.setattr(schema, "MIGRATIONS", {SCHEMA_VERSION: slow})
    async with store() as migrated:
        await migrated.open(network=NETWORK, genesis_hash=GENESIS)
        assert (await migrated.meta())["schema_version"] == str(SCHEMA_VERSION + 1)
