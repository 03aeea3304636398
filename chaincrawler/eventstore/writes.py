"""The writes both SQL backends share, written once as steps over primitive operations.

Each write (commit, rollback, checkpoint, model registration, and preparing the
schema on open) is a generator of ``ops`` steps; a backend runs the whole
generator inside one transaction (``SqlReads._transact``): all or nothing.
Statements have ``?`` placeholders; a backend rewrites them as its driver needs.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from chaincrawler.eventstore import mempool, schema, sql, stored
from chaincrawler.eventstore.commit import check_commit, event_rows, snapshot_off_chain
from chaincrawler.eventstore.errors import (
    NotAStoreError,
    SchemaMissingError,
    StoreConflictError,
)
from chaincrawler.eventstore.ops import (
    CreateTables,
    Execute,
    ExecuteMany,
    InsertRows,
    LockLog,
    Migrate,
    Notify,
    Row,
    Rows,
    Steps,
    Tables,
    Value,
)
from chaincrawler.eventstore.reads import SqlReads
from chaincrawler.eventstore.records import (
    BlockRecord,
    CollectionWrite,
    CommitResult,
    PendingEvent,
    PendingMempoolEvent,
    PendingSnapshot,
    Reorg,
    Retention,
)

log = structlog.get_logger(__name__)


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
    dialect: str,
    blocks: Sequence[BlockRecord],
    events: Sequence[PendingEvent],
    snapshots: Sequence[PendingSnapshot],
    writes: Sequence[CollectionWrite],
    retention: Retention | None,
    now: Any,
    mempool_events: Sequence[PendingMempoolEvent] = (),
    mempool_cutoff: Any | None = None,
) -> Steps[CommitResult]:
    """``EventStore.commit``: check linkage under the log lock, then append and prune.

    ``mempool_cutoff``: the time before which mempool events are pruned, if any.
    """
    yield LockLog()
    tip = _block((yield Row(sql.TIP)))
    if writes:
        stored.check_writes(blocks, writes)
    mempool.check_in_commit(blocks, mempool_events)
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
        yield InsertRows("events", sql.EVENT_COLUMNS, event_rows(events, first, versions, now))
    new_tip = blocks[-1].height if blocks else None if tip is None else tip.height
    if writes:
        assert new_tip is not None  # check_writes: every write names one of ``blocks``
        yield from stored.apply_steps(dialect, writes, retention, new_tip)
    if snapshots:
        yield ExecuteMany(
            sql.UPSERT_SNAPSHOT,
            [(s.model, s.block_height, s.block_hash, s.state, now) for s in snapshots],
        )
        if retention is not None and new_tip is not None:
            horizon = new_tip - retention.max_reorg_depth
            for model in sorted({s.model for s in snapshots}):
                yield Execute(
                    sql.PRUNE_SNAPSHOTS,
                    (model, horizon, model, horizon, model, retention.snapshots),
                )
    if mempool_events or mempool_cutoff is not None:
        yield from mempool.append_steps(mempool_events, now, mempool_cutoff)
    yield Notify()
    return CommitResult(first, first + len(events) - 1)


def mempool_append_steps(
    events: Sequence[PendingMempoolEvent], now: Any, cutoff: Any | None
) -> Steps[CommitResult]:
    """``EventStore.append_mempool_events``: under the log lock, append and prune."""
    mempool.check_in_commit((), events)
    yield LockLog()
    result = yield from mempool.append_steps(events, now, cutoff)
    yield Notify()
    return result


def mempool_failure_steps(model: str, error: str | None, now: Any) -> Steps[None]:
    """``EventStore.set_mempool_failure``."""
    if error is None:
        yield Execute(mempool.CLEAR_FAILURE, (model,))
    else:
        yield Execute(mempool.SET_FAILURE, (model, error, now))


def rollback_steps(
    dialect: str, fork_height: int, new_tip_hash: str | None, now: Any,
    parse_time: sql.TimeParser,
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
    yield from stored.restore_steps(fork_height)
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


def clear_model_steps(name: str) -> Steps[None]:
    """``EventStore.clear_model``: every row of one model, whatever its status."""
    yield from _delete_of_model(sql.CLEAR_MODEL, name)


def clear_collections_steps(name: str) -> Steps[None]:
    """``EventStore.clear_collections``: one model's snapshots and collections."""
    yield from _delete_of_model(sql.CLEAR_COLLECTIONS, name)


def _delete_of_model(statements: Sequence[str], name: str) -> Steps[None]:
    """Run ``statements`` (each deleting rows of one model) for model ``name``."""
    yield LockLog()
    for statement in statements:
        yield Execute(statement, (name,))
    yield Notify()


def adopt_collections_steps(
    name: str, staged: str, snapshots: Sequence[PendingSnapshot], version: str, now: Any
) -> Steps[None]:
    """``EventStore.adopt_collections``: the staged collections, snapshots and version
    replace the model's."""
    yield LockLog()
    for snapshot in snapshots:
        block = _block((yield Row(sql.CANONICAL_AT, (snapshot.block_height,))))
        if snapshot.model != name or block is None or block.hash != snapshot.block_hash:
            raise StoreConflictError(
                f"a snapshot adopted for model {name!r} is of model {snapshot.model!r} at "
                f"block {snapshot.block_height} {snapshot.block_hash}, which is not a "
                "canonical block of that model")
    for statement in sql.CLEAR_COLLECTIONS:
        yield Execute(statement, (name,))
    for statement in sql.ADOPT_COLLECTIONS:
        yield Execute(statement, (name, staged))
    if snapshots:
        yield ExecuteMany(
            sql.UPSERT_SNAPSHOT,
            [(s.model, s.block_height, s.block_hash, s.state, now) for s in snapshots],
        )
    yield from model_versions_steps({name: version}, now)
    yield Notify()


def reindexed_steps(
    dialect: str,
    events: Sequence[PendingEvent],
    snapshots: Sequence[PendingSnapshot],
    writes: Sequence[CollectionWrite],
    retention: Retention | None,
    now: Any,
) -> Steps[CommitResult]:
    """``EventStore.commit_reindexed``: events, snapshots and writes of stored canonical
    blocks."""
    yield LockLog()
    last_height: dict[str, int] = {}
    for event in events:
        if event.block_height < last_height.get(event.model, -1):
            raise StoreConflictError(
                f"events of a commit must be in block order: an event of model {event.model!r} "
                f"at block {event.block_height} follows one at block {last_height[event.model]}"
            )
        last_height[event.model] = event.block_height
    for model in sorted(last_height):
        newest = yield Value(sql.LAST_ACTIVE_HEIGHT_OF, (model,))
        first = min(e.block_height for e in events if e.model == model)
        if newest is not None and newest > first:
            raise StoreConflictError(
                f"model {model!r} already has events up to block {newest}; re-indexed events "
                f"must continue its stream, not start at block {first}"
            )
    named = {(e.block_height, e.block_hash) for e in events}
    named |= {(s.block_height, s.block_hash) for s in snapshots}
    named |= {(w.block_height, w.block_hash) for w in writes}
    for height, block_hash in sorted(named):
        block = _block((yield Row(sql.CANONICAL_AT, (height,))))
        if block is None or block.hash != block_hash:
            raise StoreConflictError(
                f"re-indexed data names block {height} {block_hash}, but the canonical block "
                f"there is {None if block is None else block.hash}"
            )
    first_position = (yield Value(sql.MAX_POSITION)) + 1
    versions = {}
    for model in last_height:
        versions[model] = yield Value(sql.MAX_ACTIVE_VERSION, (model,))
    if events:
        yield InsertRows("events", sql.EVENT_COLUMNS,
                         event_rows(events, first_position, versions, now))
    for model in sorted({s.model for s in snapshots}):
        yield Execute(sql.DROP_MODEL_SNAPSHOTS, (model,))
    if snapshots:
        yield ExecuteMany(
            sql.UPSERT_SNAPSHOT,
            [(s.model, s.block_height, s.block_hash, s.state, now) for s in snapshots],
        )
    if writes:
        stored.check_writes([BlockRecord(h, b, "", 0) for h, b in named], writes)
        tip = _block((yield Row(sql.TIP, ())))
        assert tip is not None  # every write names a canonical block
        yield from stored.apply_steps(dialect, writes, retention, tip.height)
    yield Notify()
    return CommitResult(first_position, first_position + len(events) - 1)


def checkpoint_steps(subscriber: str, position: int, now: Any) -> Steps[None]:
    """``EventStore.set_checkpoint``."""
    yield Execute(sql.UPSERT_CHECKPOINT, (subscriber, position, now))


def register_models_steps(names: Sequence[str], now: Any) -> Steps[None]:
    """``EventStore.register_models``: add the names not recorded yet."""
    if names:
        yield ExecuteMany(sql.REGISTER_MODEL, [(name, now) for name in names])


def model_versions_steps(versions: Mapping[str, str], now: Any) -> Steps[None]:
    """``EventStore.set_model_versions``: record each version, registering new models."""
    rows = [(name, version, now) for name, version in sorted(versions.items())]
    if rows:
        yield ExecuteMany(sql.SET_MODEL_VERSION, rows)


class SqlWrites(SqlReads):
    """``EventStore``'s writes on top of a backend's ``_transact``.

    A backend also says how it stores a timestamp (``_stamp``).
    """

    @staticmethod
    @abc.abstractmethod
    def _stamp(moment: datetime) -> Any:
        """``moment`` (aware) as this backend stores a timestamp."""

    def _now(self) -> Any:
        """The current time as this backend stores it."""
        return self._stamp(datetime.now(UTC))

    def _now_and_cutoff(self, retention: timedelta | None) -> tuple[Any, Any | None]:
        """Now, and ``retention`` before now (None without one), from one reading."""
        moment = datetime.now(UTC)
        cutoff = None if retention is None else self._stamp(moment - retention)
        return self._stamp(moment), cutoff

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
        writes: Sequence[CollectionWrite] = (),
        *,
        retention: Retention | None = None,
        mempool_events: Sequence[PendingMempoolEvent] = (),
    ) -> CommitResult:
        self._check_writer()
        now, cutoff = self._now_and_cutoff(None if retention is None else retention.mempool_events)
        steps = commit_steps(
            self._dialect, blocks, events, snapshots, writes, retention, now,
            mempool_events, cutoff,
        )
        return await self._transact(steps, "writer")

    async def append_mempool_events(
        self, events: Sequence[PendingMempoolEvent], *, retention: timedelta | None = None
    ) -> CommitResult:
        self._check_writer()
        now, cutoff = self._now_and_cutoff(retention)
        return await self._transact(mempool_append_steps(events, now, cutoff), "writer")

    async def set_mempool_failure(self, model: str, error: str | None) -> None:
        self._check_writer()
        await self._transact(mempool_failure_steps(model, error, self._now()), "writer")

    async def rollback(self, fork_height: int, new_tip_hash: str | None = None) -> Reorg:
        self._check_writer()
        steps = rollback_steps(
            self._dialect, fork_height, new_tip_hash, self._now(), self._parse_time
        )
        return await self._transact(steps, "writer")

    async def commit_reindexed(
        self,
        events: Sequence[PendingEvent],
        snapshots: Sequence[PendingSnapshot] = (),
        writes: Sequence[CollectionWrite] = (),
        *,
        retention: Retention | None = None,
    ) -> CommitResult:
        self._check_writer()
        steps = reindexed_steps(self._dialect, events, snapshots, writes, retention, self._now())
        return await self._transact(steps, "writer")

    async def clear_model(self, name: str) -> None:
        self._check_writer()
        await self._transact(clear_model_steps(name), "writer")

    async def clear_collections(self, name: str) -> None:
        self._check_writer()
        await self._transact(clear_collections_steps(name), "writer")

    async def adopt_collections(self, name: str, staged: str,
                                snapshots: Sequence[PendingSnapshot], version: str) -> None:
        self._check_writer()
        await self._transact(
            adopt_collections_steps(name, staged, snapshots, version, self._now()), "writer")

    async def set_checkpoint(self, subscriber: str, position: int) -> None:
        self._check_open()
        await self._transact(checkpoint_steps(subscriber, position, self._now()), "write")

    async def register_models(self, names: Sequence[str]) -> None:
        self._check_writer()
        await self._transact(register_models_steps(sorted(set(names)), self._now()), "writer")

    async def set_model_versions(self, versions: Mapping[str, str]) -> None:
        self._check_writer()
        await self._transact(model_versions_steps(versions, self._now()), "writer")
