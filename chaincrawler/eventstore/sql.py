"""SQL text shared by both backends, and decoding of result rows into records.

The statements are written once with ``?`` placeholders (SQLite's style);
``numbered()`` rewrites them with ``$1, $2 ...`` for asyncpg. None of them has a
literal ``?``. The hot write path uses these hand-written statements rather than
compiled SQLAlchemy constructs to keep per-row overhead at the driver's level.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from chaincrawler.eventstore.records import (
    BlockRecord,
    BlockStatus,
    EventQuery,
    EventStatus,
    Reorg,
    Snapshot,
    StoredEvent,
)

Style = Literal["qmark", "numeric"]

BLOCK_COLUMNS = "height, hash, prev_hash, time, status, reorg_id"
EVENT_COLUMNS = (
    "position", "model", "version", "event_type", "event_version", "payload",
    "block_height", "block_hash", "status", "created_at",
)
EVENT_SELECT = (
    "SELECT position, model, version, event_type, event_version, payload, block_height, "
    "block_hash, status, reorg_id, created_at FROM events"
)
REORG_COLUMNS = (
    "id, fork_height, fork_hash, old_tip_height, old_tip_hash, new_tip_hash, depth, "
    "rolled_back_events, created_at"
)

TIP = f"SELECT {BLOCK_COLUMNS} FROM blocks WHERE status = 'canonical' ORDER BY height DESC LIMIT 1"
LOWEST_CANONICAL = (
    f"SELECT {BLOCK_COLUMNS} FROM blocks WHERE status = 'canonical' ORDER BY height LIMIT 1"
)
CANONICAL_AT = f"SELECT {BLOCK_COLUMNS} FROM blocks WHERE status = 'canonical' AND height = ?"
CHAIN_WINDOW = (
    f"SELECT {BLOCK_COLUMNS} FROM blocks WHERE status = 'canonical' ORDER BY height DESC LIMIT ?"
)
INSERT_BLOCK = (
    "INSERT INTO blocks (height, hash, prev_hash, time, status, created_at) "
    "VALUES (?, ?, ?, ?, 'canonical', ?)"
)
MAX_POSITION = "SELECT COALESCE(MAX(position), 0) FROM events"
MAX_ACTIVE_VERSION = (
    "SELECT COALESCE(MAX(version), 0) FROM events WHERE model = ? AND status = 'active'"
)


@functools.cache
def insert_statement(table: str, columns: tuple[str, ...]) -> str:
    """``INSERT INTO table (columns) VALUES (?, ...)``."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


INSERT_EVENT = insert_statement("events", EVENT_COLUMNS)
UPSERT_SNAPSHOT = (
    "INSERT INTO snapshots (model, block_height, block_hash, state, created_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (model, block_height) DO UPDATE SET "
    "block_hash = excluded.block_hash, state = excluded.state, created_at = excluded.created_at"
)
LATEST_SNAPSHOT = (
    "SELECT model, block_height, block_hash, state, created_at FROM snapshots "
    "WHERE model = ? AND block_height <= ? ORDER BY block_height DESC LIMIT 1"
)
#: The lowest position among active events above a height. Positions follow heights
#: within one model's events but not across models once a model was re-indexed (its
#: events are appended at the end of the log), so this takes the minimum; ``+position``
#: keeps SQLite from finding it by walking the primary key from the oldest event.
FIRST_ACTIVE_ABOVE = (
    "SELECT MIN(+position) FROM events WHERE status = 'active' AND block_height > ?"
)
INSERT_REORG = (
    "INSERT INTO reorgs (fork_height, fork_hash, old_tip_height, old_tip_hash, new_tip_hash, "
    "depth, rolled_back_events, first_position, last_position, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?) RETURNING id"
)
ROLL_BACK_EVENTS = (
    "UPDATE events SET status = 'rolled_back', reorg_id = ? "
    "WHERE status = 'active' AND block_height > ?"
)
SET_REORG_COUNT = "UPDATE reorgs SET rolled_back_events = ? WHERE id = ?"
DROP_SNAPSHOTS = "DELETE FROM snapshots WHERE block_height > ?"
ORPHAN_BLOCKS = (
    "UPDATE blocks SET status = 'orphaned', reorg_id = ? WHERE status = 'canonical' AND height > ?"
)
REORG_BY_ID = f"SELECT {REORG_COLUMNS} FROM reorgs WHERE id = ?"
REORGS = f"SELECT {REORG_COLUMNS} FROM reorgs ORDER BY id DESC LIMIT ?"
GET_CHECKPOINT = "SELECT position FROM checkpoints WHERE subscriber = ?"
UPSERT_CHECKPOINT = (
    "INSERT INTO checkpoints (subscriber, position, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (subscriber) DO UPDATE SET position = excluded.position, "
    "updated_at = excluded.updated_at"
)
KNOWN_MODELS = "SELECT name FROM models"
MODEL_VERSIONS = "SELECT name, version FROM models"
REGISTER_MODEL = (
    "INSERT INTO models (name, version, registered_at) VALUES (?, NULL, ?) "
    "ON CONFLICT (name) DO NOTHING"
)
SET_MODEL_VERSION = (
    "INSERT INTO models (name, version, registered_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET version = excluded.version"
)
#: Deletes the snapshots of one model that ``Retention`` does not keep: at or below
#: the horizon, older than the newest there, and not among the newest N.
PRUNE_SNAPSHOTS = (
    "DELETE FROM snapshots WHERE model = ? AND block_height <= ? AND block_height < "
    "(SELECT MAX(block_height) FROM snapshots WHERE model = ? AND block_height <= ?) "
    "AND block_height NOT IN "
    "(SELECT block_height FROM snapshots WHERE model = ? ORDER BY block_height DESC LIMIT ?)"
)
#: The block height of a model's newest active event (its stream follows heights).
LAST_ACTIVE_HEIGHT_OF = (
    "SELECT block_height FROM events WHERE status = 'active' AND model = ? "
    "ORDER BY position DESC LIMIT 1"
)
DROP_MODEL_SNAPSHOTS = "DELETE FROM snapshots WHERE model = ?"
CLEAR_MODEL = (
    "DELETE FROM events WHERE model = ?",
    "DELETE FROM snapshots WHERE model = ?",
    "DELETE FROM collection_values WHERE model = ?",
    "DELETE FROM collection_recent WHERE model = ?",
)
#: One model's snapshots, stored collections and their overlay rows; its events stay.
CLEAR_COLLECTIONS = (
    "DELETE FROM snapshots WHERE model = ?",
    "DELETE FROM collection_values WHERE model = ?",
    "DELETE FROM collection_recent WHERE model = ?",
)
#: Give the collection rows staged under a rebuild's name (the second ?) to the model.
ADOPT_COLLECTIONS = (
    "UPDATE collection_values SET model = ? WHERE model = ?",
    "UPDATE collection_recent SET model = ? WHERE model = ?",
)
HOLDS_CHAIN = "SELECT EXISTS (SELECT 1 FROM blocks) OR EXISTS (SELECT 1 FROM events)"
META = "SELECT key, value FROM meta"
#: Changes after every commit that adds blocks, events or mempool events, and after
#: every rollback.
CHANGE_MARKER = (
    "SELECT (SELECT COALESCE(MAX(id), 0) FROM blocks), "
    "(SELECT COALESCE(MAX(position), 0) FROM events), (SELECT COALESCE(MAX(id), 0) FROM reorgs), "
    "(SELECT COALESCE(MAX(position), 0) FROM mempool_events)"
)
INSERT_META = "INSERT INTO meta (key, value) VALUES (?, ?)"
SET_META = "UPDATE meta SET value = ? WHERE key = ?"
GET_META = "SELECT value FROM meta WHERE key = ?"
UPSERT_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

#: Far above any block height: the bound used when a caller gives none.
MAX_HEIGHT = 2**62


@functools.cache
def numbered(sql: str) -> str:
    """Rewrite ``?`` placeholders as ``$1, $2, ...`` (asyncpg's style)."""
    counter = itertools.count(1)
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


class _Params:
    """Collects bound values while a statement is built, in one placeholder style."""

    def __init__(self, style: Style) -> None:
        self.style = style
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return "?" if self.style == "qmark" else f"${len(self.values)}"

    def any_of(self, column: str, values: Sequence[str]) -> str:
        if self.style == "numeric":
            return f"{column} = ANY({self.add(list(values))}::text[])"
        if not values:
            return "FALSE"
        return f"{column} IN ({', '.join(self.add(v) for v in values)})"


def select_events(query: EventQuery, style: Style) -> tuple[str, list[Any]]:
    """SQL and arguments reading the events ``query`` selects."""
    params = _Params(style)
    where: list[str] = []
    if query.model is not None:
        where.append(f"model = {params.add(query.model)}")
    if query.event_types is not None:
        where.append(params.any_of("event_type", query.event_types))
    if query.reorg_id is not None:
        # No index on reorg_id: the reorg row records the positions it rolled back.
        where.append(f"reorg_id = {params.add(query.reorg_id)}")
        where.append(
            "position >= (SELECT first_position FROM reorgs WHERE id = "
            f"{params.add(query.reorg_id)})"
        )
        where.append(
            "position <= (SELECT last_position FROM reorgs WHERE id = "
            f"{params.add(query.reorg_id)})"
        )
    elif not query.include_rolled_back:
        where.append("status = 'active'")
        if query.from_height is not None:
            # Bound the scan by position through the height index, so reading the events
            # above a height (a replay after a snapshot) does not cost a scan of the
            # model's whole history (see FIRST_ACTIVE_ABOVE for why the minimum).
            where.append(
                "position >= (SELECT MIN(+position) FROM events WHERE status = 'active' "
                f"AND block_height >= {params.add(query.from_height)})"
            )
    bounds = (
        ("position >=", query.from_position), ("position <=", query.to_position),
        ("block_height >=", query.from_height), ("block_height <=", query.to_height),
    )
    where.extend(f"{cond} {params.add(value)}" for cond, value in bounds if value is not None)
    sql = EVENT_SELECT
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY position {query.order.upper()}"
    if query.limit is not None:
        sql += f" LIMIT {params.add(query.limit)}"
    return sql, params.values


def select_orphaned_blocks(
    style: Style, *, reorg_id: int | None, limit: int
) -> tuple[str, list[Any]]:
    """SQL and arguments reading orphaned blocks, most recently orphaned first."""
    params = _Params(style)
    sql = f"SELECT {BLOCK_COLUMNS} FROM blocks WHERE status = 'orphaned'"
    if reorg_id is not None:
        sql += f" AND reorg_id = {params.add(reorg_id)}"
    sql += f" ORDER BY reorg_id DESC, height DESC LIMIT {params.add(limit)}"
    return sql, params.values


TimeParser = Callable[[Any], datetime]


def block_from_row(row: Sequence[Any]) -> BlockRecord:
    """A BlockRecord from a row of ``BLOCK_COLUMNS``."""
    return BlockRecord(row[0], row[1], row[2], row[3], BlockStatus(row[4]), row[5])


def event_from_row(row: Sequence[Any], parse_time: TimeParser) -> StoredEvent:
    """A StoredEvent from a row of ``EVENT_SELECT``."""
    return StoredEvent(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
        EventStatus(row[8]), row[9], parse_time(row[10]),
    )


def snapshot_from_row(row: Sequence[Any], parse_time: TimeParser) -> Snapshot:
    """A Snapshot from a row of ``LATEST_SNAPSHOT``."""
    return Snapshot(row[0], row[1], row[2], row[3], parse_time(row[4]))


def reorg_from_row(row: Sequence[Any], parse_time: TimeParser) -> Reorg:
    """A Reorg from a row of ``REORG_COLUMNS``."""
    return Reorg(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], parse_time(row[8])
    )
