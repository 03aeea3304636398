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
A reader never creates the file; readers follow the writer's commits by polling
``PRAGMA data_version`` (``changes()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Literal, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc

from chaincrawler.eventstore import schema, sql
from chaincrawler.eventstore.errors import (
    EventStoreError,
    NotAStoreError,
    SchemaMissingError,
    StoreAccessError,
    StoreClosedError,
    StoreConflictError,
    StoreOperationalError,
)
from chaincrawler.eventstore.lock import FileLock
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
    Tables,
    Value,
    drive,
)
from chaincrawler.eventstore.writes import SqlWrites

T = TypeVar("T")

MEMORY = ":memory:"

#: The files of a store at PATH: PATH and these suffixes.
_SIDE_FILES = ("-wal", "-shm", ".lock")


def _stamp(moment: datetime) -> str:
    return moment.isoformat()


def _parse_time(value: Any) -> datetime:
    return datetime.fromisoformat(value)


class SQLiteEventStore(SqlWrites):
    """Event store in one SQLite file (``":memory:"`` for a private in-memory store)."""

    _style = "qmark"
    _dialect = "sqlite"
    _parse_time = staticmethod(_parse_time)
    _stamp = staticmethod(_stamp)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        busy_timeout: float = 30.0,
        cache_mib: int = 64,
    ) -> None:
        """``busy_timeout``: seconds to wait when a checkpoint write meets the writer;
        ``cache_mib``: SQLite's page cache per connection, in MiB."""
        super().__init__()
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', not {synchronous!r}")
        if cache_mib < 1:
            raise ValueError(f"cache_mib must be at least 1, not {cache_mib!r}")
        self.path = os.fspath(path)
        self._synchronous = synchronous
        self._busy_timeout = busy_timeout
        self._cache_mib = cache_mib
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
        if not in_memory:
            self._check_location(creating=writer and create_schema)
        if writer and not in_memory:
            self._lock = FileLock(self.path + ".lock")
            self._lock.acquire(self.path)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chaincrawler-sqlite")
        try:
            await self._run(self._connect_sync)
            await self._prepare(
                self.path, network, genesis_hash, writer=writer, create_schema=create_schema
            )
            if writer:
                await self._run(self._use_wal_sync)
        except BaseException:
            await self._shutdown(failed_open=True)
            raise
        self._writer = writer
        self._opened = True

    def _check_location(self, *, creating: bool) -> None:
        """Refuse a missing file unless this open may create it in an existing directory."""
        if os.path.exists(self.path):
            return
        if not creating:
            raise SchemaMissingError(
                f"no chaincrawler store at {self.path} (a reader never creates one, nor "
                "does a writer with schema creation switched off; `chaincrawler run` does)"
            )
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise StoreAccessError(
                f"cannot create the store {self.path}: the directory {directory} does not "
                "exist; create it first"
            )

    async def close(self) -> None:
        self._opened = False
        await self._shutdown()

    async def _shutdown(self, *, failed_open: bool = False) -> None:
        """Close; after a failed open, leave no lock file behind that the open made."""
        if self._executor is not None:
            with contextlib.suppress(EventStoreError):
                await self._run(self._close_sync)
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._lock is not None:
            self._lock.release(remove_if_created=failed_open)
            self._lock = None

    def _connect_sync(self) -> None:
        engine = sa.create_engine(
            f"sqlite:///{self.path}",
            connect_args={"timeout": self._busy_timeout},
            poolclass=sa.pool.StaticPool if self.path == MEMORY else sa.pool.NullPool,
        )
        sa.event.listen(engine, "connect", self._on_connect)
        sa.event.listen(engine, "begin", _on_begin)
        self._engine = engine
        self._conn = engine.connect()

    def _on_connect(self, dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # Take transaction control away from pysqlite: we emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        dbapi_conn.execute(f"PRAGMA synchronous={self._synchronous}")
        # A negative cache_size is in KiB.
        dbapi_conn.execute(f"PRAGMA cache_size={-1024 * self._cache_mib}")

    def _use_wal_sync(self) -> None:
        """Switch the writer's (checked, ours) file to WAL; it stays so (readers inherit it)."""
        # On the driver's connection: SQLAlchemy's would begin a transaction first.
        driver_conn = self._connection().connection.driver_connection
        assert driver_conn is not None
        driver_conn.execute("PRAGMA journal_mode=WAL")

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    async def destroy(self) -> str:
        if self._opened:
            self._check_writer()
            await self.close()
        if self.path == MEMORY:
            return "nothing (an in-memory store ends when it is closed)"
        return await asyncio.to_thread(self._destroy_sync)

    def _destroy_sync(self) -> str:
        files = [self.path, *(self.path + suffix for suffix in _SIDE_FILES)]
        existing = [path for path in files if os.path.exists(path)]
        if not existing:
            return "nothing"
        lock = FileLock(self.path + ".lock")
        lock.acquire(self.path)
        try:
            if os.path.exists(self.path) and not _holds_a_store(self.path):
                raise NotAStoreError(
                    f"{self.path} is not a chaincrawler store; not removing it"
                )
            for path in files:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        finally:
            lock.release(remove_if_created=True)
        return ", ".join(existing)

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

    async def _transact(self, steps: Steps[T], mode: Mode) -> T:
        return await self._run(self._transact_sync, steps, mode)

    def _transact_sync(self, steps: Steps[T], mode: Mode) -> T:
        with self._read() if mode == "read" else self._write() as conn:
            return drive(steps, functools.partial(_perform, conn))

    # -- reads -------------------------------------------------------------------------

    def _fetch_all(self, statement: str, args: tuple[Any, ...]) -> list[Any]:
        with self._read() as conn:
            return list(conn.exec_driver_sql(statement, args))

    async def _fetch(self, statement: str, *args: Any) -> list[Any]:
        self._check_open()
        return await self._run(self._fetch_all, statement, args)

    async def _change_marker(self) -> object:
        return await self._run(self._fetch_all, "PRAGMA data_version", ())


def _perform(conn: sa.Connection, op: Op) -> Any:
    """One operation of a write, on ``conn`` (inside the write's transaction)."""
    match op:
        case Value(statement, args):
            return conn.exec_driver_sql(statement, args).scalar()
        case Row(statement, args):
            return conn.exec_driver_sql(statement, args).first()
        case Rows(statement, args):
            return list(conn.exec_driver_sql(statement, args))
        case Execute(statement, args):
            return conn.exec_driver_sql(statement, args).rowcount
        case Migrate(statement):
            conn.exec_driver_sql(statement)
        case ExecuteMany(statement, rows):
            conn.exec_driver_sql(statement, list(rows))
        case InsertRows(table, columns, rows):
            conn.exec_driver_sql(sql.insert_statement(table, tuple(columns)), list(rows))
        case Tables():
            return [row[0] for row in conn.exec_driver_sql(_TABLES)]
        case CreateTables():
            for statement in schema.create_statements("sqlite"):
                conn.exec_driver_sql(statement)
        case LockLog() | Notify():
            pass  # the write transaction holds the only write lock; readers poll
    return None


#: Every table but SQLite's own (``sqlite_sequence``, ``sqlite_stat1``).
_TABLES = (
    "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 7) != 'sqlite_'"
)


def _holds_a_store(path: str) -> bool:
    """Whether the SQLite file at ``path`` is a chaincrawler store (or an empty database)."""
    try:
        conn = sqlite3.connect(path)
        try:
            tables = {row[0] for row in conn.execute(_TABLES)}
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False
    return not tables or "meta" in tables


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
        cause = _cause(exc)
        if "readonly database" in cause or "unable to open database file" in cause:
            raise StoreAccessError(
                f"SQLite cannot use the store file: {cause}; check that the file and its "
                "directory exist and are writable (readers too need a writable directory "
                "for WAL's shared-memory file)"
            ) from exc
        raise StoreOperationalError(f"SQLite operation failed: {cause}") from exc
    except (sa_exc.DatabaseError, sqlite3.DatabaseError) as exc:
        if "not a database" in _cause(exc):
            raise NotAStoreError(f"not a chaincrawler store: {_cause(exc)}") from exc
        raise EventStoreError(f"SQLite error: {_cause(exc)}") from exc
    except (sa_exc.SQLAlchemyError, sqlite3.Error) as exc:
        raise EventStoreError(f"SQLite error: {_cause(exc)}") from exc


def _cause(exc: BaseException) -> str:
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        return str(exc.orig)
    return str(exc)
