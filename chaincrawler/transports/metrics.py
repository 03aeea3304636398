"""Prometheus metrics of a served source: tip, lag, commits, reorgs, stream clients."""

from __future__ import annotations

import asyncio
import json

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from chaincrawler.eventstore import EventQuery, EventStore
from chaincrawler.models import ChainModel
from chaincrawler.transports.source import Committed, Notification, RolledBack, StateSource

log = structlog.get_logger(__name__)

_DURATIONS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_DEPTHS = (1, 2, 3, 5, 10, 20, 50, 100)


async def active_event_count(store: EventStore, model: str) -> int:
    """A model's active events: the version of its newest one (versions are gap-free)."""
    newest = await store.read_events(EventQuery(model=model, order="desc", limit=1))
    return newest[0].version if newest else 0


class Metrics:
    """One registry per app (several apps in a process do not collide)."""

    def __init__(self, source: StateSource) -> None:
        self._source = source
        self.registry = r = CollectorRegistry()
        self.tip_height = Gauge("chaincrawler_tip_height", "Height of the committed tip.",
                                registry=r)
        self.upstream_height = Gauge(
            "chaincrawler_node_height", "Height of the node's (or followed store's) tip.",
            registry=r)
        self.lag = Gauge("chaincrawler_lag_blocks", "Blocks the committed tip is behind.",
                         registry=r)
        self.blocks = Counter("chaincrawler_blocks_committed", "Blocks committed.", registry=r)
        self.transactions = Counter("chaincrawler_transactions_committed",
                                    "Transactions in the blocks committed.", registry=r)
        self.events = Counter("chaincrawler_events_committed", "Events committed.", registry=r)
        self.commit_seconds = Histogram("chaincrawler_commit_seconds",
                                        "Duration of one store commit.", buckets=_DURATIONS,
                                        registry=r)
        self.rollback_seconds = Histogram(
            "chaincrawler_rollback_seconds",
            "Duration of a reorg: the store's rollback plus the models' restore.",
            buckets=_DURATIONS, registry=r)
        self.reorgs = Counter("chaincrawler_reorgs", "Reorgs handled.", registry=r)
        self.reorg_depth = Histogram("chaincrawler_reorg_depth", "Depth of each reorg, blocks.",
                                     buckets=_DEPTHS, registry=r)
        self.stream_clients = Gauge("chaincrawler_stream_clients",
                                    "WebSocket stream clients connected.", registry=r)
        self.model_events = Gauge("chaincrawler_model_events", "Active events of each model.",
                                  ["model"], registry=r)
        # Positions committed whose transactions are not counted yet (counted at a scrape).
        self._uncounted: tuple[int, int] | None = None

    def on_notice(self, note: Notification) -> None:
        """Count a commit or a rollback (called synchronously by the source)."""
        if isinstance(note, Committed):
            self.blocks.inc(len(note.blocks))
            self.events.inc(len(note.positions))
            self.commit_seconds.observe(note.commit_seconds)
            if note.positions:
                first = note.positions[0] if self._uncounted is None else self._uncounted[0]
                self._uncounted = (first, note.positions[-1])
        elif isinstance(note, RolledBack):
            self.reorgs.inc()
            self.reorg_depth.observe(note.reorg.depth)
            self.rollback_seconds.observe(note.rollback_seconds + note.restore_seconds)

    async def render(self) -> bytes:
        """The Prometheus text exposition, with the gauges read now."""
        source = self._source
        view = source.view()
        if view.tip is not None:
            self.tip_height.set(view.tip.height)
        upstream = await source.upstream_height()
        if upstream is not None:
            self.upstream_height.set(upstream)
            if view.tip is not None:
                self.lag.set(max(0, upstream - view.tip.height))
        await self._count_transactions()
        counts = await asyncio.gather(
            *(active_event_count(source.store, m.name) for m in source.models))
        for model, count in zip(source.models, counts, strict=True):
            self.model_events.labels(model=model.name).set(count)
        return generate_latest(self.registry)

    async def _count_transactions(self) -> None:
        """Transactions committed, from the chain model's BlockConnected events."""
        span, self._uncounted = self._uncounted, None
        if span is None:
            return
        query = EventQuery(model=ChainModel.name, event_types=("BlockConnected",),
                           from_position=span[0], to_position=span[1], include_rolled_back=True)
        async for e in self._source.store.iter_events(query):
            self.transactions.inc(int(json.loads(e.payload).get("tx_count", 0)))
