"""``ReaderSource``: serve models that follow a store another process writes.

A reader restores each model from the store (snapshot + replay), then on each
``store.changes()`` wake-up applies the events committed since the position it holds;
a new reorg row makes it restore every model again at the store's tip. It emits the
same ``Committed``/``RolledBack`` notices a crawler does, so the stream and live
queries work unchanged. It only ever holds committed state.

A model with stored collections is never replayed: at each new tip its plain attributes
are restored from the tip's snapshot, and its collections are read from the store at the
reader's tip height (settled values plus window rows), so a query answers at the tip the
reader reports even while the writer is ahead. A read the writer's reorg overtook (the
reader's tip block replaced under it) is refused with 503 ``state_moved``: ask again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

import structlog

from chaincrawler.crawler.pipeline import Committed, Notification, RolledBack
from chaincrawler.crawler.restore import replay_events, restore_model
from chaincrawler.eventstore import (
    AtTip,
    BlockRecord,
    EventQuery,
    EventStore,
    Reorg,
    StoredEvent,
)
from chaincrawler.models import ChainModel, Model, validate_models
from chaincrawler.transports.errors import ApiError
from chaincrawler.transports.source import View

log = structlog.get_logger(__name__)


class _AtReaderTip:
    """Stored collections' reads at the reader's tip, refused if a reorg replaced it."""

    def __init__(self, source: ReaderSource) -> None:
        self._source = source

    async def get_many(self, model: str, collection: str, keys: Sequence[str], *,
                       at_height: int | None = None) -> AtTip[dict[str, str]]:
        tip = self._source.view().tip
        if tip is None:
            return AtTip(None, {})  # the reader restored an empty store
        store = self._source.store
        found = await store.get_many(model, collection, keys, at_height=tip.height)
        if found.tip is not None and found.tip.hash != tip.hash:
            now = await store.canonical_block(tip.height)
            if now is None or now.hash != tip.hash:
                raise ApiError(503, "state_moved", f"a reorg replaced block {tip.height} "
                               f"while model {model!r} was read; ask again")
        return found


class ReaderSource:
    """A ``StateSource`` over a store opened as a reader (``writer=False``).

    ``await start()`` restores the models; ``await follow()`` keeps them at the
    store's committed tip until cancelled. The chain model is added first if missing.
    """

    def __init__(self, store: EventStore, models: Sequence[Model], max_reorg_depth: int,
                 poll_interval: float = 0.5) -> None:
        chain = [m for m in models if isinstance(m, ChainModel)]
        self._models: list[Model] = chain[:1] + [m for m in models if m not in chain[:1]]
        if not chain:
            self._models.insert(0, ChainModel())
        validate_models(self._models)
        self._store = store
        self._max_reorg_depth = max_reorg_depth
        self._poll_interval = poll_interval
        self._listeners: list[Callable[[Notification], None]] = []
        self._lock = asyncio.Lock()
        self._tip: BlockRecord | None = None
        self._position = 0
        self._reorg_id = 0
        reader = _AtReaderTip(self)
        for model in self._models:
            for collection in model.stored_collections().values():
                collection.attach(reader, 0)

    @property
    def store(self) -> EventStore:
        return self._store

    @property
    def models(self) -> Sequence[Model]:
        return self._models

    @property
    def max_reorg_depth(self) -> int:
        return self._max_reorg_depth

    @property
    def following(self) -> str:
        return "store"

    def view(self) -> View:
        return View(self._tip, self._position, self._max_reorg_depth)

    @contextlib.asynccontextmanager
    async def committed(self) -> AsyncIterator[View]:
        async with self._lock:
            yield self.view()

    def subscribe(self, listener: Callable[[Notification], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def upstream_height(self) -> int | None:
        tip = await self._store.tip()
        return -1 if tip is None else tip.height

    async def start(self) -> None:
        """Restore every model at the store's committed tip."""
        async with self._lock:
            await self._restore()

    async def follow(self) -> None:
        """Apply each commit and rollback of the writer as it happens (until cancelled)."""
        async for _ in self._store.changes(self._poll_interval):
            await self.refresh()

    async def refresh(self) -> None:
        """Catch up with the store once: new events, or a full restore after a reorg."""
        async with self._lock:
            if await self._latest_reorg_id() != self._reorg_id:
                await self._after_reorgs()
                return
            tip = await self._store.tip()
            if tip is None or (self._tip is not None and tip.hash == self._tip.hash):
                return
            events = await self._store.read_events(EventQuery(
                from_position=self._position + 1, to_height=tip.height))
            for model in self._models:
                if model.has_stored_collections():
                    await restore_model(model, self._store, tip)  # the tip's snapshot
            if await self._latest_reorg_id() != self._reorg_id:
                await self._after_reorgs()  # the reads may straddle the rollback
                return
            old = self._tip
            for model in self._models:
                if not model.has_stored_collections():
                    await replay_events(model, events, tip)
            self._tip = tip
            position = events[-1].position if events else self._position
            blocks = await self._blocks_above(-1 if old is None else old.height, tip)
            first = self._position + 1
            self._position = max(self._position, position)
            self._notify(Committed(blocks, range(first, self._position + 1)))

    async def _after_reorgs(self) -> None:
        before, seen = self._position, self._reorg_id
        await self._restore()
        new = sorted((r for r in await self._store.reorgs(limit=10_000) if r.id > seen),
                     key=lambda r: r.id)
        rolled_back = max([before] + [await self._last_rolled_back(r) for r in new])
        for reorg in new:
            self._notify(RolledBack(reorg))
        if self._tip is not None and self._position > rolled_back:
            fork = min(r.fork_height for r in new) if new else self._tip.height
            blocks = await self._blocks_above(fork, self._tip)
            if blocks:
                self._notify(Committed(blocks, range(rolled_back + 1, self._position + 1)))

    async def _restore(self) -> None:
        """Restore every model at a tip no reorg moved while restoring."""
        while True:
            reorg_id = await self._latest_reorg_id()
            tip = await self._store.tip()
            for model in self._models:
                await restore_model(model, self._store, tip)
            if await self._latest_reorg_id() == reorg_id:
                break
            log.info("reorg committed while restoring; restoring again")
        self._tip, self._reorg_id = tip, reorg_id
        self._position = 0 if tip is None else await self._position_at(tip)
        log.info("restored from the store", height=None if tip is None else tip.height,
                 position=self._position)

    async def _latest_reorg_id(self) -> int:
        newest = await self._store.reorgs(limit=1)
        return newest[0].id if newest else 0

    async def _position_at(self, tip: BlockRecord) -> int:
        """The highest active position at or below ``tip``."""
        last = await self._store.read_events(EventQuery(to_height=tip.height, order="desc",
                                                        limit=1))
        return last[0].position if last else 0

    async def _last_rolled_back(self, reorg: Reorg) -> int:
        last: list[StoredEvent] = await self._store.read_events(
            EventQuery(reorg_id=reorg.id, order="desc", limit=1))
        return last[0].position if last else 0

    async def _blocks_above(self, height: int, tip: BlockRecord) -> tuple[BlockRecord, ...]:
        blocks = [await self._store.canonical_block(h) for h in range(height + 1, tip.height)]
        return (*[b for b in blocks if b is not None], tip)

    def _notify(self, note: Notification) -> None:
        for listener in list(self._listeners):
            listener(note)
