"""Mempool models: models that also see the node's mempool.

A :class:`MempoolModel` is a :class:`~chaincrawler.models.Model` (block state, events and
handlers as usual) with a :meth:`~MempoolModel.process_mempool` hook that receives the
typed changes of a :class:`~chaincrawler.crawler.mempool.MempoolWatcher`, the first of
them the whole mempool (:class:`~chaincrawler.crawler.mempool.MempoolLoaded`).

Mempool state is rebuilt from the node on every start: keep it in plain attributes set in
``__init__`` (not annotated in the class body), so it is never snapshotted and never
mixed with the block state that replaying committed events rebuilds.

:class:`MempoolFeed` runs the changes through every mempool model. A model that raises
gets no further mempool changes (the error is logged and kept in
:attr:`MempoolFeed.failed`); the other models, and block processing, go on.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from chaincrawler.crawler.mempool import MempoolChange, MempoolWatcher
from chaincrawler.models import Model

log = structlog.get_logger(__name__)


class MempoolModel(Model):
    """A model with a mempool hook; see the module docstring for where its state goes."""

    def process_mempool(self, change: MempoolChange) -> None:
        """Take one mempool change into account (the first is the whole mempool)."""


class MempoolFeed:
    """Delivers a watcher's changes to mempool models, isolating a model that fails."""

    def __init__(self, watcher: MempoolWatcher, models: Sequence[MempoolModel]) -> None:
        self.watcher = watcher
        self.models = list(models)
        self.failed: dict[str, str] = {}
        """Models stopped by an exception in ``process_mempool``: name -> the error."""

    async def run(self) -> None:
        """Deliver changes until cancelled (or until the watcher fails: that is raised)."""
        while True:
            self.deliver(await self.watcher.get())

    def deliver(self, change: MempoolChange) -> None:
        """Give ``change`` to every model still running."""
        for model in self.models:
            if model.name in self.failed:
                continue
            try:
                model.process_mempool(change)
            except Exception as exc:  # a model's bug must not stop the others
                self.failed[model.name] = f"{type(exc).__name__}: {exc}"
                log.error(
                    "mempool.model_failed",
                    model=model.name,
                    error=self.failed[model.name],
                    hint="this model gets no more mempool changes until restarted; "
                    "block processing goes on",
                    exc_info=True,
                )
