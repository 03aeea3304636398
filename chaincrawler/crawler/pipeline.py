"""The Crawler: feeds blocks to models in height order and commits their events.

For each block: check it links to the stored tip (else handle a reorg), run every
model's ``process_block``, and commit the block with its events (and due snapshots)
in one store transaction -- one block at the tip, a batch of blocks while catching up.
Listeners hear of commits and rollbacks only after the store has them.
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
    DeepReorgError,
    InconsistentNodeError,
    ModelFailedError,
    NodeNetworkMismatchError,
)
from chaincrawler.crawler.prevouts import PrevoutResolver
from chaincrawler.crawler.progress import Progress
from chaincrawler.crawler.reorg import find_fork_height
from chaincrawler.crawler.source import BlockSource, FetchedBlock
from chaincrawler.eventstore import (
    BlockRecord,
    EventQuery,
    EventStore,
    PendingEvent,
    PendingSnapshot,
    Reorg,
)
from chaincrawler.models import ChainModel, Model, validate_models
from chaincrawler.models.errors import StateError
from chaincrawler.node.client import NodeClient

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CrawlerOptions:
    """How the crawler fetches, commits and recovers (see ``Settings.crawler``)."""

    start_height: int = 0
    max_reorg_depth: int = 100
    snapshot_interval: int = 100
    catchup_batch_blocks: int = 50
    prefetch_bytes: int = 64 * 1024 * 1024
    fetch_concurrency: int = 4
    fetch_chunk_blocks: int = 8
    poll_interval: float = 1.0
    on_model_error: str = "stop"
    model_error_retries: int = 3
    prevout_cache_entries: int = 300_000


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


class Crawler:
    """Follows a node and keeps the models' state and the event store in step with it."""

    def __init__(
        self,
        node: NodeClient,
        store: EventStore,
        models: Sequence[Model],
        network: Network,
        options: CrawlerOptions | None = None,
        *,
        progress: Progress | None = None,
    ) -> None:
        self.node = node
        self.store = store
        self.network = network
        self.options = options or CrawlerOptions()
        chain = [m for m in models if isinstance(m, ChainModel)]
        self.chain_model = chain[0] if chain else ChainModel()
        self.models: list[Model] = [self.chain_model, *(m for m in models if m not in chain)]
        validate_models(self.models)
        self._listeners: list[Listener] = []
        self._stopping = asyncio.Event()
        self._tip: BlockRecord | None = None
        # True while models hold state of blocks not yet committed: no snapshot then.
        self._state_ahead = False
        self._last_snapshot: dict[str, int] = {}
        self._resolver = (
            PrevoutResolver(node, self.options.prevout_cache_entries)
            if any(m.needs_prevouts for m in self.models)
            else None
        )
        self._progress = progress
        # Held from the first block of a batch until its commit or state restore.
        self._state_lock = asyncio.Lock()
        self._holding_state = False

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

    @contextlib.asynccontextmanager
    async def committed(self) -> AsyncIterator[BlockRecord | None]:
        """Hold the models at committed state while the body runs; yields the committed tip.

        Waits while the loop holds blocks not yet committed (at most one catch-up batch)
        or restores state; the loop waits for the body in turn, so keep it short.
        """
        async with self._state_lock:
            yield self._tip

    async def _hold_state(self) -> None:
        if not self._holding_state:
            await self._state_lock.acquire()
            self._holding_state = True

    def _release_state(self) -> None:
        if self._holding_state:
            self._holding_state = False
            self._state_lock.release()

    async def start(self) -> None:
        """Check the node's network and rebuild every model's state from the store."""
        await self._check_node_network()
        await self._hold_state()
        self._tip = await self.store.tip()
        for model in self.models:
            await self._restore_model(model)
        await self._renote_unrecorded_reorg()
        self._release_state()

    async def _renote_unrecorded_reorg(self) -> None:
        """A crash between a rollback and the next commit loses the chain model's note."""
        newest = await self.store.reorgs(limit=1)
        if not newest:
            return
        reorg = newest[0]
        seen = {(r.fork_height, r.old_tip_hash) for r in self.chain_model.reorg_history}
        if (reorg.fork_height, reorg.old_tip_hash) not in seen:
            self.chain_model.note_reorg(
                reorg.fork_height, reorg.depth, reorg.old_tip_height, reorg.old_tip_hash
            )

    async def run(self, *, follow: bool = True, until_height: int | None = None) -> None:
        """Crawl to the node's tip, then (with ``follow``) keep following it until stopped.

        ``until_height`` stops once that height is committed. On return every model's
        state is snapshotted at the committed tip.
        """
        await self.start()
        try:
            while not self._stopping.is_set():
                if until_height is not None and self._tip and self._tip.height >= until_height:
                    break
                caught_up = await self._step(until_height)
                if caught_up:
                    if not follow:
                        break
                    await self._sleep(self.options.poll_interval)
        finally:
            await self._snapshot_all()

    # -- one step: catch up to the node tip, or handle a reorg ---------------------

    async def _step(self, until_height: int | None) -> bool:
        """Crawl what the node has beyond our tip; True when nothing was left to do."""
        node_height = await self.node.get_block_count()
        tip = self._tip
        if tip is not None and await self._tip_is_stale(tip, node_height):
            await self._reorg(node_height)
            return False
        next_height = tip.height + 1 if tip else self.options.start_height
        target = node_height if until_height is None else min(node_height, until_height)
        if next_height > target:
            return True
        source = BlockSource(
            self.node,
            self.network,
            chunk_blocks=self.options.fetch_chunk_blocks,
            concurrency=self.options.fetch_concurrency,
            max_bytes=self.options.prefetch_bytes,
        )
        if self._progress:
            self._progress.target(target)
        batch: list[_Processed] = []
        async for fetched in source.blocks(next_height, target):
            expected = batch[-1].record.hash if batch else (tip.hash if tip else None)
            if expected is not None and fetched.block.prev_hash != expected:
                await self._commit(batch)
                await self._unlinked()
                return False  # the next step sees the stale tip and handles the reorg
            batch.append(await self._process(fetched, batch))
            at_tip = fetched.height == target
            full = len(batch) >= self.options.catchup_batch_blocks
            if full or at_tip or self._snapshot_due(fetched.height):
                await self._commit(batch)
                batch = []
            if self._stopping.is_set():
                break
        await self._commit(batch)
        return False

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
        await self._hold_state()
        attempt = 0
        while True:
            try:
                events = await self._run_models(fetched)
                break
            except _ModelRaised as failure:
                attempt = await self._on_model_failure(failure, fetched, earlier, attempt)
        block = fetched.block
        record = BlockRecord(fetched.height, fetched.hash, block.prev_hash, block.header.time)
        return _Processed(record, events, len(block.transactions))

    async def _run_models(self, fetched: FetchedBlock) -> list[PendingEvent]:
        block = fetched.block
        self._state_ahead = True
        if self._resolver is not None:
            await self._resolver.resolve(block)
        events: list[PendingEvent] = []
        for model in self.models:
            try:
                model._begin_block(block)
                await model._run_block(block)
                pending = model._take_pending()
            except Exception as exc:
                raise _ModelRaised(model, exc) from exc
            events.extend(
                PendingEvent(model.name, e.event_type, e.event_version, e.to_json(),
                             fetched.height, fetched.hash)
                for e in pending
            )
        return events

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
        await self._commit(earlier, snapshot=False, release=False)
        earlier.clear()
        for m in self.models:
            await self._restore_model(m)
        self._release_state()
        retry = (
            self.options.on_model_error == "retry" and attempt < self.options.model_error_retries
        )
        if not retry:
            raise ModelFailedError(
                model.name, fetched.height, fetched.hash, "".join(traceback.format_exception(exc))
            ) from exc
        await asyncio.sleep(min(30.0, 0.5 * 2**attempt))
        return attempt + 1

    async def _commit(
        self, batch: list[_Processed], *, snapshot: bool = True, release: bool = True
    ) -> None:
        if not batch:
            return
        records = [p.record for p in batch]
        events = [e for p in batch for e in p.events]
        last = records[-1]
        snapshots = [
            PendingSnapshot(m.name, last.height, last.hash, m.snapshot_state())
            for m in self.models
            if snapshot and self._snapshot_due(last.height, m)
        ]
        started = time.perf_counter()
        result = await self.store.commit(records, events, snapshots)
        commit_seconds = time.perf_counter() - started
        self._tip = last
        self._state_ahead = False
        if release:
            self._release_state()
        for s in snapshots:
            self._last_snapshot[s.model] = s.block_height
        if self._progress:
            self._progress.advance(last.height, len(batch), sum(p.tx_count for p in batch),
                                   len(events))
        await self._notify(Committed(tuple(records), result.positions, commit_seconds))

    def _snapshot_due(self, height: int, model: Model | None = None) -> bool:
        """True when ``model`` (or any model) is due a snapshot at ``height``.

        A catch-up batch ends at such a height, so snapshots keep their spacing and a
        reorg never replays more than ``snapshot_interval`` blocks of events.
        """
        models = self.models if model is None else [model]
        return any(
            height - self._last_snapshot.get(m.name, -1)
            >= (m.snapshot_interval or self.options.snapshot_interval)
            for m in models
        )

    async def _snapshot_all(self) -> None:
        """Snapshot every model at the committed tip (clean shutdown).

        Skipped when the models hold uncommitted blocks (the crawl failed mid-batch):
        such state belongs to no stored height; a restart rebuilds it from the store.
        """
        tip = self._tip
        if tip is None or self._state_ahead:
            return
        due = [m for m in self.models if self._last_snapshot.get(m.name) != tip.height]
        if not due:
            return
        snapshots = [PendingSnapshot(m.name, tip.height, tip.hash, m.snapshot_state()) for m in due]
        await self.store.commit([], [], snapshots)
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
        await self._hold_state()
        started = time.perf_counter()
        reorg = await self.store.rollback(fork, new_tip)
        rolled_back = time.perf_counter()
        self._tip = await self.store.tip()
        self._last_snapshot.clear()
        for model in self.models:
            await self._restore_model(model)
        restored = time.perf_counter()
        self.chain_model.note_reorg(fork, reorg.depth, reorg.old_tip_height, reorg.old_tip_hash)
        self._release_state()
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

    async def _restore_model(self, model: Model) -> None:
        """State at the committed tip: newest snapshot, then replay of later active events."""
        self._state_ahead = False
        model.reset()
        snapshot = await self.store.latest_snapshot(model.name)
        after = -1
        if snapshot is not None:
            try:
                model.restore_state(snapshot.state)
                after = snapshot.block_height
                self._last_snapshot[model.name] = after
            except StateError as exc:
                # The model's state attributes changed since: rebuild from its events.
                log.warning("snapshot unusable, replaying all events", model=model.name,
                            error=str(exc))
                model.reset()
        registry = model.event_registry()
        query = EventQuery(model=model.name, from_height=after + 1)
        async for stored in self.store.iter_events(query):
            event = registry.load(
                stored.event_type,
                stored.event_version,
                stored.payload,
                model=model.name,
                position=stored.position,
            )
            model._replay(event)

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

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

