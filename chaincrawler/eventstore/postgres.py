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
Payloads and snapshot states are ``json``, which keeps their text as written.

Readers follow the writer with ``changes()``: every commit and rollback sends a
``NOTIFY`` on the store's channel (``notify_channel``) inside its transaction, so
it arrives when the transaction commits; readers ``LISTEN`` on a connection of
their own, or poll on a hot standby, where ``LISTEN`` is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import re
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from typing import Any, cast

import asyncpg

from chaincrawler.eventstore import schema, sql
from chaincrawler.eventstore.errors import (
    EventStoreError,
    NotAStoreError,
    StoreClosedError,
    StoreConflictError,
    StoreLockedError,
    StoreOperationalError,
)
from chaincrawler.eventstore.lock import PG_WRITER_LOCK, pg_lock_key
from chaincrawler.eventstore.ops import (
    CreateTables,
    Execute,
    ExecuteMany,
    InsertRows,
    LockLog,
    Migrate,
    Mode,
    Notify,
    Op,
    Row,
    Rows,
    Steps,
    T,
    Tables,
    Value,
    drive_async,
)
from chaincrawler.eventstore.writes import SqlWrites

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

_LOCK_EVENTS = "LOCK TABLE events IN EXCLUSIVE MODE"
_TABLES = "SELECT table_name FROM information_schema.tables WHERE table_schema = $1"
_TRY_WRITER_LOCK = "SELECT pg_try_advisory_lock($1, $2)"
#: The client-side timeout of a migration statement (asyncpg has no "none" per call).
_NO_LIMIT = 7 * 24 * 3600.0

#: Errors after which retrying the operation may succeed.
_TRANSIENT = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, statement timeout
    asyncpg.exceptions.TransactionRollbackError,  # serialization failure, deadlock
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.CannotConnectNowError,
    # A terminated backend's goodbye was read but not yet the closed socket: asyncpg
    # refuses the next query ("cannot switch to state ..."); the connection is lost.
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)

#: How a server refuses LISTEN: a hot standby says "cannot execute LISTEN during recovery".
_LISTEN_REFUSED = (
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.exceptions.FeatureNotSupportedError,
)


def _parse_time(value: Any) -> datetime:
    return cast(datetime, value)  # asyncpg decodes timestamptz itself


def _stamp(moment: datetime) -> datetime:
    return moment


def notify_channel(schema: str) -> str:
    """The ``NOTIFY`` channel of the store in ``schema`` (at most 63 bytes, as PostgreSQL needs)."""
    channel = f"chaincrawler.{schema}"
    if len(channel) <= 63:
        return channel
    return f"chaincrawler.{hashlib.sha256(schema.encode()).hexdigest()[:32]}"


class PostgresEventStore(SqlWrites):
    """Event store in one schema of a PostgreSQL database."""

    _style = "numeric"
    _dialect = "postgresql"
    _parse_time = staticmethod(_parse_time)
    _stamp = staticmethod(_stamp)

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
        self._channel = notify_channel(schema)
        self._pool: asyncpg.Pool | None = None
        self._lock_conn: asyncpg.Connection | None = None
        # Writes from several tasks (the crawler's commits, the mempool feed's appends)
        # check the lock's connection one at a time: it runs one query at once.
        self._lock_check = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PostgresEventStore({_redact(self.dsn)!r}, schema={self.schema!r})"

    @property
    def _where(self) -> str:
        return f"{_redact(self.dsn)} schema {self.schema}"

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
                if writer:
                    self._lock_conn = await self._take_writer_lock()
            await self._prepare(
                self._where, network, genesis_hash, writer=writer, create_schema=create_schema
            )
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

    async def _connect(self, purpose: str) -> asyncpg.Connection:
        """A connection of its own (not from the pool), named ``chaincrawler-<purpose>``."""
        return await asyncpg.connect(
            self.dsn, timeout=self._connect_timeout,
            server_settings={"application_name": f"chaincrawler-{purpose}"},
        )

    async def _take_writer_lock(self) -> asyncpg.Connection:
        """A connection holding the writer lock, or StoreLockedError."""
        conn = await self._connect("writer-lock")
        try:
            database = await conn.fetchval("SELECT current_database()")
            key = pg_lock_key(database, self.schema)
            if not await conn.fetchval(_TRY_WRITER_LOCK, PG_WRITER_LOCK, key):
                raise StoreLockedError(
                    "another chaincrawler process is writing to this store "
                    f"({_redact(self.dsn)}, schema {self.schema!r}); stop it first, use "
                    "another schema, or open the store with writer=False to read"
                )
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _ensure_writer_lock(self) -> None:
        """Check the lock's connection is alive (one round trip); if lost, lock again.

        Raises StoreLockedError if another writer took the lock meanwhile.
        """
        async with self._lock_check:
            conn = self._lock_conn
            if conn is None:
                return
            try:
                await conn.fetchval("SELECT 1")
                return
            except (*_TRANSIENT, asyncpg.InterfaceError, asyncpg.PostgresError):
                self._lock_conn = None
                conn.terminate()
            self._lock_conn = await self._take_writer_lock()

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

    async def destroy(self) -> str:
        if self._opened:
            self._check_writer()
            await self.close()
        async with _translated(self):
            conn = await self._take_writer_lock()
            try:
                tables = {row[0] for row in await conn.fetch(_TABLES, self.schema)}
                if tables and "meta" not in tables:
                    raise NotAStoreError(
                        f"the schema {self.schema!r} holds tables of something else "
                        f"({', '.join(sorted(tables)[:5])}) and no chaincrawler store; "
                        "not removing it"
                    )
                exists = await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", self.schema
                )
                if not exists:
                    return "nothing"
                # An empty schema holds no store: drop it only if nothing else is in it.
                cascade = " CASCADE" if tables else ""
                try:
                    await conn.execute(f'DROP SCHEMA "{self.schema}"{cascade}')
                except asyncpg.exceptions.DependentObjectsStillExistError:
                    raise NotAStoreError(
                        f"the schema {self.schema!r} holds no chaincrawler store but other "
                        "objects; not removing it"
                    ) from None
            finally:
                await conn.close()
        return f"schema {self.schema!r} of {_redact(self.dsn)}"

    # -- plumbing -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _acquire(self) -> AsyncIterator[asyncpg.Connection]:
        if self._pool is None:
            raise StoreClosedError(f"{self!r} is not open; call open() first")
        async with _translated(self), self._pool.acquire(timeout=self._connect_timeout) as conn:
            yield conn

    async def _transact(self, steps: Steps[T], mode: Mode) -> T:
        if mode == "writer":
            async with _translated(self):
                await self._ensure_writer_lock()
        async with self._acquire() as conn, _within_transaction(conn, readonly=mode == "read"):
            return await drive_async(steps, functools.partial(self._perform, conn))

    async def _perform(self, conn: asyncpg.Connection, op: Op) -> Any:
        """One operation of a write, on ``conn`` (inside the write's transaction)."""
        match op:
            case Value(statement, args):
                return await conn.fetchval(sql.numbered(statement), *args)
            case Row(statement, args):
                return await conn.fetchrow(sql.numbered(statement), *args)
            case Rows(statement, args):
                return await conn.fetch(sql.numbered(statement), *args)
            case Execute(statement, args):
                status = await conn.execute(sql.numbered(statement), *args)
                count = status.split()[-1]
                return int(count) if count.isdigit() else 0
            case Migrate(statement):
                await conn.execute("SET LOCAL statement_timeout = 0")
                await conn.execute(statement, timeout=_NO_LIMIT)
            case ExecuteMany(statement, rows):
                await conn.executemany(sql.numbered(statement), rows)
            case InsertRows(table, columns, rows):
                await conn.copy_records_to_table(
                    table, schema_name=self.schema, columns=columns, records=rows
                )
            case LockLog():
                await conn.execute(_LOCK_EVENTS)
            case Notify():
                await conn.execute("SELECT pg_notify($1, '')", self._channel)
            case Tables():
                return [row[0] for row in await conn.fetch(_TABLES, self.schema)]
            case CreateTables():
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                for statement in schema.create_statements("postgresql"):
                    await conn.execute(statement)
        return None

    async def _fetch(self, statement: str, *args: Any) -> list[asyncpg.Record]:
        async with self._acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(statement, *args)
            return rows

    # -- following -------------------------------------------------------------------

    async def _change_marker(self) -> object:
        return tuple(await self._fetch(sql.CHANGE_MARKER))

    async def changes(self, poll_interval: float = 0.5) -> AsyncGenerator[None, None]:
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0, not {poll_interval}")
        self._check_open()
        woken = asyncio.Event()
        lost: list[asyncpg.Connection] = []

        def wake(*_: object) -> None:
            woken.set()

        def connection_lost(conn: asyncpg.Connection) -> None:
            lost.append(conn)
            woken.set()

        async with _translated(self):
            conn = await self._connect("listener")
        try:
            try:
                async with _translated(self):
                    conn.add_termination_listener(connection_lost)
                    await conn.add_listener(self._channel, wake)
            except EventStoreError as exc:
                if not isinstance(exc.__cause__, _LISTEN_REFUSED):
                    raise
                async for _ in self._poll_changes(poll_interval):  # a hot standby
                    yield
                return
            yield
            while True:
                await woken.wait()
                woken.clear()
                if lost:
                    raise StoreOperationalError(
                        f"lost the connection listening for changes of {self!r}; "
                        "call changes() again"
                    )
                yield
        finally:
            with contextlib.suppress(*_TRANSIENT, asyncpg.PostgresError, asyncpg.InterfaceError):
                await conn.close(timeout=self._connect_timeout)


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
async def _within_transaction(
    conn: asyncpg.Connection, *, readonly: bool = False
) -> AsyncIterator[None]:
    """Run the block in a transaction on ``conn``; commit if it succeeds.

    Unlike a bare ``conn.transaction()``, a connection lost mid-way surfaces as the
    loss itself (retryable), not as a failure to roll back.
    """
    # A read-only transaction reads one snapshot (REPEATABLE READ): a read of several
    # statements sees one committed tip.
    transaction = conn.transaction(
        isolation="repeatable_read" if readonly else None, readonly=readonly
    )
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
