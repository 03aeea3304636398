"""The built-in system model ``chain``: tip, recent blocks and reorg history.

It runs beside user models and is queried like any model. The pipeline calls
:meth:`ChainModel.note_reorg` after rolling back and before processing the new
branch; the ``ChainReorganized`` event is then applied with the first block of
the new branch, so it is stored in that branch and its own reorg never rolls it
back. Reorg history depends on what the crawler lived through, so unlike other
models the chain model's log is not a pure function of the final chain.

A reorg has two representations: the store's ``eventstore.Reorg`` (the rollback it
did: id, fork hash, events rolled back) and ``ChainReorganized`` (the reorg as the
chain model saw it, with the first block of the new branch), which is both the
event and the entry of ``reorg_history``.
"""

from __future__ import annotations

from typing import Annotated

import pydantic

from chaincrawler.chain.types import Block
from chaincrawler.models.errors import ModelError
from chaincrawler.models.events import Event
from chaincrawler.models.model import Model, on
from chaincrawler.models.query import query


class BlockConnected(Event):
    """A block was added on top of the chain."""

    height: int
    hash: str
    prev_hash: str
    time: int
    tx_count: int


class ChainReorganized(Event):
    """The blocks above ``fork_height`` were replaced; ``new_tip_*`` is the first new block.

    ``time`` is that block's header time.
    """

    fork_height: int
    depth: int
    old_tip_height: int
    old_tip_hash: str
    new_tip_height: int
    new_tip_hash: str
    time: int


class ChainBlock(pydantic.BaseModel):
    """One block of the chain window."""

    model_config = pydantic.ConfigDict(frozen=True)

    height: int
    hash: str
    prev_hash: str
    time: int


class ChainModel(Model):
    """The chain as crawled: tip, the last ``window_size`` blocks, and every reorg."""

    name = "chain"
    tip_height: int | None = None
    tip_hash: str | None = None
    recent_blocks: list[ChainBlock] = []  # noqa: RUF012 (state: copied per instance)
    reorg_history: list[ChainReorganized] = []  # noqa: RUF012

    def __init__(self, window_size: int = 100) -> None:
        """Keep the last ``window_size`` blocks in ``recent_blocks``."""
        if window_size < 1:
            raise ValueError(f"window_size must be >= 1, not {window_size}")
        super().__init__()
        self.window_size = window_size
        self._reorg_note: dict[str, int | str] | None = None

    def note_reorg(
        self, fork_height: int, depth: int, old_tip_height: int, old_tip_hash: str
    ) -> None:
        """Record a reorg; its event is applied with the next block processed."""
        if depth < 1 or fork_height < -1 or old_tip_height < 0:
            raise ValueError(
                f"not a reorg: fork_height {fork_height} (>= -1), depth {depth} (>= 1), "
                f"old_tip_height {old_tip_height} (>= 0)"
            )
        self._reorg_note = {
            "fork_height": fork_height, "depth": depth, "old_tip_height": old_tip_height,
            "old_tip_hash": old_tip_hash,
        }

    def process_block(self, block: Block) -> None:
        height = block.height
        if height is None:
            raise ModelError(f"chain model: block {block.hash} reached it without a height")
        header = block.header
        note = self._reorg_note
        if note is not None:
            self.apply(ChainReorganized.model_validate({
                **note, "new_tip_height": height, "new_tip_hash": block.hash,
                "time": header.time,
            }))
            self._reorg_note = None
        self.apply(BlockConnected(
            height=height, hash=block.hash, prev_hash=header.prev_hash, time=header.time,
            tx_count=len(block.transactions),
        ))

    @on(BlockConnected)
    def _connected(self, event: BlockConnected) -> None:
        blocks = self.recent_blocks
        while blocks and blocks[-1].height >= event.height:
            blocks.pop()
        blocks.append(ChainBlock(
            height=event.height, hash=event.hash, prev_hash=event.prev_hash, time=event.time
        ))
        if len(blocks) > self.window_size:
            del blocks[: len(blocks) - self.window_size]
        self.tip_height = event.height
        self.tip_hash = event.hash

    @on(ChainReorganized)
    def _reorganized(self, event: ChainReorganized) -> None:
        blocks = self.recent_blocks
        while blocks and blocks[-1].height > event.fork_height:
            blocks.pop()
        fork = blocks[-1] if blocks and blocks[-1].height == event.fork_height else None
        self.tip_height = event.fork_height if event.fork_height >= 0 else None
        self.tip_hash = fork.hash if fork is not None else None
        self.reorg_history.append(event)

    @query(name="tip")
    def tip_block(self) -> ChainBlock | None:
        """The highest block crawled, or null before the first block."""
        return self.recent_blocks[-1] if self.recent_blocks else None

    @query
    def window(self) -> list[ChainBlock]:
        """The most recent blocks, lowest height first."""
        return list(self.recent_blocks)

    @query
    def reorgs(
        self, limit: Annotated[int, pydantic.Field(ge=1, le=10_000)] = 20
    ) -> list[ChainReorganized]:
        """The most recent reorgs, newest first."""
        return self.reorg_history[::-1][:limit]
