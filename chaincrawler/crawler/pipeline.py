"""The Crawler: feeds blocks to models in height order and commits their events.

For each block: check it links to the stored tip (else handle a reorg), run every
model's ``process_block``, and commit the block with its events (and due snapshots)
in one store transaction -- one block at the tip, a batch of blocks while catching up.
At the tip, a due snapshot is left out of the block's commit and written in a commit of
its own once the crawler is caught up (the models then hold exactly the committed state),
and garbage is collected then too (``heap``): neither delays the next tip block.
Listeners hear of commits and rollbacks only after the store has them.

While catching up, a batch's commit runs while the models process the next batch (the
store works on the other core: SQLite in its thread, PostgreSQL in its server); at most
one commit is in flight, commits keep their order, and the next one waits for it. The
state is clean (``committed()`` readers let in) only after a commit with nothing
processed beyond it, so a batch commits in the foreground while a reader waits, and
always when a model keeps stored collections (their values count as committed only
once every processed block is).

Its parts live apart: how the next tip is awaited in ``follow``, how state is rebuilt
in ``restore``, which models a store may run in ``registry``, where the chain forked in
``reorg``, how blocks are fetched in ``source``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from chaincrawler.chain.networks import Network
from chaincrawler.crawler.errors import (
    CrawlerError,
    DeepReorgError,
    InconsistentNodeError,
    ModelFailedError,
    NodeNetworkMismatchError,
)
from chaincrawler.crawler.follow import NodeOutage, PollingFollower, TipFollower, is_outage, pause
from chaincrawler.crawler.heap import IdleCollector
from chaincrawler.crawler.mempool_models import MempoolFeed
from chaincrawler.crawler.prevouts import PrevoutResolver
from chaincrawler.crawler.progress import Progress
from chaincrawler.crawler.registry import check_models
from chaincrawler.crawler.reindex import reindex_from_node
from chaincrawler.crawler.reorg import find_fork_height
from chaincrawler.crawler.restore import restore_model
from chaincrawler.crawler.source import BlockSource, FetchedBlock
from chaincrawler.eventstore import (
    BlockRecord,
    CollectionWrite,
    EventStore,
    PendingEvent,
    PendingMempoolEvent,
    PendingSnapshot,
    Reorg,
    Retention,
)
from chaincrawler.models import ChainModel, Model, validate_models
from chaincrawler.node.client import NodeClient
from chaincrawler.node.errors import NodeError

log = structlog.get_logger(__name__)

IDLE_GRACE = 0.05
"""Seconds caught up, with no new block, before the idle work (snapshots, garbage
collection) starts: the last commit's listeners (stream clients...) are served first."""


@dataclass(frozen=True, slots=True)
class CrawlerOptions:
    """How the crawler fetches, commits and recovers (see ``Settings.crawler``)."""

    start_height: int = 0
    max_reorg_depth: int = 100
    snapshot_interval: int = 100
    catchup_batch_blocks: int = 50
    catchup_batch_writes: int = 200_000
    """Stored-collection writes that end a catch-up batch early: the batch commits after
    the block that brings its writes to this many (they are all in memory until then)."""
    prefetch_bytes: int = 64 * 1024 * 1024
    fetch_concurrency: int = 4
    fetch_chunk_blocks: int = 8
    poll_interval: float = 1.0
    """Seconds between polls of the node's tip (the default follower)."""
    on_model_error: str = "stop"
    model_error_retries: int = 3
    prevout_cache_entries: int = 300_000
    snapshots_kept: int = 2
    """Snapshots kept per model besides those restoring within ``max_reorg_depth`` needs."""
    collection_cache_entries: int = 100_000
    """Clean values each stored collection keeps in memory (an LRU)."""
    address_worker: bool = False
    """Derive txids, merkle checks and output addresses of catch-up ranges in a worker
    process (see :class:`~chaincrawler.crawler.source.BlockSource`)."""


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What one ``Crawler.run`` did: ``blocks`` committed, the committed ``tip`` at the end,
    and, when it crawled nothing, why (``idle``)."""

    tip: BlockRecord | None
    blocks: int
    idle: str | None = None

    def describe(self) -> str:
        """One line for a person: what was committed, or why nothing was."""
        at = f"tip {self.tip.height} ({self.tip.hash})" if self.tip else "the store is empty"
        if self.blocks == 0:
            return f"nothing crawled: {self.idle or 'stopped before the first block'}; {at}"
        return f"committed {self.blocks} block(s); {at}"


@dataclass(frozen=True, slots=True)
class Committed:
    """Blocks (with their events at ``positions``) are now in the store.

    ``commit_seconds`` is the store's commit transaction.
    """

    blocks: tuple[BlockRecord, ...]
    positions: range
    commit_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class RolledBack:
    """A reorg rolled back every event above ``reorg.fork_height``.

    ``rollback_seconds`` is the store's rollback transaction, ``restore_seconds`` the
    rebuild of every model's state at the fork (snapshot plus replay).
    """

    reorg: Reorg
    rollback_seconds: float = 0.0
    restore_seconds: float = 0.0


Notification = Committed | RolledBack
Listener = Callable[[Notification], Awaitable[None] | None]


class _ModelRaised(Exception):
    def __init__(self, model: Model, exc: Exception) -> None:
        super().__init__(model.name)
        self.model = model
        self.exc = exc


@dataclass(slots=True)
class _Processed:
    record: BlockRecord
    events: list[PendingEvent]
    tx_count: int
    writes: list[CollectionWrite]
    snapshots: list[PendingSnapshot]
    """Of the models with stored collections: their plain state after this block."""


class _ChainModelHooks:
    """The loop's dealings with the built-in chain model, all in one place.

    It runs first (one is made when the models include none), runs in every crawl (so
    the store's model registry never refuses it), hears of each reorg after the
    rollback, and hears the newest one again when a crash lost that note.
    """

    def __init__(self, models: Sequence[Model]) -> None:
        chain = [m for m in models if isinstance(m, ChainModel)]
        self.model = chain[0] if chain else ChainModel()
        self.models: list[Model] = [self.model, *(m for m in models if m not in chain)]

    def reorged(self, reorg: Reorg) -> None:
        """Tell the chain model; it records the reorg with the new branch's first block."""
        self.model.note_reorg(
            reorg.fork_height, reorg.depth, reorg.old_tip_height, reorg.old_tip_hash
        )

    async def renote_unrecorded(self, store: EventStore) -> None:
        """A crash between a rollback and the next commit loses the chain model's note."""
        newest = await store.reorgs(limit=1)
        if not newest:
            return
        reorg = newest[0]
        seen = {(r.fork_height, r.old_tip_hash) for r in self.model.reorg_history}
        if (reorg.fork_height, reorg.old_tip_hash) not in seen:
            self.reorged(reorg)


class Crawler:
    """Follows a node and keeps the models' state and the event store in step with it.

    ``follower`` decides how the next tip is awaited once caught up (default: polling
    every ``options.poll_interval`` seconds). ``mempool``: the feed of the mempool
    models, told of each block so its confirmations commit with the block.
    """

    def __init__(
        self,
        node: NodeClient,
        store: EventStore,
        models: Sequence[Model],
        network: Network,
        options: CrawlerOptions | None = None,
        *,
        progress: Progress | None = None,
        follower: TipFollower | None = None,
        mempool: MempoolFeed | None = None,
    ) -> None:
        self.node = node
        self._mempool = mempool
        self.store = store
        self.network = network
        self.options = options or CrawlerOptions()
        self._chain = _ChainModelHooks(models)
        self.chain_model = self._chain.model
        self.models: list[Model] = self._chain.models
        validate_models(self.models)
        for model in self.models:
            for collection in model.stored_collections().values():
                collection.attach(store, self.options.collection_cache_entries)
        self._follower = follower or PollingFollower(self.options.poll_interval)
        # Each commit deletes the snapshots no restore can need any more, and settles the
        # window rows of stored collections that left the reorg window.
        self._retention = Retention(self.options.max_reorg_depth, self.options.snapshots_kept)
        self._listeners: list[Listener] = []
        self._stopping = asyncio.Event()
        self._tip: BlockRecord | None = None
        # True only while every model's state is exactly its snapshot plus the replay of
        # its committed events up to self._tip: snapshots are taken, and committed()
        # readers let in, only then. Guarded by the condition for committed().
        self._clean = False
        self._state = asyncio.Condition()
        self._failed = False  # run() ended with state not clean: committed() cannot serve
        self._last_snapshot: dict[str, int] = {}
        self._resolver = (
            PrevoutResolver(node, self.options.prevout_cache_entries)
            if any(m.needs_prevouts for m in self.models)
            else None
        )
        self._progress = progress
        self._outage = NodeOutage()
        self._heap = IdleCollector()
        self._blocks_committed = 0
        self._idle: str | None = None
        self._inflight: asyncio.Future[None] | None = None  # the commit in the background
        self._readers_waiting = 0  # committed() callers waiting for a clean state
        self._overlap = not any(m.has_stored_collections() for m in self.models)
        self._closing = False  # the run ends once caught up (no follow)

    # -- public API -------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` after each commit and each rollback."""
        self._listeners.append(listener)

    def stop(self) -> None:
        """Ask the crawler to stop after the current block; it commits and snapshots first."""
        self._stopping.set()

    @property
    def tip(self) -> BlockRecord | None:
        """The last committed block."""
        return self._tip

    @property
    def node_outage_since(self) -> float | None:
        """When (``time.time()``) the node stopped answering while following; None if it answers."""
        return self._outage.since

    @contextlib.asynccontextmanager
    async def committed(self) -> AsyncIterator[BlockRecord | None]:
        """Hold the models at committed state: waits while a block or catch-up batch is
        being processed (models then hold uncommitted blocks), and the crawler starts no
        new block until the context exits. Yields the committed tip.

        Also waits until ``start()`` restored the models. Raises CrawlerError when the
        crawler stopped with models not at committed state (it failed mid-block). Keep
        the context short: the crawler waits for it.
        """
        async with self._state:
            self._readers_waiting += 1
            try:
                await self._state.wait_for(lambda: self._clean or self._failed)
            finally:
                self._readers_waiting -= 1
            if not self._clean:
                raise CrawlerError(
                    "the crawler stopped with its models holding uncommitted state; restart it"
                )
            yield self._tip

    async def start(self) -> None:
        """Check the node's network and the store's models; rebuild every model's state.

        A model the store holds no history of is first brought to the stored tip from
        the node (``reindex_from_node``); ModelVersionError for one of another version.
        """
        await self._check_node_network()
        await self._dirty()
        self._tip = await self.store.tip()
        behind = await check_models(self.store, self.models, self._tip,
                                    always_run=self.chain_model.name)
        if behind:
            log.info("bringing models to the store's tip from the node", models=behind)
            await reindex_from_node(self.node, self.store,
                                    [m for m in self.models if m.name in behind],
                                    self.network, self.options)
        await self._restore_all()
        await self._chain.renote_unrecorded(self.store)

    async def run(self, *, follow: bool = True, until_height: int | None = None) -> RunSummary:
        """Crawl to the node's tip, then (with ``follow``) keep following it until stopped.

        ``until_height`` stops once that height is committed. On return every model's
        state is snapshotted at the committed tip. While following, a node outage is
        waited out (``node_outage_since``); without ``follow`` it ends the run.
        A run that crawls nothing logs why and says so in its summary.
        """
        self._blocks_committed = 0
        self._idle = None
        self._failed = False
        self._closing = not follow
        self._heap.hold()
        try:
            await self.start()
            async with self._follower:
                await self._crawl(follow, until_height)
        finally:
            self._heap.release()
            await self._snapshot_all()
            if not self._clean:
                async with self._state:
                    self._failed = True
                    self._state.notify_all()
        return RunSummary(self._tip, self._blocks_committed, self._idle)

    # -- the loop -------------------------------------------------------------------

    async def _crawl(self, follow: bool, until_height: int | None) -> None:
        while not self._stopping.is_set():
            tip = self._tip
            if until_height is not None and tip is not None and tip.height >= until_height:
                self._nothing_done(f"the stored tip (height {tip.height}) is at or above "
                                   f"until_height {until_height}")
                break
            try:
                caught_up = await self._step(until_height)
            except NodeError as exc:
                if not (follow and is_outage(exc)):
                    raise
                delay = self._outage.failed(exc)
                if not self._clean:
                    await self._restore_all()  # drop the blocks processed but not committed
                await pause(self._stopping, delay)
                continue
            if caught_up:
                if not follow:
                    break
                await self._wait_while_idle()

    def _nothing_done(self, reason: str) -> None:
        """Say once why a run that has committed nothing has nothing to do."""
        if self._blocks_committed or self._idle is not None:
            return
        self._idle = reason
        log.info("nothing to crawl", reason=reason)

    async def _step(self, until_height: int | None) -> bool:
        """Crawl what the node has beyond our tip; True when nothing was left to do."""
        node_height = await self.node.get_block_count()
        self._outage.ended()  # the node answers
        tip = self._tip
        if tip is not None and await self._tip_is_stale(tip, node_height):
            await self._reorg(node_height)
            return False
        next_height = tip.height + 1 if tip else self.options.start_height
        target = node_height if until_height is None else min(node_height, until_height)
        if next_height > target:
            self._nothing_done(self._idle_reason(next_height, node_height, until_height))
            return True
        source = BlockSource(
            self.node,
            self.network,
            chunk_blocks=self.options.fetch_chunk_blocks,
            concurrency=self.options.fetch_concurrency,
            max_bytes=self.options.prefetch_bytes,
            spent_outputs=self._resolver is not None,
            derive_in_worker=self.options.address_worker,
        )
        if self._progress:
            self._progress.target(target)
        # Catching up (more than one block to go), the collector's automatic passes wait
        # for the collection after each batch.
        pause = self._heap.catching_up() if target > next_height else contextlib.nullcontext()
        try:
            with pause:
                await self._crawl_range(source, next_height, target)
        finally:
            await self._drain()
        return False

    async def _crawl_range(self, source: BlockSource, next_height: int, target: int) -> None:
        """Process and commit blocks ``next_height..target`` as ``source`` brings them; ends
        early at a stop, or at a block that does not extend the last one (the next step
        then sees the stale tip and handles the reorg)."""
        batch: list[_Processed] = []
        writes = 0  # stored-collection writes of the batch
        linked = self._tip  # the last block processed: of this batch, or committed
        async for fetched in source.blocks(next_height, target):
            expected = linked.hash if linked else None
            if expected is not None and fetched.block.prev_hash != expected:
                await self._commit(batch)
                await self._unlinked()
                return
            batch.append(await self._process(fetched, batch))
            linked = batch[-1].record
            writes += len(batch[-1].writes)
            at_tip = fetched.height == target
            full = (len(batch) >= self.options.catchup_batch_blocks
                    or writes >= self.options.catchup_batch_writes)
            if full or at_tip or self._snapshot_due(fetched.height):
                # a run ending after a catch-up snapshots while the last batch commits (not
                # after each block of one chasing the node's tip block by block)
                closing = at_tip and self._closing and target > next_height
                await self._commit(batch, defer_snapshots=at_tip, background=not at_tip,
                                   closing=closing)
                batch = []
                writes = 0
                if not at_tip:  # catching up: the next batch's collections skip this one's
                    self._heap.settle()
            elif self._inflight is not None and self._inflight.done():
                await self._drain()  # a failed background commit stops the crawl now
            if self._stopping.is_set():
                break
        await self._commit(batch)

    def _idle_reason(self, next_height: int, node_height: int, until_height: int | None) -> str:
        if until_height is not None and next_height > until_height:
            return f"until_height {until_height} is below the next height to crawl ({next_height})"
        if self._tip is None:
            return (f"start_height {next_height} is beyond the node's tip (height "
                    f"{node_height})")
        return f"already at the node's tip (height {node_height})"

    async def _unlinked(self) -> None:
        """A fetched block does not extend our tip: a reorg under way, or a lying node.

        When the node, asked now, still has our tip at its height and a block above it
        that claims another parent, its chain contradicts itself: stop rather than loop.
        """
        tip = self._tip
        if tip is None:
            return
        here, above = await self.node.get_block_hashes([tip.height, tip.height + 1])
        if here != tip.hash or above is None:
            return  # the node's chain changed: the next step handles the reorg
        parent = (await self.node.get_block_header(above)).get("previousblockhash")
        if parent != tip.hash:
            raise InconsistentNodeError(
                self.node.nodes,
                f"its block at height {tip.height} is {tip.hash}, but its block {above} at "
                f"height {tip.height + 1} names {parent} as previous block",
            )

    async def _tip_is_stale(self, tip: BlockRecord, node_height: int) -> bool:
        if node_height < tip.height:
            return True
        return (await self.node.get_block_hashes([tip.height]))[0] != tip.hash

    # -- processing -----------------------------------------------------------------

    async def _process(self, fetched: FetchedBlock, earlier: list[_Processed]) -> _Processed:
        """Run every model on one block; on a model error recover, then retry or stop."""
        attempt = 0
        while True:
            try:
                processed = await self._run_models(fetched)
                break
            except _ModelRaised as failure:
                attempt = await self._on_model_failure(failure, fetched, earlier, attempt)
        return processed

    async def _run_models(self, fetched: FetchedBlock) -> _Processed:
        block = fetched.block
        height, block_hash = fetched.height, fetched.hash
        await self._dirty()
        if self._resolver is not None:
            await self._resolver.resolve(block, fetched.spent)
        record = BlockRecord(height, block_hash, block.prev_hash, block.header.time)
        processed = _Processed(record, [], len(block.transactions), [], [])
        for model in self.models:
            try:
                processed.events.extend(
                    PendingEvent(model.name, e.event_type, e.event_version, e.to_json(),
                                 height, block_hash)
                    for e in await model.run_block(block)
                )
                if model.has_stored_collections():
                    processed.writes.extend(
                        CollectionWrite(model.name, collection, key, value, height, block_hash)
                        for collection, key, value in model.take_block_writes()
                    )
                    processed.snapshots.append(
                        PendingSnapshot(model.name, height, block_hash, model.snapshot_state()))
            except Exception as exc:
                raise _ModelRaised(model, exc) from exc
        if self._mempool is not None:
            await self._mempool.confirm(block, height, block_hash)
        return processed

    async def _on_model_failure(
        self,
        failure: _ModelRaised,
        fetched: FetchedBlock,
        earlier: list[_Processed],
        attempt: int,
    ) -> int:
        """Commit the blocks before the failing one, rebuild state, then retry or stop."""
        model, exc = failure.model, failure.exc
        log.error(
            "model failed",
            model=model.name,
            height=fetched.height,
            hash=fetched.hash,
            error=repr(exc),
            attempt=attempt + 1,
        )
        # State is dirty from the failed block. The earlier blocks' events are right:
        # commit them (without snapshots of the dirty state), then rebuild from the store.
        await self._commit(earlier, state_matches=False)  # after the one in flight
        earlier.clear()
        await self._restore_all()
        retry = (
            self.options.on_model_error == "retry" and attempt < self.options.model_error_retries
        )
        if not retry:
            raise ModelFailedError(
                model.name, fetched.height, fetched.hash, "".join(traceback.format_exception(exc))
            ) from exc
        await asyncio.sleep(min(30.0, 0.5 * 2**attempt))
        return attempt + 1

    async def _commit(self, batch: list[_Processed], *, state_matches: bool = True,
                      defer_snapshots: bool = False, background: bool = False,
                      closing: bool = False) -> None:
        """Commit ``batch`` after the commit in flight; ``state_matches``: the models hold
        exactly its state (so due snapshots are taken and the state is clean afterwards).
        ``defer_snapshots`` (at the tip): leave due snapshots to ``_wait_while_idle``,
        unless one is twice overdue. ``background``: return once the commit has started
        when it may run while the models go on (see the module), leaving it in flight.
        ``closing`` (the run's last commit): take every model's snapshot while it runs
        and write them once it has committed."""
        await self._drain()
        if not batch:
            return
        records = [p.record for p in batch]
        events = [e for p in batch for e in p.events]
        last = records[-1]
        # Models with stored collections were snapshotted after each block (their state
        # then is exact even when a later block failed); the others when due.
        snapshots = [s for p in batch for s in p.snapshots]
        slack = 2 if defer_snapshots else 1
        snapshots += [
            PendingSnapshot(m.name, last.height, last.hash, m.snapshot_state())
            for m in self.models
            if state_matches and self._snapshot_due(last.height, m, slack=slack)
        ]
        writes = [w for p in batch for w in p.writes]
        mempool_events = self._mempool.take(records) if self._mempool is not None else ()
        for s in snapshots:  # taken: the next batch's end is reckoned from them
            self._last_snapshot[s.model] = s.block_height
        background = (background or closing) and self._overlap and not self._readers_waiting
        stored = self._store_batch(batch, records, events, snapshots, writes, mempool_events,
                                   clean_after=state_matches and not background)
        if not background:
            await stored
            return
        self._inflight = asyncio.ensure_future(stored)
        await asyncio.sleep(0)  # started: it runs up to its first wait on the store
        if closing and state_matches:
            await self._snapshot_while_committing(last)

    async def _snapshot_while_committing(self, tip: BlockRecord) -> None:
        """The run ends with the commit in flight (of the blocks up to ``tip``): take the
        models' snapshots meanwhile, as they hold exactly the state it commits, and write
        them only once it has committed."""
        try:
            snapshots = self._snapshots_at(tip, self._unsnapshotted(tip))
        finally:
            await self._drain()
            await self._now_clean()
        await self._write_snapshots(snapshots)

    async def _drain(self) -> None:
        """Wait for the commit in flight, if any; raises what it raised."""
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            await inflight

    async def _store_batch(
        self,
        batch: list[_Processed],
        records: list[BlockRecord],
        events: list[PendingEvent],
        snapshots: list[PendingSnapshot],
        writes: list[CollectionWrite],
        mempool_events: Sequence[PendingMempoolEvent],
        *,
        clean_after: bool,
    ) -> None:
        """The store's commit of one batch, then the crawler's tip, state and listeners."""
        last = records[-1]
        started = time.perf_counter()
        result = await self.store.commit(records, events, snapshots, writes,
                                         retention=self._retention, mempool_events=mempool_events)
        commit_seconds = time.perf_counter() - started
        for model in self.models:
            for collection in model.stored_collections().values():
                collection.committed()
        self._tip = last
        self._blocks_committed += len(records)
        if clean_after:
            await self._now_clean()
        if self._progress:
            self._progress.advance(last.height, len(batch), sum(p.tx_count for p in batch),
                                   len(events))
        await self._notify(Committed(tuple(records), result.positions, commit_seconds))

    def _snapshot_due(self, height: int, model: Model | None = None, *, slack: int = 1) -> bool:
        """True when ``model`` (or any model) is due a snapshot at ``height`` (``slack``
        times its interval after its last one).

        A catch-up batch ends at such a height, so snapshots keep their spacing and a
        reorg never replays more than ``snapshot_interval`` blocks of events (at the tip,
        where a snapshot waits for the crawler to be idle, at most twice that).
        """
        models = self.models if model is None else [model]
        return any(
            not m.has_stored_collections()  # snapshotted with every block
            and height - self._last_snapshot.get(m.name, -1)
            >= slack * (m.snapshot_interval or self.options.snapshot_interval)
            for m in models
        )

    async def _wait_while_idle(self) -> None:
        """Wait for the follower; if no block came within ``IDLE_GRACE``, meanwhile write the
        snapshots the tip's commits left due and collect garbage (off any block's path)."""
        waiting = asyncio.ensure_future(self._follower.wait(self._stopping))
        try:
            done, _ = await asyncio.wait({waiting}, timeout=IDLE_GRACE)
            if not done:
                tip = self._tip
                if tip is not None and self._clean:
                    await self._snapshot(
                        tip, [m for m in self.models if self._snapshot_due(tip.height, m)])
                self._heap.settle()
            await waiting
        finally:
            if not waiting.done():
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting

    async def _snapshot_all(self) -> None:
        """Snapshot every model at the committed tip (clean shutdown).

        Skipped unless the state is clean: after a failure mid-batch or mid-restore the
        state belongs to no stored height; a restart rebuilds it from the store.
        """
        tip = self._tip
        if tip is None or not self._clean:
            return
        await self._snapshot(tip, self._unsnapshotted(tip))

    def _unsnapshotted(self, tip: BlockRecord) -> list[Model]:
        return [m for m in self.models if self._last_snapshot.get(m.name) != tip.height]

    async def _snapshot(self, tip: BlockRecord, models: list[Model]) -> None:
        """Commit snapshots of ``models`` at ``tip``; the caller checked the state is clean
        (exactly the committed state at ``tip``)."""
        await self._write_snapshots(self._snapshots_at(tip, models))

    @staticmethod
    def _snapshots_at(tip: BlockRecord, models: list[Model]) -> list[PendingSnapshot]:
        return [PendingSnapshot(m.name, tip.height, tip.hash, m.snapshot_state())
                for m in models]

    async def _write_snapshots(self, snapshots: list[PendingSnapshot]) -> None:
        if not snapshots:
            return
        await self.store.commit([], [], snapshots, retention=self._retention)
        for s in snapshots:
            self._last_snapshot[s.model] = s.block_height

    # -- reorgs ---------------------------------------------------------------------

    async def _reorg(self, node_height: int) -> None:
        tip = self._tip
        assert tip is not None
        window = await self.store.chain_window(self.options.max_reorg_depth + 1)
        fork = await find_fork_height(self.node, window, node_height)
        if fork is None:
            raise DeepReorgError(tip.height, self.options.max_reorg_depth)
        new_tip = await self.node.get_best_block_hash()
        await self._dirty()  # the store is about to move below the models' state
        started = time.perf_counter()
        reorg = await self.store.rollback(fork, new_tip)
        rolled_back = time.perf_counter()
        self._tip = await self.store.tip()
        await self._restore_all()
        restored = time.perf_counter()
        self._chain.reorged(reorg)
        log.warning(
            "reorg",
            fork_height=fork,
            depth=reorg.depth,
            old_tip=tip.hash,
            new_tip=new_tip,
            rolled_back_events=reorg.rolled_back_events,
            rollback_ms=round((rolled_back - started) * 1000, 1),
            restore_ms=round((restored - rolled_back) * 1000, 1),
        )
        await self._notify(RolledBack(reorg, rolled_back - started, restored - rolled_back))

    # -- state ----------------------------------------------------------------------

    async def _restore_all(self) -> None:
        """Every model's state at the committed tip (snapshot plus replay); clean only once
        every model is restored, so a failed restore is never snapshotted."""
        await self._dirty()
        self._last_snapshot.clear()
        self._heap.replaced_state()
        for model in self.models:
            restored = await restore_model(model, self.store, self._tip)
            if restored.snapshot_height is not None:
                self._last_snapshot[model.name] = restored.snapshot_height
        await self._now_clean()

    async def _dirty(self) -> None:
        """The models are about to leave the committed state (waits for committed() readers)."""
        if self._clean:
            async with self._state:
                self._clean = False

    async def _now_clean(self) -> None:
        """The models hold the committed state again: let committed() readers in."""
        async with self._state:
            self._clean = True
            self._state.notify_all()
        await asyncio.sleep(0)  # waiting readers get the state before the next block

    async def _check_node_network(self) -> None:
        genesis = await self.node.get_block_hash(0)
        if genesis != self.network.genesis_hash:
            info = await self.node.get_blockchain_info()
            raise NodeNetworkMismatchError(self.network.name, str(info.get("chain")), genesis)

    async def _notify(self, note: Notification) -> None:
        for listener in self._listeners:
            result = listener(note)
            if result is not None:
                await result
