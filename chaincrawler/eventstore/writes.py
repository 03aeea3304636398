"""The writes both SQL backends share, written once as steps over primitive operations.

Each write (commit, rollback, checkpoint, model registration, and preparing the
schema on open) is a generator: it yields an operation -- a statement, a batch of
rows -- and is sent back its result. So the same code runs on SQLite, synchronously
on its worker thread, and on PostgreSQL, awaited; a backend runs the whole
generator inside one transaction (``SqlWrites._transact``): all or nothing.
Statements have ``?`` placeholders; a backend rewrites them as its driver needs.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

import structlog

from chaincrawler.eventstore import schema, sql
from chaincrawler.eventstore.commit import check_commit, event_rows, snapshot_off_chain
from chaincrawler.eventstore.errors import (
    NotAStoreError,
    SchemaMissingError,
    StoreConflictError,
)
from chaincrawler.eventstore.reads import SqlReads
from chaincrawler.eventstore.records import (
    BlockRecord,
    CommitResult,
    PendingEvent,
    PendingSnapshot,
    Reorg,
)

T = TypeVar("T")

log = structlog.get_logger(__name__)


# -- the primitive operations a backend performs --------------------------------------


@dataclass(frozen=True, slots=True)
class Value:
    """Run a statement; result: the first column of its first row, or None."""

    statement: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Row:
    """Run a statement; result: its first row, or None."""

    statement: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Rows:
    """Run a statement; result: all its rows."""

    statement: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Execute:
    """Run a statement; result: the number of rows it changed (0 for DDL)."""

    statement: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Migrate:
    """Run a statement of a migration: it may rewrite a whole table, so no time limit."""

    statement: str


@dataclass(frozen=True, slots=True)
class ExecuteMany:
    """Run a statement once per row of arguments."""

    statement: str
    rows: Sequence[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class InsertEvents:
    """Insert rows of ``sql.EVENT_COLUMNS`` (PostgreSQL: with COPY)."""

    rows: Sequence[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class LockLog:
    """Wait for every other append or rollback, never for readers.

    PostgreSQL: ``LOCK TABLE events IN EXCLUSIVE MODE``; SQLite's write
    transaction already holds the database's only write lock.
    """


@dataclass(frozen=True, slots=True)
class Notify:
    """Wake the readers following the store once the transaction commits."""


@dataclass(frozen=True, slots=True)
class Tables:
    """Result: the names of the tables at the store's location (its schema or file)."""


@dataclass(frozen=True, slots=True)
class CreateTables:
    """Create the store's schema and every table and index of ``schema``."""


Op = (
    Value | Row | Rows | Execute | Migrate | ExecuteMany | InsertEvents | LockLog | Notify
    | Tables | CreateTables
)

#: A write: yields operations, is sent their results, returns the write's result.
Steps = Generator[Op, Any, T]

#: ``read``: a read-only transaction; ``write``: any store may write (checkpoints);
#: ``writer``: only the writer (PostgreSQL first checks it still holds its lock).
Mode = Literal["read", "write", "writer"]


def drive(steps: Steps[T], perform: Callable[[Op], Any]) -> T:
    """Run ``steps``, performing each operation synchronously."""
    result: Any = None
    try:
        while True:
            result = perform(steps.send(result))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        steps.close()


async def drive_async(steps: Steps[T], perform: Callable[[Op], Awaitable[Any]]) -> T:
    """Run ``steps``, awaiting each operation."""
    result: Any = None
    try:
        while True:
            result = await perform(steps.send(result))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        steps.close()


# -- the writes --------------------------------------------------------------------------


def _block(row: Sequence[Any] | None) -> BlockRecord | None:
    return None if row is None else sql.block_from_row(row)


def prepare_steps(
    dialect: str,
    where: str,
    network: str,
    genesis_hash: str,
    *,
    writer: bool,
    create_schema: bool,
    created_at: str,
) -> Steps[None]:
    """Open a store: create, migrate or re-stamp it (writer only), check what it is.

    A location without our ``meta`` table is refused if it holds other tables
    (another application's), created if ``writer and create_schema``, else
    refused. An empty store stamped for another network is re-stamped for the
    writer; one holding blocks or events is refused.
    """
    tables = set((yield Tables()))
    if "meta" not in tables:
        if tables:
            raise NotAStoreError(
                f"{where} holds tables of something else ({', '.join(sorted(tables)[:5])}) "
                "and no chaincrawler store: point chaincrawler at another location"
            )
        if not writer:
            raise SchemaMissingError(
                f"no chaincrawler store at {where}; the crawler creates it (`chaincrawler run`)"
            )
        if not create_schema:
            raise SchemaMissingError(
                f"no chaincrawler store at {where} and schema creation is switched off"
            )
        yield CreateTables()
        meta = schema.new_store_meta(network, genesis_hash, created_at)
        yield ExecuteMany(sql.INSERT_META, list(meta.items()))
        return
    stored = {row[0]: row[1] for row in (yield Rows(sql.META))}
    version = schema.stored_version(stored, where=where, may_migrate=writer and create_schema)
    for target, statements in schema.migration_statements(version, dialect):
        log.info("migrating the store in place", store=where, to_schema_version=target)
        for statement in statements:
            yield Migrate(statement)
        yield Execute(sql.SET_META, (str(target), "schema_version"))
    if schema.same_network(stored, network, genesis_hash):
        return
    if not writer or (yield Value(sql.HOLDS_CHAIN)):
        raise schema.network_mismatch(stored, network, genesis_hash, where)
    log.warning(
        "re-stamping an empty store for another network", store=where,
        old_network=stored.get("network"), network=network,
    )
    yield Execute(sql.SET_META, (network, "network"))
    yield Execute(sql.SET_META, (genesis_hash, "genesis_hash"))


def commit_steps(
    blocks: Sequence[BlockRecord],
    events: Sequence[PendingEvent],
    snapshots: Sequence[PendingSnapshot],
    now: Any,
) -> Steps[CommitResult]:
    """``EventStore.commit``: check linkage under the log lock, then append."""
    yield LockLog()
    tip = _block((yield Row(sql.TIP)))
    for snapshot in check_commit(tip, blocks, events, snapshots):
        block = _block((yield Row(sql.CANONICAL_AT, (snapshot.block_height,))))
        if block is None or block.hash != snapshot.block_hash:
            raise snapshot_off_chain(snapshot, None if block is None else block.hash)
    first = (yield Value(sql.MAX_POSITION)) + 1
    versions = {}
    for model in {event.model for event in events}:
        versions[model] = yield Value(sql.MAX_ACTIVE_VERSION, (model,))
    if blocks:
        yield ExecuteMany(
            sql.INSERT_BLOCK, [(b.height, b.hash, b.prev_hash, b.time, now) for b in blocks]
        )
    if events:
        yield InsertEvents(event_rows(events, first, versions, now))
    if snapshots:
        yield ExecuteMany(
            sql.UPSERT_SNAPSHOT,
            [(s.model, s.block_height, s.block_hash, s.state, now) for s in snapshots],
        )
    yield Notify()
    return CommitResult(first, first + len(events) - 1)


def rollback_steps(
    fork_height: int, new_tip_hash: str | None, now: Any, parse_time: sql.TimeParser
) -> Steps[Reorg]:
    """``EventStore.rollback``: mark events, drop snapshots, orphan blocks, record the reorg."""
    yield LockLog()
    tip = _block((yield Row(sql.TIP)))
    if tip is None or fork_height >= tip.height:
        raise StoreConflictError(
            f"cannot roll back to height {fork_height}: the stored tip is "
            f"{'empty' if tip is None else tip.height}"
        )
    fork_hash = yield from _fork_hash(fork_height)
    last = yield Value(sql.MAX_POSITION)
    first = yield Value(sql.FIRST_ACTIVE_ABOVE, (fork_height,))
    reorg_id = yield Value(
        sql.INSERT_REORG,
        (fork_height, fork_hash, tip.height, tip.hash, new_tip_hash, tip.height - fork_height,
         last + 1 if first is None else first, last, now),
    )
    rolled_back = yield Execute(sql.ROLL_BACK_EVENTS, (reorg_id, fork_height))
    yield Execute(sql.SET_REORG_COUNT, (rolled_back, reorg_id))
    yield Execute(sql.DROP_SNAPSHOTS, (fork_height,))
    yield Execute(sql.ORPHAN_BLOCKS, (reorg_id, fork_height))
    row = yield Row(sql.REORG_BY_ID, (reorg_id,))
    yield Notify()
    return sql.reorg_from_row(row, parse_time)


def _fork_hash(fork_height: int) -> Steps[str]:
    """The hash of the block at ``fork_height``, stored or the lowest block's parent."""
    block = _block((yield Row(sql.CANONICAL_AT, (fork_height,))))
    if block is not None:
        return block.hash
    lowest = _block((yield Row(sql.LOWEST_CANONICAL)))
    if lowest is not None and lowest.height == fork_height + 1:
        return lowest.prev_hash
    raise StoreConflictError(
        f"cannot roll back to height {fork_height}: no canonical block stored there"
    )


def checkpoint_steps(subscriber: str, position: int, now: Any) -> Steps[None]:
    """``EventStore.set_checkpoint``."""
    yield Execute(sql.UPSERT_CHECKPOINT, (subscriber, position, now))


def register_models_steps(names: Sequence[str], now: Any) -> Steps[None]:
    """``EventStore.register_models``: add the names not recorded yet."""
    if names:
        yield ExecuteMany(sql.REGISTER_MODEL, [(name, now) for name in names])


class SqlWrites(SqlReads):
    """``EventStore``'s writes on top of a backend's ``_transact``.

    A backend names its ``_dialect`` ("sqlite" or "postgresql", for the schema's
    DDL and migrations) and how it stores a timestamp (``_now``).
    """

    _dialect: ClassVar[str]

    @abc.abstractmethod
    async def _transact(self, steps: Steps[T], mode: Mode) -> T:
        """Run ``steps`` in one transaction, committed if they return."""

    @staticmethod
    @abc.abstractmethod
    def _now() -> Any:
        """The current time as this backend stores it."""

    async def _prepare(
        self, where: str, network: str, genesis_hash: str, *, writer: bool, create_schema: bool
    ) -> None:
        """Create, migrate or re-stamp the store as ``prepare_steps`` says (part of open)."""
        steps = prepare_steps(
            self._dialect, where, network, genesis_hash, writer=writer,
            create_schema=create_schema, created_at=datetime.now(UTC).isoformat(),
        )
        await self._transact(steps, "writer" if writer else "read")

    async def commit(
        self,
        blocks: Sequence[BlockRecord],
        events: Sequence[PendingEvent],
        snapshots: Sequence[PendingSnapshot] = (),
    ) -> CommitResult:
        self._check_writer()
        return await self._transact(
            commit_steps(blocks, events, snapshots, self._now()), "writer"
        )

    async def rollback(self, fork_height: int, new_tip_hash: str | None = None) -> Reorg:
        self._check_writer()
        steps = rollback_steps(fork_height, new_tip_hash, self._now(), self._parse_time)
        return await self._transact(steps, "writer")

    async def set_checkpoint(self, subscriber: str, position: int) -> None:
        self._check_open()
        await self._transact(checkpoint_steps(subscriber, position, self._now()), "write")

    async def register_models(self, names: Sequence[str]) -> None:
        self._check_writer()
        await self._transact(register_models_steps(sorted(set(names)), self._now()), "writer")
