"""A model's state at a past height of the reorg window, for ``?height=`` and ``/at/{height}``.

The state is built on a side copy by ``crawler.restore.state_at`` (the served model is
never touched) and kept for the few most recent blocks asked for, keyed by block hash:
a block's hash fixes every event at or below it, so a cached copy stays right until a
reorg replaces the block (then a new hash is asked for). An answer is checked after it
is computed: if a reorg replaced the block meanwhile, it is computed again.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from chaincrawler.crawler.restore import state_at
from chaincrawler.eventstore import BlockRecord
from chaincrawler.eventstore.errors import HistoryPrunedError
from chaincrawler.models import Model, StateError
from chaincrawler.transports.errors import ApiError
from chaincrawler.transports.source import StateSource

T = TypeVar("T")

CACHED_BLOCKS = 2
"""Side copies kept (each holds a whole in-memory state: keep this small)."""

_ATTEMPTS = 3


class History:
    """Answers at a height within the window (finalized height to committed tip)."""

    def __init__(self, source: StateSource) -> None:
        self._source = source
        self._copies: OrderedDict[tuple[str, str], asyncio.Task[Model]] = OrderedDict()

    async def run(self, model: Model, height: int,
                  answer: Callable[[Model], Awaitable[T]]) -> tuple[BlockRecord, T]:
        """``answer`` on ``model``'s state at ``height``, and the block it reflects.

        ApiError 400 ``height_outside_window`` for a height below the finalized height
        or above the committed tip; 503 ``state_moved`` if reorgs kept replacing it.
        """
        for _ in range(_ATTEMPTS):
            block = await self._block_at(height)
            key = (model.name, block.hash)
            try:
                side = await self._copy(key, model, block)
                result = await answer(side)
            except HistoryPrunedError as exc:
                self._copies.pop(key, None)
                raise ApiError(400, "height_outside_window", str(exc),
                               self._window(height)) from None
            except StateError as exc:
                self._copies.pop(key, None)
                raise ApiError(409, "no_state_at_height", str(exc),
                               {"model": model.name, "height": height}) from None
            now = await self._source.store.canonical_block(height)
            if now is not None and now.hash == block.hash:
                return block, result
            self._copies.pop(key, None)
        raise ApiError(503, "state_moved", f"reorgs kept replacing the block at height "
                       f"{height} while its state was read; ask again")

    def _window(self, height: int) -> dict[str, int | None]:
        view = self._source.view()
        return {"height": height, "finalized_height": view.finalized_height,
                "tip_height": None if view.tip is None else view.tip.height}

    async def _block_at(self, height: int) -> BlockRecord:
        window = self._window(height)
        tip, low = window["tip_height"], window["finalized_height"] or 0
        if tip is None or not low <= height <= tip:
            where = "the store is empty" if tip is None else f"the window is {low}..{tip}"
            raise ApiError(400, "height_outside_window",
                           f"no state at height {height}: {where} (finalized height to "
                           "committed tip)", window)
        block = await self._source.store.canonical_block(height)
        if block is None:  # a rollback above ``height`` is being committed
            raise ApiError(503, "state_moved", f"the block at height {height} is being "
                           "replaced by a reorg; ask again")
        return block

    async def _copy(self, key: tuple[str, str], model: Model, block: BlockRecord) -> Model:
        task = self._copies.get(key)
        if task is None:
            task = asyncio.ensure_future(state_at(model, self._source.store, block))
            self._copies[key] = task
            while len(self._copies) > CACHED_BLOCKS:
                self._copies.popitem(last=False)
        self._copies.move_to_end(key)
        try:
            return await asyncio.shield(task)
        except BaseException:
            if task.done() and self._copies.get(key) is task:
                del self._copies[key]
            raise
