"""Mempool events in the store: their SQL, and the steps of appending and pruning them.

Mempool events live in their own table with their own positions (see ``schema``): a
reorg never touches them and restoring a model never reads them. They are appended
alone (``EventStore.append_mempool_events``, the mempool changing) or inside a block's
commit (the block confirmed the transactions they are about), and pruned by age in the
same transaction. Statements have ``?`` placeholders, as in ``sql``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chaincrawler.eventstore import sql
from chaincrawler.eventstore.errors import StoreConflictError
from chaincrawler.eventstore.ops import Execute, InsertRows, Steps, Value
from chaincrawler.eventstore.records import (
    BlockRecord,
    CommitResult,
    MempoolEventQuery,
    MempoolFailure,
    PendingMempoolEvent,
    StoredMempoolEvent,
)

COLUMNS = (
    "position", "model", "event_type", "event_version", "payload", "txid", "block_height",
    "block_hash", "created_at",
)
SELECT = f"SELECT {', '.join(COLUMNS)} FROM mempool_events"
MAX_POSITION = "SELECT COALESCE(MAX(position), 0) FROM mempool_events"
#: Deletes what is older than the cutoff, except the newest event: positions continue
#: from it, so a stream client's position stays meaningful after any prune.
PRUNE = (
    "DELETE FROM mempool_events WHERE created_at < ? "
    "AND position < (SELECT MAX(position) FROM mempool_events)"
)
SET_FAILURE = (
    "INSERT INTO mempool_failures (model, error, failed_at) VALUES (?, ?, ?) "
    "ON CONFLICT (model) DO UPDATE SET error = excluded.error, failed_at = excluded.failed_at"
)
CLEAR_FAILURE = "DELETE FROM mempool_failures WHERE model = ?"
FAILURES = "SELECT model, error, failed_at FROM mempool_failures ORDER BY model"


def check_in_commit(blocks: Sequence[BlockRecord], events: Sequence[PendingMempoolEvent]) -> None:
    """Every mempool event naming a block must name one of the commit's ``blocks``."""
    hashes = {block.height: block.hash for block in blocks}
    for event in events:
        if event.block_height is None and event.block_hash is None:
            continue
        if event.block_height is None or hashes.get(event.block_height) != event.block_hash:
            raise StoreConflictError(
                f"mempool event {event.event_type!r} of model {event.model!r} names block "
                f"{event.block_height} {event.block_hash}, which is not in the commit"
            )


def append_steps(
    events: Sequence[PendingMempoolEvent], now: Any, cutoff: Any | None
) -> Steps[CommitResult]:
    """Append ``events`` with the next positions; with a ``cutoff``, prune older ones.

    Runs inside a write that holds the log lock (``LockLog``).
    """
    first = (yield Value(MAX_POSITION)) + 1
    if events:
        rows = [
            (position, e.model, e.event_type, e.event_version, e.payload, e.txid,
             e.block_height, e.block_hash, now)
            for position, e in enumerate(events, first)
        ]
        yield InsertRows("mempool_events", COLUMNS, rows)
    if cutoff is not None:
        yield Execute(PRUNE, (cutoff,))
    return CommitResult(first, first + len(events) - 1)


def select(query: MempoolEventQuery, style: sql.Style) -> tuple[str, list[Any]]:
    """SQL and arguments reading the mempool events ``query`` selects."""
    where: list[str] = ["position > ?"]
    args: list[Any] = [query.after]
    for column, value in (("model", query.model), ("txid", query.txid)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    statement = f"{SELECT} WHERE {' AND '.join(where)} ORDER BY position"
    if query.limit is not None:
        statement += " LIMIT ?"
        args.append(query.limit)
    return (sql.numbered(statement) if style == "numeric" else statement), args


def event_from_row(row: Sequence[Any], parse_time: sql.TimeParser) -> StoredMempoolEvent:
    """A StoredMempoolEvent from a row of ``SELECT``."""
    return StoredMempoolEvent(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], parse_time(row[8])
    )


def failure_from_row(row: Sequence[Any], parse_time: sql.TimeParser) -> MempoolFailure:
    """A MempoolFailure from a row of ``FAILURES``."""
    return MempoolFailure(row[0], row[1], parse_time(row[2]))
