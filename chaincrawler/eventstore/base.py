"""The EventStore interface every backend implements."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Self

from chaincrawler.eventstore.errors import StoreClosedError, StoreReadOnlyError
from chaincrawler.eventstore.records import (
    AtTip,
    BlockRecord,
    CollectionWrite,
    CommitResult,
    EventQuery,
    MempoolEventQuery,
    MempoolFailure,
    PendingEvent,
    PendingMempoolEvent,
    PendingSnapshot,
    Reorg,
    Retention,
    Snapshot,
    StoredEvent,
    StoredMempoolEvent,
)


class EventStore(abc.ABC):
    """An append-only event log with a chain of blocks, snapshots and checkpoints.

    Exactly one writer per store (``open(writer=True)`` takes an exclusive lock);
    any number of readers (``writer=False``) read concurrently without blocking.
    Use::

        store = open_store("sqlite:///chain.db")
        await store.open(network="regtest", genesis_hash=REGTEST.genesis_hash)
        async with store:                     # closes the store on exit
            await store.commit(blocks, events, snapshots)

    Every error raised is an ``EventStoreError``; driver errors are translated.
    """

    def __init__(self) -> None:
        self._opened = False
        self._writer = False

    @property
    def is_open(self) -> bool:
        """Whether ``open()`` succeeded and ``close()`` was not called since."""
        return self._opened

    @property
    def is_writer(self) -> bool:
        """Whether this store holds the single-writer lock."""
        return self._opened and self._writer

    @abc.abstractmethod
    async def open(
        self, *, network: str, genesis_hash: str, writer: bool = True, create_schema: bool = True
    ) -> None:
        """Connect, take the lock (writer), create or migrate the store, check its network.

        Only a writer creates or changes anything: it creates a missing store and
        migrates an older one in place, in one transaction. ``create_schema=False``
        turns that off: a missing store raises SchemaMissingError, an older one
        SchemaVersionError. A reader never creates anything (SchemaMissingError)
        and refuses an older store. An empty store (no blocks, no events) stamped
        for another network is re-stamped for the writer, with a warning logged.

        Raises StoreNetworkMismatchError if a store holding blocks or events was created
        for another network or genesis hash, SchemaVersionError for a newer schema,
        NotAStoreError when the location holds another application's data,
        StoreAccessError when it cannot be reached or written (a missing
        directory, no permission), and StoreLockedError if ``writer`` and another
        process is writing.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the writer lock and every connection. Safe to call twice."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- writes (writer only) -------------------------------------------------

    @abc.abstractmethod
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
        """Append blocks on top of the canonical tip, with their events, snapshots and writes.

        One transaction, all or nothing. ``blocks`` must be consecutive and the
        first must extend the stored tip (any height on an empty store); every
        event must belong to one of ``blocks``, in block order; a snapshot must
        name one of ``blocks`` or a stored canonical block; every collection
        write must name one of ``blocks``, at most once per key and block.
        Otherwise raises StoreConflictError and writes nothing, which is what
        makes a restart after a crash never store a block twice. Events get
        gap-free global positions in the given order and per-model versions
        continuing each model's active stream.

        ``writes`` change stored collections; the store keeps what each block of
        the reorg window wrote apart (the overlay) for ``rollback``. With
        ``retention``, the same transaction settles and deletes what it does not
        keep: the writes of blocks at or below ``tip - max_reorg_depth`` go into
        the collections' base (in a commit with writes, in batches of blocks:
        see ``stored``) and, for each model
        snapshotted in this commit, its
        snapshots that ``Retention`` does not keep, and mempool events older than
        ``Retention.mempool_events``. Without it, nothing is deleted.

        ``mempool_events`` are appended to the mempool log in the same transaction
        (those naming a block must name one of ``blocks``): what mempool models
        emitted when these blocks confirmed transactions. The result's positions
        are those of the block events.
        """

    @abc.abstractmethod
    async def rollback(self, fork_height: int, new_tip_hash: str | None = None) -> Reorg:
        """Undo every canonical block above ``fork_height``, in one transaction.

        Their events are marked rolled back with the new reorg's id (never
        deleted, payloads untouched), snapshots above the fork are deleted,
        stored collections lose the writes of the blocks above the fork (their
        overlay blocks are marked orphaned; later commits delete the rows), the
        blocks are kept as orphaned, and
        a reorg row is recorded. ``new_tip_hash`` (the tip of the winning
        branch, if known) is recorded with it. Costs O(events rolled back +
        blocks rolled back), not of the size of the state. Raises
        StoreConflictError if ``fork_height`` is not below the tip or not on the
        stored chain, and HistoryPrunedError if the collections' writes above
        ``fork_height`` were settled.
        """

    @abc.abstractmethod
    async def commit_reindexed(
        self,
        events: Sequence[PendingEvent],
        snapshots: Sequence[PendingSnapshot] = (),
        writes: Sequence[CollectionWrite] = (),
        *,
        retention: Retention | None = None,
    ) -> CommitResult:
        """Append events, snapshots and collection writes of a model being re-indexed to
        stored blocks.

        One transaction, all or nothing, adding no block: every event, snapshot and
        write must name a stored canonical block, each model's events in block order and
        not below its newest active event, a key written at most once per block
        (StoreConflictError otherwise). Events get the next global positions (so, unlike
        ``commit``'s, they need not follow heights across models) and versions
        continuing the model's active stream. Each snapshot replaces every stored
        snapshot of its model. Writes are applied as ``commit`` applies them: those of
        the stored tip's reorg window kept apart for a rollback, with ``retention``
        those below it settled.
        """

    @abc.abstractmethod
    async def clear_model(self, name: str) -> None:
        """Delete one model's events (active and rolled back), snapshots and collections.

        One transaction; the only deletion of events there is (the log is otherwise
        append-only): a re-index from the node replaces that model's events. The
        model stays registered; blocks and every other model's data are untouched.
        """

    @abc.abstractmethod
    async def clear_collections(self, name: str) -> None:
        """Delete one model's snapshots and stored collections (settled values and window rows);
        its events stay. One transaction; every other model's data is untouched."""

    @abc.abstractmethod
    async def adopt_collections(self, name: str, staged: str,
                                snapshots: Sequence[PendingSnapshot], version: str) -> None:
        """Replace model ``name``'s collections by those written under the name ``staged``
        (settled values and window rows), its snapshots by ``snapshots`` (of canonical blocks,
        StoreConflictError otherwise) and record its ``version``: one transaction, so a
        model rebuilt from its events under another name takes its place all at once."""

    # -- mempool events -----------------------------------------------------------
    #
    # A log of their own, apart from block events: positions of their own (from 1, in
    # append order), never rolled back by a reorg and never replayed into block state.

    @abc.abstractmethod
    async def append_mempool_events(
        self, events: Sequence[PendingMempoolEvent], *, retention: timedelta | None = None
    ) -> CommitResult:
        """Append mempool events (no block: each must name none) in one transaction.

        With ``retention``, the same transaction deletes the mempool events older
        than that, except the newest one (positions continue from it, never restart).
        Wakes readers like a commit. Returns the positions given (writer only).
        """

    @abc.abstractmethod
    async def read_mempool_events(
        self, query: MempoolEventQuery | None = None
    ) -> list[StoredMempoolEvent]:
        """The mempool events ``query`` selects (all if None), in position order."""

    @abc.abstractmethod
    async def max_mempool_position(self) -> int:
        """The highest mempool event position stored; 0 when there is none."""

    @abc.abstractmethod
    async def set_mempool_failure(self, model: str, error: str | None) -> None:
        """Record that mempool model ``model`` was stopped by ``error`` (None: it runs
        again, forget its failure); writer only."""

    @abc.abstractmethod
    async def mempool_failures(self) -> list[MempoolFailure]:
        """The mempool models recorded as stopped by an error, by name."""

    # -- chain ----------------------------------------------------------------

    @abc.abstractmethod
    async def tip(self) -> BlockRecord | None:
        """The highest canonical block, or None for an empty store."""

    @abc.abstractmethod
    async def canonical_block(self, height: int) -> BlockRecord | None:
        """The canonical block at ``height``, if stored."""

    @abc.abstractmethod
    async def chain_window(self, depth: int) -> list[BlockRecord]:
        """The last ``depth`` canonical blocks, in ascending height."""

    @abc.abstractmethod
    async def orphaned_blocks(
        self, *, reorg_id: int | None = None, limit: int = 100
    ) -> list[BlockRecord]:
        """Orphaned blocks (all, or those of one reorg), most recent reorg first."""

    @abc.abstractmethod
    async def reorgs(self, limit: int = 100) -> list[Reorg]:
        """The most recent reorgs, newest first."""

    # -- events ---------------------------------------------------------------

    @abc.abstractmethod
    async def read_events(self, query: EventQuery | None = None) -> list[StoredEvent]:
        """The events ``query`` selects (all active events if None), ordered by position."""

    async def iter_events(
        self, query: EventQuery | None = None, batch_size: int = 10_000
    ) -> AsyncIterator[StoredEvent]:
        """Like ``read_events`` but fetched ``batch_size`` at a time, for big replays."""
        query = query or EventQuery()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        remaining = query.limit
        while remaining is None or remaining > 0:
            size = batch_size if remaining is None else min(batch_size, remaining)
            batch = await self.read_events(dataclasses.replace(query, limit=size))
            for event in batch:
                yield event
            if len(batch) < size:
                return
            if remaining is not None:
                remaining -= len(batch)
            last = batch[-1].position
            if query.order == "asc":
                query = dataclasses.replace(query, from_position=last + 1)
            else:
                query = dataclasses.replace(query, to_position=last - 1)

    @abc.abstractmethod
    async def max_position(self) -> int:
        """The highest position stored (rolled-back events included); 0 when empty."""

    # -- snapshots, checkpoints, meta ------------------------------------------

    @abc.abstractmethod
    async def latest_snapshot(self, model: str, max_height: int | None = None) -> Snapshot | None:
        """The newest snapshot of ``model`` at or below ``max_height`` (any height if None)."""

    @abc.abstractmethod
    async def get_checkpoint(self, subscriber: str) -> int | None:
        """The last position ``subscriber`` recorded, if any."""

    @abc.abstractmethod
    async def set_checkpoint(self, subscriber: str, position: int) -> None:
        """Record the last position ``subscriber`` processed (readers may call it too)."""

    @abc.abstractmethod
    async def meta(self) -> dict[str, str]:
        """Facts about the store: schema_version, network, genesis_hash, created_at."""

    # -- models -------------------------------------------------------------------

    @abc.abstractmethod
    async def known_models(self) -> set[str]:
        """The names of the models the store holds the history of (``register_models``)."""

    @abc.abstractmethod
    async def register_models(self, names: Sequence[str]) -> None:
        """Record that the store holds the history of the models ``names`` from now on.

        Idempotent (a recorded name stays as it was); writer only.
        """

    @abc.abstractmethod
    async def model_versions(self) -> dict[str, str | None]:
        """Each known model's recorded version (None: none recorded yet)."""

    @abc.abstractmethod
    async def set_model_versions(self, versions: Mapping[str, str]) -> None:
        """Record the version of the code of each model (registering new ones); writer only."""

    # -- stored collections ----------------------------------------------------------
    #
    # Each read runs in one read transaction and returns the canonical tip it saw with
    # its result (``AtTip``): the values are those committed with that tip. Values are
    # JSON text exactly as written; keys are ordered by their UTF-8 bytes.

    @abc.abstractmethod
    async def get_many(
        self, model: str, collection: str, keys: Sequence[str], *, at_height: int | None = None
    ) -> AtTip[dict[str, str]]:
        """The values of those ``keys`` that are present, in the order asked (one batch).

        ``at_height``: the values after the canonical block at that height, from
        what the blocks of the reorg window wrote; raises HistoryPrunedError above
        the tip or below the settled height (the window).
        """

    @abc.abstractmethod
    async def scan(
        self, model: str, collection: str, *, after: str | None = None, limit: int = 1000
    ) -> AtTip[list[tuple[str, str]]]:
        """Up to ``limit`` (key, value) pairs in key order, after the key ``after``.

        Page on with ``after=`` the last key of a page; each page reports its tip.
        """

    @abc.abstractmethod
    async def count(self, model: str, collection: str) -> AtTip[int]:
        """How many keys the collection holds (cost O(keys) on both backends)."""

    # -- following, removing -------------------------------------------------------

    @abc.abstractmethod
    def changes(self, poll_interval: float = 0.5) -> AsyncGenerator[None, None]:
        """Yield at once, then each time the store may have changed since the last yield.

        For reader processes following a writer: ``async for _ in store.changes():``
        read what is new. Every commit and rollback of another store object or
        process wakes it (PostgreSQL: ``LISTEN``, or polling every ``poll_interval``
        seconds where the server refuses it, as a hot standby does; SQLite: polling
        ``PRAGMA data_version``). A wake-up may be spurious and several changes may
        give one wake-up; nothing is delivered through it but the wake-up.
        """

    @abc.abstractmethod
    async def destroy(self) -> str:
        """Remove the store and everything in it; return what was removed ("nothing").

        Works on a store that is not open, or open as the writer (it is closed
        first). Raises StoreLockedError while another writer holds the store,
        StoreReadOnlyError on a store opened as a reader, and NotAStoreError when
        the location holds something that is not a chaincrawler store.
        """

    # -- helpers for backends -------------------------------------------------

    def _check_open(self) -> None:
        if not self._opened:
            raise StoreClosedError(f"{self!r} is not open; call open() first")

    def _check_writer(self) -> None:
        self._check_open()
        if not self._writer:
            raise StoreReadOnlyError(
                f"{self!r} was opened with writer=False; only the writer may commit or roll back"
            )
