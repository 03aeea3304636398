"""The conformance suite on SQLite, plus what only SQLite has (file lock, in-memory)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from chaincrawler.eventstore import (
    EventStore,
    NotAStoreError,
    SchemaMissingError,
    SQLiteEventStore,
    StoreAccessError,
    StoreLockedError,
)
from chaincrawler.testing.storesuite import (
    GENESIS,
    NETWORK,
    EventStoreConformance,
    StoreBackend,
    make_chain,
    make_events,
)


class SQLiteBackend(StoreBackend):
    def __init__(self, directory: Path) -> None:
        self.path = directory / "store.db"
        self.other_path = directory / "other.db"

    def new_store(self) -> EventStore:
        return SQLiteEventStore(self.path)

    def other_store(self) -> EventStore:
        return SQLiteEventStore(self.other_path)

    def _run(self, sql: str) -> Any:
        conn = sqlite3.connect(self.path, timeout=10)
        try:
            row = conn.execute(sql).fetchone()
            conn.commit()
            return None if row is None else row[0]
        finally:
            conn.close()

    async def execute(self, sql: str) -> None:
        await asyncio.to_thread(self._run, sql)

    async def fetchval(self, sql: str) -> Any:
        return await asyncio.to_thread(self._run, sql)

    async def location_exists(self) -> bool:
        return any(
            self.path.with_name(self.path.name + suffix).exists()
            for suffix in ("", "-wal", "-shm", ".lock")
        )

    async def make_foreign(self) -> None:
        await self.execute("CREATE TABLE other_app (id INTEGER)")
        await self.execute("INSERT INTO other_app VALUES (1)")


class TestSQLiteEventStore(EventStoreConformance):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> StoreBackend:
        return SQLiteBackend(tmp_path)


async def test_missing_file_is_not_created_when_schema_creation_is_off(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    store = SQLiteEventStore(path)
    with pytest.raises(SchemaMissingError, match=r"absent\.db"):
        await store.open(network=NETWORK, genesis_hash=GENESIS, create_schema=False)
    assert not path.exists()


async def test_lock_error_names_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with SQLiteEventStore(path) as writer:
        await writer.open(network=NETWORK, genesis_hash=GENESIS)
        with pytest.raises(StoreLockedError) as info:
            await SQLiteEventStore(path).open(network=NETWORK, genesis_hash=GENESIS)
        assert f"pid {os.getpid()}" in str(info.value)
        assert str(path) in str(info.value)


async def test_store_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with SQLiteEventStore(path) as store:
        await store.open(network=NETWORK, genesis_hash=GENESIS)
        blocks = make_chain(1, 1)
        await store.commit(blocks, make_events(blocks))
        assert (tmp_path / "store.db-wal").exists()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


async def test_page_cache_is_the_size_asked_for(tmp_path: Path) -> None:
    async with SQLiteEventStore(tmp_path / "store.db", cache_mib=8) as store:
        await store.open(network=NETWORK, genesis_hash=GENESIS)
        driver = store._connection().connection.driver_connection
        assert driver is not None
        pages = await store._run(lambda: driver.execute("PRAGMA cache_size").fetchone()[0])
        assert pages == -8 * 1024  # KiB
    with pytest.raises(ValueError, match="cache_mib must be at least 1"):
        SQLiteEventStore(tmp_path / "other.db", cache_mib=0)


async def test_in_memory_store() -> None:
    async with SQLiteEventStore(":memory:") as store:
        await store.open(network=NETWORK, genesis_hash=GENESIS)
        blocks = make_chain(1, 3)
        await store.commit(blocks, make_events(blocks))
        assert len(await store.read_events()) == 6
        assert await store.tip() == blocks[-1]


async def test_missing_directory_is_a_clear_store_error(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "store.db"
    with pytest.raises(StoreAccessError, match="does not exist; create it first"):
        await SQLiteEventStore(path).open(network=NETWORK, genesis_hash=GENESIS)
    assert not (tmp_path / "no").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
async def test_read_only_directory_is_a_clear_store_error(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    async with SQLiteEventStore(directory / "store.db") as store:
        await store.open(network=NETWORK, genesis_hash=GENESIS)
    (directory / "store.db.lock").unlink()
    directory.chmod(0o555)
    try:
        with pytest.raises(StoreAccessError, match="write access"):
            await SQLiteEventStore(directory / "store.db").open(
                network=NETWORK, genesis_hash=GENESIS
            )
    finally:
        directory.chmod(0o755)


async def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database" * 100)
    for writer in (True, False):
        with pytest.raises(NotAStoreError):
            await SQLiteEventStore(path).open(
                network=NETWORK, genesis_hash=GENESIS, writer=writer
            )
    with pytest.raises(NotAStoreError):
        await SQLiteEventStore(path).destroy()
    assert path.read_bytes() == b"these are my notes, not a database" * 100
    assert sorted(tmp_path.iterdir()) == [path]


async def test_destroy_removes_every_file_of_the_store(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    reader_store = SQLiteEventStore(path)
    async with SQLiteEventStore(path) as store:
        await store.open(network=NETWORK, genesis_hash=GENESIS)
        blocks = make_chain(1, 2)
        await store.commit(blocks, make_events(blocks))
        await reader_store.open(network=NETWORK, genesis_hash=GENESIS, writer=False)
        assert (tmp_path / "store.db-wal").exists() and (tmp_path / "store.db.lock").exists()
        removed = await store.destroy()
    await reader_store.close()
    assert removed.split(", ") == [
        str(path), f"{path}-wal", f"{path}-shm", f"{path}.lock",
    ]
    assert list(tmp_path.iterdir()) == []
    assert await SQLiteEventStore(path).destroy() == "nothing"
