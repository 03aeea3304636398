"""The one interface the transports read through: ``StateSource``.

A source is whatever holds models at committed state: the crawler's own process
(``CrawlerSource``) now, a reader process following the store next. Transports never
touch a crawler or a node directly, only this.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from chaincrawler.crawler.pipeline import Committed, Notification, RolledBack
from chaincrawler.eventstore import BlockRecord, EventStore
from chaincrawler.models import Model

__all__ = ["Committed", "Notification", "RolledBack", "StateSource", "View"]


@dataclass(frozen=True, slots=True)
class View:
    """Which committed state a response reflects.

    ``position`` is the highest event position committed (rolled-back events
    included); ``finalized_height`` the highest height this source will never roll
    back (tip minus ``max_reorg_depth``), None while no block is that deep.
    """

    tip: BlockRecord | None
    position: int
    max_reorg_depth: int

    @property
    def finalized_height(self) -> int | None:
        if self.tip is None:
            return None
        height = self.tip.height - self.max_reorg_depth
        return height if height >= 0 else None


class StateSource(Protocol):
    """Models at committed state, the store they come from, and notices of change."""

    @property
    def store(self) -> EventStore:
        """The event store (reads only)."""

    @property
    def models(self) -> Sequence[Model]:
        """The models served, the chain model first."""

    @property
    def max_reorg_depth(self) -> int:
        """How deep a reorg this source handles (for ``View.finalized_height``)."""

    def view(self) -> View:
        """The committed tip and position as of the last notice."""

    def committed(self) -> contextlib.AbstractAsyncContextManager[View]:
        """Hold the models at committed state while the body runs; yields what it is."""

    def subscribe(self, listener: Callable[[Notification], None]) -> Callable[[], None]:
        """Call ``listener`` (synchronously; it must not block) after each commit and
        rollback, in order; returns a function that unsubscribes it."""

    async def upstream_height(self) -> int | None:
        """The height of what this source follows (the node's tip); None if unknown."""

    @property
    def following(self) -> str:
        """What ``upstream_height`` is the height of: ``"node"`` or ``"store"``."""
