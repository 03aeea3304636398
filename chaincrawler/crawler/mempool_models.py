"""Mempool models: models that also see the node's mempool.

A :class:`MempoolModel` is a :class:`~chaincrawler.models.Model` (block state, events and
handlers as usual) with a :meth:`~MempoolModel.process_mempool` hook that receives the
typed changes of a :class:`~chaincrawler.crawler.mempool.MempoolWatcher`, the first of
them the whole mempool (:class:`~chaincrawler.crawler.mempool.MempoolLoaded`). In it,
:meth:`~MempoolModel.emit` records mempool events: stored apart from block events (the
store's mempool log), never replayed into block state, pruned after a retention window.

Mempool state is rebuilt from the node on every start: keep it in plain attributes set in
``__init__`` (not annotated in the class body), so it is never snapshotted and never
mixed with the block state that replaying committed events rebuilds.

:class:`MempoolFeed` runs the changes through every mempool model and stores what they
emit. A model that raises gets no further mempool changes (the error is logged, kept in
:attr:`MempoolFeed.failed` and recorded in the store for ``chaincrawler status``); the
other models, and block processing, go on.

Confirmations: with ``confirms_blocks``, the crawler tells the feed of each block it
processes (:meth:`MempoolFeed.confirm`); the feed then gives the models the ``confirmed``
removal of every transaction of the block they hold, and the events they emit go into
the block's own commit (:meth:`MempoolFeed.take`). The watcher's report of the same
confirmation is then dropped, so a model sees each change once.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Sequence
from datetime import timedelta

import structlog

from chaincrawler.chain.types import Block
from chaincrawler.crawler.mempool import (
    MempoolChange,
    MempoolLoaded,
    MempoolWatcher,
    RemovalReason,
    TxAdded,
    TxRemoved,
)
from chaincrawler.eventstore import BlockRecord, EventStore, PendingMempoolEvent
from chaincrawler.models import Event, Model

log = structlog.get_logger(__name__)

#: Blocks whose commit the feed remembers, to tell a late confirmation from an early one.
_COMMITTED_BLOCKS = 100


class MempoolModel(Model):
    """A model with a mempool hook; see the module docstring for where its state goes."""

    def process_mempool(self, change: MempoolChange) -> None:
        """Take one mempool change into account (the first is the whole mempool)."""

    def emit(self, event: Event, *, txid: str | None = None) -> None:
        """Record a mempool event (from ``process_mempool``), about ``txid`` if given.

        It is stored in the mempool log, apart from block events; no handler runs and
        it never changes block state.
        """
        self._emitted().append((event, txid))

    def take_mempool_events(self) -> list[tuple[Event, str | None]]:
        """The events emitted since the last call (framework API: the feed calls it)."""
        emitted = self._emitted()
        taken = list(emitted)
        emitted.clear()
        return taken

    def _emitted(self) -> list[tuple[Event, str | None]]:
        emitted: list[tuple[Event, str | None]] | None = self.__dict__.get("_mempool_emitted")
        if emitted is None:
            emitted = self.__dict__["_mempool_emitted"] = []
        return emitted


class MempoolFeed:
    """Delivers a watcher's changes to mempool models, isolating a model that fails.

    With a ``store`` (the crawler's, as the writer) what the models emit is appended to
    its mempool log, pruning events older than ``retention`` in the same transaction,
    and failures are recorded there. ``confirms_blocks``: the crawler reports each
    block through :meth:`confirm` (see the module docstring).
    """

    def __init__(
        self,
        watcher: MempoolWatcher,
        models: Sequence[MempoolModel],
        store: EventStore | None = None,
        *,
        retention: timedelta | None = None,
        confirms_blocks: bool = False,
    ) -> None:
        self.watcher = watcher
        self.models = list(models)
        self.failed: dict[str, str] = {}
        """Models stopped by an exception in ``process_mempool``: name -> the error."""
        self._store = store
        self._retention = retention
        self._confirms_blocks = confirms_blocks
        self._held: set[str] = set()  # txids the models were told are in the mempool
        self._recorded: set[str] = set()  # failures written to the store
        self._in_hand: MempoolChange | None = None  # taken from the watcher, not delivered
        self._lock = asyncio.Lock()  # one delivery at a time, in the watcher's order
        self._unstored: dict[tuple[int, str], list[PendingMempoolEvent]] = {}
        self._committed: deque[str] = deque(maxlen=_COMMITTED_BLOCKS)

    async def start(self) -> None:
        """Forget the failures a previous run recorded: every model runs again."""
        if self._store is not None:
            for failure in await self._store.mempool_failures():
                await self._store.set_mempool_failure(failure.model, None)

    async def run(self) -> None:
        """Deliver changes and store events until cancelled (a watcher failure is raised)."""
        while True:
            self._in_hand = await self.watcher.get()
            async with self._lock:
                events = self._deliver_queued()
                if events and self._store is not None:
                    await self._store.append_mempool_events(events, retention=self._retention)
                await self._record_failures()

    def deliver(
        self, change: MempoolChange, block: tuple[int, str] | None = None
    ) -> list[PendingMempoolEvent]:
        """Give ``change`` to every model still running; return the events they emitted.

        ``block`` (height, hash) marks the events as belonging to that block's commit.
        A change the models already know of (a transaction added twice, removed when
        they do not hold it) is dropped.
        """
        if not self._news(change, from_block=block is not None):
            return []
        events: list[PendingMempoolEvent] = []
        height, block_hash = block if block is not None else (None, None)
        for model in self.models:
            if model.name in self.failed:
                continue
            try:
                model.process_mempool(change)
                emitted = [
                    PendingMempoolEvent(model.name, e.event_type, e.event_version, e.to_json(),
                                        txid, height, block_hash)
                    for e, txid in model.take_mempool_events()
                ]
            except Exception as exc:  # a model's bug must not stop the others
                model.take_mempool_events()  # what it emitted before raising is dropped
                self._fail(model, f"{type(exc).__name__}: {exc}")
                continue
            events.extend(emitted)
        return events

    async def confirm(self, block: Block, height: int, block_hash: str) -> None:
        """The crawler processed ``block``: deliver what the watcher queued, then the
        confirmation of each held transaction it includes; the events wait for
        :meth:`take` (the block's commit)."""
        async with self._lock:
            events = self._deliver_queued()
            for tx in block.transactions:
                if tx.txid in self._held:
                    removed = TxRemoved(tx.txid, RemovalReason.CONFIRMED, block_hash, height)
                    events.extend(self.deliver(removed, (height, block_hash)))
            self._unstored.setdefault((height, block_hash), []).extend(events)
            await self._record_failures()

    def take(self, blocks: Sequence[BlockRecord]) -> list[PendingMempoolEvent]:
        """The events to commit with ``blocks`` (the crawler is committing them)."""
        events = [e for b in blocks for e in self._unstored.pop((b.height, b.hash), [])]
        self._committed.extend(b.hash for b in blocks)
        if blocks:  # what waits for other blocks at these heights belongs to no chain now
            top = blocks[-1].height
            for key in [k for k in self._unstored if k[0] <= top]:
                del self._unstored[key]
        return events

    # -- internals ------------------------------------------------------------------

    def _deliver_queued(self) -> list[PendingMempoolEvent]:
        """Deliver the change in hand and whatever the watcher has queued, in order."""
        changes = [] if self._in_hand is None else [self._in_hand]
        self._in_hand = None
        changes.extend(self.watcher.ready())
        return list(itertools.chain.from_iterable(self.deliver(c) for c in changes))

    def _news(self, change: MempoolChange, *, from_block: bool) -> bool:
        """Update the set of held txids; False when the models must not see ``change``."""
        if isinstance(change, MempoolLoaded):
            self._held = {t.txid for t in change.txs}
            return True
        if isinstance(change, TxAdded):
            if change.txid in self._held:
                return False
            self._held.add(change.txid)
            return True
        if change.txid not in self._held:
            return False
        if (
            self._confirms_blocks
            and not from_block
            and change.reason is RemovalReason.CONFIRMED
            and change.block_hash not in self._committed
        ):
            return False  # confirm() delivers it when the crawler processes the block
        self._held.discard(change.txid)
        return True

    def _fail(self, model: MempoolModel, error: str) -> None:
        self.failed[model.name] = error
        log.error(
            "mempool.model_failed",
            model=model.name,
            error=error,
            hint="this model gets no more mempool changes until restarted; "
            "block processing goes on",
            exc_info=True,
        )

    async def _record_failures(self) -> None:
        if self._store is None:
            return
        for name, error in self.failed.items():
            if name not in self._recorded:
                await self._store.set_mempool_failure(name, error)
                self._recorded.add(name)
