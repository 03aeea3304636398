"""PostgreSQL backend through asyncpg.

The store lives in one PostgreSQL schema (``schema=``, default ``chaincrawler``),
so several crawlers can share a server or database. Every pool connection gets
``search_path`` set to that schema, a ``statement_timeout`` and the
application name ``chaincrawler``.

Single writer: the writer holds a session-level ``pg_try_advisory_lock`` keyed by
database and schema on a dedicated connection (not from the pool). A second
writer fails at once with StoreLockedError; readers take no lock.

Gap-free positions in commit order: a commit takes ``LOCK TABLE events IN
EXCLUSIVE MODE`` (as the ``eventsourcing`` library does), which waits for any
other commit or rollback but never for readers, then computes positions from
``MAX(position)`` inside the transaction. Positions become visible only when
the transaction commits, all at once, so a reader never sees a later position
before an earlier one. Together with the linkage check made under the same lock,
this keeps the log consistent even if the advisory lock were lost.

Catch-up batches are appended with ``COPY`` (``copy_records_to_table``).
Payloads and snapshot states are JSONB: PostgreSQL normalises their text.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import asyncpg

from chaincrawler.eventstore import schema, sql
from chaincrawler.eventstore.commit import check_commit, event_rows, snapshot_off_chain
from chaincrawler.eventstore.errors import (
    EventStoreError,
    SchemaMissingError,
    StoreClosedError,
    StoreConflictError,
    StoreLockedError,
    StoreOperationalError,
)
from chaincrawler.eventstore.lock import PG_SCHEMA_LOCK, PG_WRITER_LOCK, pg_lock_key
from chaincrawler.eventstore.reads import SqlReads
from chaincrawler.eventstore.records import (
    BlockRecord,
    CommitResult,
    PendingEvent,
    PendingSnapshot,
    Reorg,
)

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

_TIP = sql.numbered(sql.TIP)
_LOWEST_CANONICAL = sql.numbered(sql.LOWEST_CANONICAL)
_CANONICAL_AT = sql.numbered(sql.CANONICAL_AT)
_INSERT_BLOCK = sql.numbered(sql.INSERT_BLOCK)
_MAX_ACTIVE_VERSION = sql.numbered(sql.MAX_ACTIVE_VERSION)
_UPSERT_SNAPSHOT = sql.numbered(sql.UPSERT_SNAPSHOT)
_FIRST_ACTIVE_ABOVE = sql.numbered(sql.FIRST_ACTIVE_ABOVE)
_INSERT_REORG = sql.numbered(sql.INSERT_REORG)
_ROLL_BACK_EVENTS = sql.numbered(sql.ROLL_BACK_EVENTS)
_SET_REORG_COUNT = sql.numbered(sql.SET_REORG_COUNT)
_DROP_SNAPSHOTS = sql.numbered(sql.DROP_SNAPSHOTS)
_ORPHAN_BLOCKS = sql.numbered(sql.ORPHAN_BLOCKS)
_REORG_BY_ID = sql.numbered(sql.REORG_BY_ID)
_UPSERT_CHECKPOINT = sql.numbered(sql.UPSERT_CHECKPOINT)
_INSERT_META = sql.numbered(sql.INSERT_META)
_SET_META = sql.numbered(sql.SET_META)
_LOCK_EVENTS = "LOCK TABLE events IN EXCLUSIVE MODE"
_META_EXISTS = (
    "SELECT EXISTS (SELECT 1 FROM information_schema.tables "
    "WHERE table_schema = $1 AND table_name = 'meta')"
)

#: Errors after which retrying the operation may succeed.
_TRANSIENT = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, statement timeout
    asyncpg.exceptions.TransactionRollbackError,  # serialization failure, deadlock
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.CannotConnectNowError,
    OSError,
    TimeoutError,
)


def _parse_time(value: Any) -> datetime:
    return cast(datetime, value)  # asyncpg decodes timestamptz itself


class PostgresEventStore(SqlReads):
    """Event store in one schema of a PostgreSQL database."""

    _style = "numeric"
    _parse_time = staticmethod(_parse_time)

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "chaincrawler",
        min_pool_size: int = 1,
        max_pool_size: int = 10,
        connect_timeout: float = 10.0,
        command_timeout: float | None = 300.0,
        statement_timeout: float | None = 300.0,
    ) -> None:
        """Timeouts are in seconds; ``None`` means no limit.

        ``command_timeout`` is enforced by the client on every call,
        ``statement_timeout`` by the server on every statement; both must
        leave room for the COPY of a whole catch-up batch.
        """
        super().__init__()
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(
                f"schema must be a plain SQL identifier (letters, digits, _), not {schema!r}"
            )
        if not 1 <= min_pool_size <= max_pool_size:
            raise ValueError(
                f"need 1 <= min_pool_size <= max_pool_size, got {min_pool_size}, {max_pool_size}"
            )
        self.dsn = dsn
        self.schema = schema
        self._min_size = min_pool_size
        self._max_size = max_pool_size
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._statement_timeout = statement_timeout
        self._pool: asyncpg.Pool | None = None
        self._lock_conn: asyncpg.Connection | None = None
        self._lock_key = 0

    def __repr__(self) -> str:
        return f"PostgresEventStore({_redact(self.dsn)!r}, schema={self.schema!r})"

    # -- lifecycle --------------------------------------------------------------

    async def open(
        self, *, network: str, genesis_hash: str, writer: bool = True, create_schema: bool = True
    ) -> None:
        if self._opened:
            raise EventStoreError(f"{self!r} is already open")
        try:
            async with _translated(self):
                self._pool = await asyncpg.create_pool(
                    self.dsn,
                    min_size=self._min_size,
                    max_size=self._max_size,
                    timeout=self._connect_timeout,
                    command_timeout=self._command_timeout,
                    server_settings=self._server_settings(),
                )
                database = await self._pool.fetchval("SELECT current_database()")
                self._lock_key = pg_lock_key(database, self.schema)
                if writer:
                    await self._take_writer_lock()
                await self._prepare_schema(network, genesis_hash, writer, create_schema)
        except BaseException:
            await self._shutdown()
            raise
        self._writer = writer
        self._opened = True

    def _server_settings(self) -> dict[str, str]:
        settings = {"search_path": f'"{self.schema}"', "application_name": "chaincrawler"}
        if self._statement_timeout is not None:
            settings["statement_timeout"] = str(int(self._statement_timeout * 1000))
        return settings

    async def _take_writer_lock(self) -> None:
        conn = await asyncpg.connect(
            self.dsn, timeout=self._connect_timeout,
            server_settings={"application_name": "chaincrawler-writer-lock"},
        )
        try:
            if not await conn.fetchval(
                "SELECT pg_try_advisory_lock($1, $2)", PG_WRITER_LOCK, self._lock_key
            ):
                raise StoreLockedError(
                    "another chaincrawler process is writing to this store "
                    f"({_redact(self.dsn)}, schema {self.schema!r}); stop it first, use "
                    "another schema, or open the store with writer=False to read"
                )
        except BaseException:
            await conn.close()
            raise
        self._lock_conn = conn

    async def _ensure_writer_lock(self) -> None:
        """Check the lock's connection is alive (one round trip); if lost, lock again.

        Raises StoreLockedError if another writer took the lock meanwhile.
        """
        conn = self._lock_conn
        if conn is None:
            return
        try:
            await conn.fetchval("SELECT 1")
            return
        except (*_TRANSIENT, asyncpg.InterfaceError, asyncpg.PostgresError):
            self._lock_conn = None
            conn.terminate()
        await self._take_writer_lock()

    async def _prepare_schema(
        self, network: str, genesis_hash: str, writer: bool, create_schema: bool
    ) -> None:
        where = f"{_redact(self.dsn)} schema {self.schema}"
        async with self._acquire() as conn:
            stored = await self._read_meta(conn)
            if stored is None:
                if not create_schema:
                    raise SchemaMissingError(
                        f"no chaincrawler schema at {where} and schema creation is switched off"
                    )
                async with _within_transaction(conn):
                    await conn.execute(
                        "SELECT pg_advisory_xact_lock($1, $2)", PG_SCHEMA_LOCK, self._lock_key
                    )
                    if await self._read_meta(conn) is None:
                        await self._create_schema(conn, network, genesis_hash)
                stored = await self._read_meta(conn) or {}
            version = schema.check_meta(
                stored, network=network, genesis_hash=genesis_hash, where=where,
                may_migrate=writer and create_schema,
            )
            if version < schema.SCHEMA_VERSION:
                async with _within_transaction(conn):
                    await conn.execute(
                        "SELECT pg_advisory_xact_lock($1, $2)", PG_SCHEMA_LOCK, self._lock_key
                    )
                    for target, statements in schema.migration_statements(version):
                        for statement in statements:
                            await conn.execute(statement)
                        await conn.execute(_SET_META, str(target), "schema_version")

    async def _create_schema(self, conn: asyncpg.Connection, network: str, genesis: str) -> None:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        for statement in schema.create_statements("postgresql"):
            await conn.execute(statement)
        now = datetime.now(UTC).isoformat()
        await conn.executemany(
            _INSERT_META, list(schema.new_store_meta(network, genesis, now).items())
        )

    async def _read_meta(self, conn: asyncpg.Connection) -> dict[str, str] | None:
        if not await conn.fetchval(_META_EXISTS, self.schema):
            return None
        return {row[0]: row[1] for row in await conn.fetch(sql.META)}

    async def close(self) -> None:
        self._opened = False
        await self._shutdown()

    async def _shutdown(self) -> None:
        pool, self._pool = self._pool, None
        lock_conn, self._lock_conn = self._lock_conn, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), self._connect_timeout)
            except (TimeoutError, *_TRANSIENT, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()
        if lock_conn is not None:
            with contextlib.suppress(*_TRANSIENT, asyncpg.PostgresError, asyncpg.InterfaceError):
                await lock_conn.close(timeout=self._connect_timeout)

    # -- plumbing -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _acquire(self) -> AsyncIterator[asyncpg.Connection]:
        if self._pool is None:
            raise StoreClosedError(f"{self!r} is not open; call open() first")
        async with _translated(self), self._pool.acquire(timeout=self._connect_timeout) as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A pool connection inside a transaction, committed if the block succeeds."""
        async with self._acquire() as conn, _within_transaction(conn):
            yield conn

    async def _fetch(self, statement: str, *args: Any) -> list[asyncpg.Record]:
        async with self._acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(statement, *args)
            return rows

    # -- writes -------------------------------------------------------------------

    async def commit(
        self,
        blocks: Sequence[BlockRecord],
        events: Sequence[PendingEvent],
        snapshots: Sequence[PendingSnapshot] = (),
    ) -> CommitResult:
        self._check_writer()
        async with _translated(self):
            await self._ensure_writer_lock()
        async with self._transaction() as conn:
            await conn.execute(_LOCK_EVENTS)
            tip = await self._fetch_block(conn, _TIP)
            for snapshot in check_commit(tip, blocks, events, snapshots):
                block = await self._fetch_block(conn, _CANONICAL_AT, snapshot.block_height)
                if block is None or block.hash != snapshot.block_hash:
                    raise snapshot_off_chain(snapshot, None if block is None else block.hash)
            first = await conn.fetchval(sql.MAX_POSITION) + 1
            versions = {
                model: await conn.fetchval(_MAX_ACTIVE_VERSION, model)
                for model in {event.model for event in events}
            }
            now = datetime.now(UTC)
            if blocks:
                await conn.executemany(
                    _INSERT_BLOCK, [(b.height, b.hash, b.prev_hash, b.time, now) for b in blocks]
                )
            if events:
                await conn.copy_records_to_table(
                    "events", schema_name=self.schema, columns=sql.EVENT_COLUMNS,
                    records=event_rows(events, first, versions, now),
                )
            if snapshots:
                await conn.executemany(
                    _UPSERT_SNAPSHOT,
                    [(s.model, s.block_height, s.block_hash, s.state, now) for s in snapshots],
                )
        return CommitResult(first, first + len(events) - 1)

    async def rollback(self, fork_height: int, new_tip_hash: str | None = None) -> Reorg:
        self._check_writer()
        async with _translated(self):
            await self._ensure_writer_lock()
        async with self._transaction() as conn:
            await conn.execute(_LOCK_EVENTS)
            tip = await self._fetch_block(conn, _TIP)
            if tip is None or fork_height >= tip.height:
                raise StoreConflictError(
                    f"cannot roll back to height {fork_height}: the stored tip is "
                    f"{'empty' if tip is None else tip.height}"
                )
            fork_hash = await self._fork_hash(conn, fork_height)
            last = await conn.fetchval(sql.MAX_POSITION)
            first = await conn.fetchval(_FIRST_ACTIVE_ABOVE, fork_height)
            reorg_id = await conn.fetchval(
                _INSERT_REORG, fork_height, fork_hash, tip.height, tip.hash, new_tip_hash,
                tip.height - fork_height, last + 1 if first is None else first, last,
                datetime.now(UTC),
            )
            status = await conn.execute(_ROLL_BACK_EVENTS, reorg_id, fork_height)
            await conn.execute(_SET_REORG_COUNT, int(status.split()[-1]), reorg_id)
            await conn.execute(_DROP_SNAPSHOTS, fork_height)
            await conn.execute(_ORPHAN_BLOCKS, reorg_id, fork_height)
            row = await conn.fetchrow(_REORG_BY_ID, reorg_id)
        return sql.reorg_from_row(row, _parse_time)

    async def _fork_hash(self, conn: asyncpg.Connection, fork_height: int) -> str:
        block = await self._fetch_block(conn, _CANONICAL_AT, fork_height)
        if block is not None:
            return block.hash
        lowest = await self._fetch_block(conn, _LOWEST_CANONICAL)
        if lowest is not None and lowest.height == fork_height + 1:
            return lowest.prev_hash
        raise StoreConflictError(
            f"cannot roll back to height {fork_height}: no canonical block stored there"
        )

    async def _fetch_block(
        self, conn: asyncpg.Connection, statement: str, *args: Any
    ) -> BlockRecord | None:
        row = await conn.fetchrow(statement, *args)
        return None if row is None else sql.block_from_row(row)

    async def set_checkpoint(self, subscriber: str, position: int) -> None:
        self._check_open()
        async with self._acquire() as conn:
            await conn.execute(_UPSERT_CHECKPOINT, subscriber, position, datetime.now(UTC))

    # -- reads --------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _translated(store: PostgresEventStore) -> AsyncIterator[None]:
    """Translate asyncpg and network errors raised inside into the store's own."""
    try:
        yield
    except EventStoreError:
        raise
    except asyncpg.exceptions.IntegrityConstraintViolationError as exc:
        raise StoreConflictError(f"PostgreSQL rejected the write: {exc}") from exc
    except _TRANSIENT as exc:
        raise StoreOperationalError(
            f"PostgreSQL operation failed on {store!r}: {type(exc).__name__}: {exc}"
        ) from exc
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise EventStoreError(f"PostgreSQL error on {store!r}: {exc}") from exc


@contextlib.asynccontextmanager
async def _within_transaction(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Run the block in a transaction on ``conn``; commit if it succeeds.

    Unlike ``conn.transaction()``, a connection lost mid-way surfaces as the
    loss itself (retryable), not as a failure to roll back.
    """
    transaction = conn.transaction()
    await transaction.start()
    try:
        yield
    except BaseException:
        # The server rolls back by itself if the connection is gone.
        with contextlib.suppress(asyncpg.InterfaceError, *_TRANSIENT):
            await transaction.rollback()
        raise
    await transaction.commit()


def _redact(dsn: str) -> str:
    """``dsn`` without its password."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn)
