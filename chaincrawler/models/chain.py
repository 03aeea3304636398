"""The built-in system model ``chain``: tip, recent blocks and reorg history.

It runs beside user models and is queried like any model. The pipeline calls
:meth:`ChainModel.note_reorg` after rolling back and before processing the new
branch; the ``ChainReorganized`` event is then applied with the first block of
the new branch, so it is stored in that branch and its own reorg never rolls it
back. Reorg history depends on what the crawler lived through, so unlike other
models the chain model's log is not a pure function of the final chain.
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
    """The blocks above ``fork_height`` were replaced; ``new_tip_*`` is the first new block."""

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


class ReorgRecord(pydantic.BaseModel):
    """One reorg the crawler went through; ``time`` is the first new block's header time."""

    model_config = pydantic.ConfigDict(frozen=True)

    fork_height: int
    depth: int
    old_tip_height: int
    old_tip_hash: str
    new_tip_height: int
    new_tip_hash: str
    time: int


class _ReorgNote(pydantic.BaseModel):
    fork_height: int = pydantic.Field(ge=-1)
    depth: int = pydantic.Field(ge=1)
    old_tip_height: int = pydantic.Field(ge=0)
    old_tip_hash: str


class ChainModel(Model):
    """The chain as crawled: tip, the last ``window_size`` blocks, and every reorg."""

    name = "chain"
    tip_height: int | None = None
    tip_hash: str | None = None
    recent_blocks: list[ChainBlock] = []  # noqa: RUF012 (state: copied per instance)
    reorg_history: list[ReorgRecord] = []  # noqa: RUF012

    def __init__(self, window_size: int = 100) -> None:
        """Keep the last ``window_size`` blocks in ``recent_blocks``."""
        if window_size < 1:
            raise ValueError(f"window_size must be >= 1, not {window_size}")
        self.window_size = window_size
        self._reorg_note: _ReorgNote | None = None

    def note_reorg(
        self, fork_height: int, depth: int, old_tip_height: int, old_tip_hash: str
    ) -> None:
        """Record a reorg; its event is applied with the next block processed."""
        self._reorg_note = _ReorgNote(
            fork_height=fork_height, depth=depth, old_tip_height=old_tip_height,
            old_tip_hash=old_tip_hash,
        )

    def process_block(self, block: Block) -> None:
        height = block.height
        if height is None:
            raise ModelError(f"chain model: block {block.hash} reached it without a height")
        header = block.header
        note = self._reorg_note
        if note is not None:
            self.apply(ChainReorganized(
                fork_height=note.fork_height, depth=note.depth,
                old_tip_height=note.old_tip_height, old_tip_hash=note.old_tip_hash,
                new_tip_height=height, new_tip_hash=block.hash, time=header.time,
            ))
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
        self.reorg_history.append(ReorgRecord(**event.model_dump()))

    @query
    def tip(self) -> ChainBlock | None:
        """The highest block crawled, or null before the first block."""
        return self.recent_blocks[-1] if self.recent_blocks else None

    @query
    def window(self) -> list[ChainBlock]:
        """The most recent blocks, lowest height first."""
        return list(self.recent_blocks)

    @query
    def reorgs(
        self, limit: Annotated[int, pydantic.Field(ge=1, le=10_000)] = 20
    ) -> list[ReorgRecord]:
        """The most recent reorgs, newest first."""
        return self.reorg_history[::-1][:limit]
