"""SQLite backend: one file, WAL, SQLAlchemy Core, run off the event loop.

Every database call runs in one dedicated worker thread that owns the store's
single connection, so the event loop never blocks on disk and SQLite never sees
two threads.

Crash safety: WAL with ``synchronous=FULL`` by default. A commit is durable
once ``commit()`` returns, even across power loss. It costs one fsync per
commit, which is noise when a commit is a batch of blocks during catch-up or
one block every few minutes at the tip. ``synchronous="NORMAL"`` skips that
fsync: still never corrupt and safe against a killed process, but the last
commits may be lost on power failure (the crawler would re-index them, yet
subscribers might already have seen their positions).

The single writer is enforced with an ``flock`` on ``<file>.lock``; readers
(``writer=False``) take no lock and, thanks to WAL, never wait for the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc

from chaincrawler.eventstore import schema, sql
from chaincrawler.eventstore.commit import check_commit, event_rows, snapshot_off_chain
from chaincrawler.eventstore.errors import (
    EventStoreError,
    SchemaMissingError,
    StoreClosedError,
    StoreConflictError,
    StoreOperationalError,
)
from chaincrawler.eventstore.lock import FileLock
from chaincrawler.eventstore.reads import SqlReads
from chaincrawler.eventstore.records import (
    BlockRecord,
    CommitResult,
    PendingEvent,
    PendingSnapshot,
    Reorg,
)

T = TypeVar("T")

MEMORY = ":memory:"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _parse_time(value: Any) -> datetime:
    return datetime.fromisoformat(value)


class SQLiteEventStore(SqlReads):
    """Event store in one SQLite file (``":memory:"`` for a private in-memory store)."""

    _style = "qmark"
    _parse_time = staticmethod(_parse_time)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        busy_timeout: float = 30.0,
    ) -> None:
        """``busy_timeout``: seconds to wait when a checkpoint write meets the writer."""
        super().__init__()
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', not {synchronous!r}")
        self.path = os.fspath(path)
        self._synchronous = synchronous
        self._busy_timeout = busy_timeout
        self._executor: ThreadPoolExecutor | None = None
        self._engine: sa.Engine | None = None
        self._conn: sa.Connection | None = None
        self._lock: FileLock | None = None

    def __repr__(self) -> str:
        return f"SQLiteEventStore({self.path!r})"

    # -- lifecycle --------------------------------------------------------------

    async def open(
        self, *, network: str, genesis_hash: str, writer: bool = True, create_schema: bool = True
    ) -> None:
        if self._opened:
            raise EventStoreError(f"{self!r} is already open")
        in_memory = self.path == MEMORY
        if not create_schema and not in_memory and not os.path.exists(self.path):
            raise SchemaMissingError(
                f"no event store at {self.path} and schema creation is switched off"
            )
        if writer and not in_memory:
            self._lock = FileLock(self.path + ".lock")
            self._lock.acquire(self.path)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chaincrawler-sqlite")
        try:
            await self._run(self._open_sync, network, genesis_hash, writer, create_schema)
        except BaseException:
            await self._shutdown()
            raise
        self._writer = writer
        self._opened = True

    async def close(self) -> None:
        self._opened = False
        await self._shutdown()

    async def _shutdown(self) -> None:
        if self._executor is not None:
            with contextlib.suppress(EventStoreError):
                await self._run(self._close_sync)
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _open_sync(
        self, network: str, genesis_hash: str, writer: bool, create_schema: bool
    ) -> None:
        engine = sa.create_engine(
            f"sqlite:///{self.path}",
            connect_args={"timeout": self._busy_timeout},
            poolclass=sa.pool.StaticPool if self.path == MEMORY else sa.pool.NullPool,
        )
        sa.event.listen(engine, "connect", self._on_connect)
        sa.event.listen(engine, "begin", _on_begin)
        self._engine = engine
        self._conn = engine.connect()
        stored = self._read_meta_sync()
        if stored is None:
            if not create_schema:
                raise SchemaMissingError(
                    f"the database {self.path} has no chaincrawler schema and schema "
                    "creation is switched off"
                )
            with self._write() as conn:
                if _read_meta(conn) is None:
                    for statement in schema.create_statements("sqlite"):
                        conn.exec_driver_sql(statement)
                    conn.exec_driver_sql(
                        sql.INSERT_META,
                        list(schema.new_store_meta(network, genesis_hash, _now()).items()),
                    )
            stored = self._read_meta_sync() or {}
        version = schema.check_meta(
            stored, network=network, genesis_hash=genesis_hash, where=self.path,
            may_migrate=writer and create_schema,
        )
        if version < schema.SCHEMA_VERSION:
            with self._write() as conn:
                for target, statements in schema.migration_statements(version):
                    for statement in statements:
                        conn.exec_driver_sql(statement)
                    conn.exec_driver_sql(sql.SET_META, (str(target), "schema_version"))

    def _on_connect(self, dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # Take transaction control away from pysqlite: we emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute(f"PRAGMA synchronous={self._synchronous}")
        dbapi_conn.execute("PRAGMA cache_size=-65536")

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- plumbing -----------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise StoreClosedError(f"{self!r} is not open; call open() first")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _translated, fn, *args)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """A write transaction (BEGIN IMMEDIATE: takes SQLite's write lock up front)."""
        conn = self._connection()
        conn.info["immediate"] = True
        try:
            with conn.begin():
                yield conn
        finally:
            conn.info["immediate"] = False

    @contextlib.contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        """A read transaction: one consistent snapshot, never waits for the writer."""
        conn = self._connection()
        with conn.begin():
            yield conn

    def _connection(self) -> sa.Connection:
        if self._conn is None:
            raise EventStoreError(f"{self!r} is closed")
        return self._conn

    def _read_meta_sync(self) -> dict[str, str] | None:
        with self._read() as conn:
            return _read_meta(conn)

    def _fetch_block(self, conn: sa.Connection, statement: str, *args: Any) -> BlockRecord | None:
        row = conn.exec_driver_sql(statement, args).first()
        return None if row is None else sql.block_from_row(row)

    # -- writes ---------------------------------------------------------------------

    async def commit(
        self,
        blocks: Sequence[BlockRecord],
        events: Sequence[PendingEvent],
        snapshots: Sequence[PendingSnapshot] = (),
    ) -> CommitResult:
        self._check_writer()
        return await self._run(self._commit_sync, blocks, events, snapshots)

    def _commit_sync(
        self,
        blocks: Sequence[BlockRecord],
        events: Sequence[PendingEvent],
        snapshots: Sequence[PendingSnapshot],
    ) -> CommitResult:
        with self._write() as conn:
            tip = self._fetch_block(conn, sql.TIP)
            for snapshot in check_commit(tip, blocks, events, snapshots):
                block = self._fetch_block(conn, sql.CANONICAL_AT, snapshot.block_height)
                if block is None or block.hash != snapshot.block_hash:
                    raise snapshot_off_chain(snapshot, None if block is None else block.hash)
            first = conn.exec_driver_sql(sql.MAX_POSITION).scalar_one() + 1
            versions = {
                model: conn.exec_driver_sql(sql.MAX_ACTIVE_VERSION, (model,)).scalar_one()
                for model in {event.model for event in events}
            }
            now = _now()
            if blocks:
                conn.exec_driver_sql(
                    sql.INSERT_BLOCK, [(b.height, b.hash, b.prev_hash, b.time, now) for b in blocks]
                )
            if events:
                conn.exec_driver_sql(sql.INSERT_EVENT, event_rows(events, first, versions, now))
            if snapshots:
                conn.exec_driver_sql(
                    sql.UPSERT_SNAPSHOT,
                    [(s.model, s.block_height, s.block_hash, s.state, now) for s in snapshots],
                )
        return CommitResult(first, first + len(events) - 1)

    async def rollback(self, fork_height: int, new_tip_hash: str | None = None) -> Reorg:
        self._check_writer()
        return await self._run(self._rollback_sync, fork_height, new_tip_hash)

    def _rollback_sync(self, fork_height: int, new_tip_hash: str | None) -> Reorg:
        with self._write() as conn:
            tip = self._fetch_block(conn, sql.TIP)
            if tip is None or fork_height >= tip.height:
                raise StoreConflictError(
                    f"cannot roll back to height {fork_height}: the stored tip is "
                    f"{'empty' if tip is None else tip.height}"
                )
            fork_hash = self._fork_hash(conn, fork_height)
            last = conn.exec_driver_sql(sql.MAX_POSITION).scalar_one()
            first = conn.exec_driver_sql(sql.FIRST_ACTIVE_ABOVE, (fork_height,)).scalar()
            reorg_id = conn.exec_driver_sql(
                sql.INSERT_REORG,
                (fork_height, fork_hash, tip.height, tip.hash, new_tip_hash,
                 tip.height - fork_height, last + 1 if first is None else first, last, _now()),
            ).scalar_one()
            rolled_back = conn.exec_driver_sql(sql.ROLL_BACK_EVENTS, (reorg_id, fork_height))
            conn.exec_driver_sql(sql.SET_REORG_COUNT, (rolled_back.rowcount, reorg_id))
            conn.exec_driver_sql(sql.DROP_SNAPSHOTS, (fork_height,))
            conn.exec_driver_sql(sql.ORPHAN_BLOCKS, (reorg_id, fork_height))
            row = conn.exec_driver_sql(sql.REORG_BY_ID, (reorg_id,)).one()
        return sql.reorg_from_row(row, _parse_time)

    def _fork_hash(self, conn: sa.Connection, fork_height: int) -> str:
        block = self._fetch_block(conn, sql.CANONICAL_AT, fork_height)
        if block is not None:
            return block.hash
        lowest = self._fetch_block(conn, sql.LOWEST_CANONICAL)
        if lowest is not None and lowest.height == fork_height + 1:
            return lowest.prev_hash
        raise StoreConflictError(
            f"cannot roll back to height {fork_height}: no canonical block stored there"
        )

    async def set_checkpoint(self, subscriber: str, position: int) -> None:
        self._check_open()
        await self._run(self._set_checkpoint_sync, subscriber, position)

    def _set_checkpoint_sync(self, subscriber: str, position: int) -> None:
        with self._write() as conn:
            conn.exec_driver_sql(sql.UPSERT_CHECKPOINT, (subscriber, position, _now()))

    # -- reads -------------------------------------------------------------------------

    def _fetch_all(self, statement: str, args: Sequence[Any] = ()) -> list[Sequence[Any]]:
        with self._read() as conn:
            return list(conn.exec_driver_sql(statement, tuple(args)))

    async def _fetch(self, statement: str, *args: Any) -> list[Sequence[Any]]:
        self._check_open()
        return await self._run(self._fetch_all, statement, args)


def _read_meta(conn: sa.Connection) -> dict[str, str] | None:
    """The ``meta`` table's rows, or None when the schema does not exist."""
    exists = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).first()
    if exists is None:
        return None
    return {row[0]: row[1] for row in conn.exec_driver_sql(sql.META)}


def _on_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("immediate") else "BEGIN")


def _translated(fn: Callable[..., T], *args: Any) -> T:
    """Call ``fn`` translating driver errors into the store's own."""
    try:
        return fn(*args)
    except EventStoreError:
        raise
    except (sa_exc.IntegrityError, sqlite3.IntegrityError) as exc:
        raise StoreConflictError(f"SQLite rejected the write: {_cause(exc)}") from exc
    except (sa_exc.OperationalError, sqlite3.OperationalError, OSError) as exc:
        raise StoreOperationalError(f"SQLite operation failed: {_cause(exc)}") from exc
    except (sa_exc.SQLAlchemyError, sqlite3.Error) as exc:
        raise EventStoreError(f"SQLite error: {_cause(exc)}") from exc


def _cause(exc: BaseException) -> str:
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        return str(exc.orig)
    return str(exc)
