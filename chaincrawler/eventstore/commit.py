"""Backend-independent logic of a commit: linkage checks and event row building."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from chaincrawler.eventstore.errors import StoreConflictError
from chaincrawler.eventstore.records import BlockRecord, PendingEvent, PendingSnapshot


def check_commit(
    tip: BlockRecord | None,
    blocks: Sequence[BlockRecord],
    events: Sequence[PendingEvent],
    snapshots: Sequence[PendingSnapshot],
) -> list[PendingSnapshot]:
    """Check that a commit extends ``tip`` consistently; raise StoreConflictError if not.

    Blocks must be consecutive by height and prev_hash, the first one on top of
    the stored canonical tip (any height when the store has none). Every event
    must belong to one of the blocks, in non-decreasing height order (so that
    per-model versions follow the chain). Returns the snapshots whose block is
    not in ``blocks``: the caller must check they name stored canonical blocks.
    """
    for prev, block in itertools.pairwise(blocks):
        if block.height != prev.height + 1 or block.prev_hash != prev.hash:
            raise StoreConflictError(
                f"blocks of a commit must be consecutive: block {block.height} {block.hash} "
                f"(prev {block.prev_hash}) does not follow block {prev.height} {prev.hash}"
            )
    if blocks and tip is not None:
        first = blocks[0]
        if first.height != tip.height + 1 or first.prev_hash != tip.hash:
            raise StoreConflictError(
                f"block {first.height} {first.hash} (prev {first.prev_hash}) does not extend "
                f"the stored tip {tip.height} {tip.hash}; re-read tip() and resume from there"
            )
    hashes = {block.height: block.hash for block in blocks}
    last_height = -1
    for event in events:
        if hashes.get(event.block_height) != event.block_hash:
            raise StoreConflictError(
                f"event {event.event_type!r} of model {event.model!r} names block "
                f"{event.block_height} {event.block_hash}, which is not in the commit"
            )
        if event.block_height < last_height:
            raise StoreConflictError(
                f"events of a commit must be in block order: an event of block "
                f"{event.block_height} follows one of block {last_height}"
            )
        last_height = event.block_height
    outside: list[PendingSnapshot] = []
    for snapshot in snapshots:
        if snapshot.block_height not in hashes:
            outside.append(snapshot)
        elif hashes[snapshot.block_height] != snapshot.block_hash:
            raise StoreConflictError(
                f"snapshot of model {snapshot.model!r} names block {snapshot.block_height} "
                f"{snapshot.block_hash}, but the commit's block there is "
                f"{hashes[snapshot.block_height]}"
            )
    return outside


def snapshot_off_chain(snapshot: PendingSnapshot, canonical_hash: str | None) -> StoreConflictError:
    """The error for a snapshot naming a block that is not on the stored chain."""
    return StoreConflictError(
        f"snapshot of model {snapshot.model!r} names block {snapshot.block_height} "
        f"{snapshot.block_hash}, but the canonical block there is {canonical_hash}"
    )


def event_rows(
    events: Sequence[PendingEvent],
    first_position: int,
    versions: Mapping[str, int],
    created_at: Any,
) -> list[tuple[Any, ...]]:
    """Rows of ``sql.EVENT_COLUMNS`` for ``events``, positions from ``first_position``.

    ``versions`` maps each model of the batch to its highest active version so far.
    """
    next_version = {model: itertools.count(v + 1).__next__ for model, v in versions.items()}
    return [
        (position, e.model, next_version[e.model](), e.event_type, e.event_version, e.payload,
         e.block_height, e.block_hash, "active", created_at)
        for position, e in enumerate(events, first_position)
    ]
