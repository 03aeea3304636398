"""Record types exchanged with an event store.

Hashes are hex strings in display order (as Bitcoin Core prints them); payloads
and snapshot states are JSON text, read back exactly as written (key order and
whitespace included) on every backend.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Literal, TypeVar

T = TypeVar("T")


class BlockStatus(enum.StrEnum):
    """Whether a stored block is on the canonical chain or was orphaned by a reorg."""

    CANONICAL = "canonical"
    ORPHANED = "orphaned"


class EventStatus(enum.StrEnum):
    """Whether an event belongs to the canonical chain or was rolled back by a reorg."""

    ACTIVE = "active"
    ROLLED_BACK = "rolled_back"


@dataclass(frozen=True, slots=True)
class BlockRecord:
    """A block header as the store keeps it (the chain window and orphans).

    ``status`` and ``reorg_id`` are set by the store: blocks passed to ``commit``
    keep the defaults; an orphaned block carries the id of the reorg that
    orphaned it.
    """

    height: int
    hash: str
    prev_hash: str
    time: int
    status: BlockStatus = BlockStatus.CANONICAL
    reorg_id: int | None = None


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event a model emitted, not yet stored."""

    model: str
    event_type: str
    event_version: int
    payload: str
    block_height: int
    block_hash: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event in the store.

    ``position`` is global, gap-free and in commit order. ``version`` is the
    event's 1-based index in its model's active stream: after a reorg the new
    branch's events continue from the fork, so a store that went through
    reorgs and a fresh crawl of the same chain hold identical active events.
    """

    position: int
    model: str
    version: int
    event_type: str
    event_version: int
    payload: str
    block_height: int
    block_hash: str
    status: EventStatus
    reorg_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PendingSnapshot:
    """A model's state after processing the block at ``block_height``."""

    model: str
    block_height: int
    block_hash: str
    state: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A stored model snapshot."""

    model: str
    block_height: int
    block_hash: str
    state: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CollectionWrite:
    """A change the block at ``block_height`` made to one key of a stored collection.

    ``value`` is the key's new value as JSON text (kept byte for byte), or None
    when the block deleted the key. A commit takes at most one write per key
    per block: the key's value after that block.
    """

    model: str
    collection: str
    key: str
    value: str | None
    block_height: int
    block_hash: str


@dataclass(frozen=True, slots=True)
class Retention:
    """What a commit keeps of the history it may delete (in its own transaction).

    Restoring within ``max_reorg_depth`` blocks of the tip stays possible: the
    collection writes of every block above ``tip - max_reorg_depth``, and per model
    every snapshot above that height plus the newest at or below it. Besides
    those, the newest ``snapshots`` snapshots of each model are kept.
    """

    max_reorg_depth: int
    snapshots: int = 1
    mempool_events: timedelta | None = None
    """Mempool events older than this are deleted (the newest one always stays, so
    positions never restart); None keeps them all."""

    def __post_init__(self) -> None:
        if self.max_reorg_depth < 0:
            raise ValueError(f"max_reorg_depth must be >= 0, not {self.max_reorg_depth}")
        if self.snapshots < 0:
            raise ValueError(f"snapshots must be >= 0, not {self.snapshots}")
        if self.mempool_events is not None and self.mempool_events < timedelta(0):
            raise ValueError(f"mempool_events must be >= 0, not {self.mempool_events}")


@dataclass(frozen=True, slots=True)
class AtTip(Generic[T]):
    """A read's ``result`` and the committed tip it is consistent with (one snapshot)."""

    tip: BlockRecord | None
    result: T


@dataclass(frozen=True, slots=True)
class Reorg:
    """One chain reorganisation the store went through.

    Blocks above ``fork_height`` (the last common block, ``fork_hash``) up to
    the old tip were orphaned and their ``rolled_back_events`` events marked
    rolled back with this reorg's ``id``.
    """

    id: int
    fork_height: int
    fork_hash: str
    old_tip_height: int
    old_tip_hash: str
    new_tip_hash: str | None
    depth: int
    rolled_back_events: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CommitResult:
    """Positions given to the events of one commit.

    A commit without events has ``last_position == first_position - 1``.
    """

    first_position: int
    last_position: int

    @property
    def positions(self) -> range:
        """The positions of the committed events, in commit order."""
        return range(self.first_position, self.last_position + 1)


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which events to read. Every bound is inclusive; ``None`` means unbounded.

    By default only active events are returned; ``include_rolled_back`` adds
    the rolled-back ones, and ``reorg_id`` keeps only the events a given reorg
    rolled back (it implies ``include_rolled_back``). Events are ordered by
    position, ascending or descending.

    Reads of active events are indexed for every filter, as are ``reorg_id``
    and position ranges; other filters over rolled-back events scan positions.
    """

    model: str | None = None
    event_types: tuple[str, ...] | None = None
    from_position: int | None = None
    to_position: int | None = None
    from_height: int | None = None
    to_height: int | None = None
    include_rolled_back: bool = False
    reorg_id: int | None = None
    limit: int | None = None
    order: Literal["asc", "desc"] = "asc"

    def __post_init__(self) -> None:
        if self.order not in ("asc", "desc"):
            raise ValueError(f"order must be 'asc' or 'desc', not {self.order!r}")
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit must be >= 0, not {self.limit}")
        if self.event_types is not None and not isinstance(self.event_types, tuple):
            object.__setattr__(self, "event_types", tuple(self.event_types))


@dataclass(frozen=True, slots=True)
class PendingMempoolEvent:
    """An event a mempool model emitted, not yet stored.

    ``txid``: the transaction it is about, if any. ``block_height``/``block_hash``: the
    block whose commit it belongs to (a confirmation), None for a change of the
    mempool itself.
    """

    model: str
    event_type: str
    event_version: int
    payload: str
    txid: str | None = None
    block_height: int | None = None
    block_hash: str | None = None


@dataclass(frozen=True, slots=True)
class StoredMempoolEvent:
    """A stored mempool event. ``position`` is the mempool log's own order (from 1,
    gap-free as appended; unrelated to block events' positions)."""

    position: int
    model: str
    event_type: str
    event_version: int
    payload: str
    txid: str | None
    block_height: int | None
    block_hash: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MempoolEventQuery:
    """Which mempool events to read: positions above ``after``, optionally of one
    ``model`` or about one ``txid``, at most ``limit``, in position order."""

    after: int = 0
    model: str | None = None
    txid: str | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit must be >= 0, not {self.limit}")


@dataclass(frozen=True, slots=True)
class MempoolFailure:
    """A mempool model stopped by an exception (until the crawler restarts it)."""

    model: str
    error: str
    failed_at: datetime
