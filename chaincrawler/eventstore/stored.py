"""Stored collections: a commit's writes, the reorg window's overlay, rollback, reads.

Written once, as steps over the primitive operations of ``ops``, for both
backends. Where the drivers take a batch differently, ``dialect`` picks the
statement: SQLite gets ``executemany`` and a list of keys as one JSON array
(``json_each``); PostgreSQL one statement over arrays (``unnest``).

Two tables hold a collection. ``collection_values`` (the base) holds each key's
value as of the *settled* height, ``meta['collections_settled_through']``: blocks
at or below it can no longer be orphaned. ``collection_recent`` (the overlay)
holds what each block above it wrote, one row per (block, key): the key's value
after the block, NULL when the block deleted it. A key's value at height H is
its overlay row of the highest block at or below H, else its base value.

- Commit: with ``retention``, the horizon is ``tip - max_reorg_depth``. Writes of
  blocks at or below it go straight into the base (the last per key), those above
  are appended to the overlay, and overlay rows that fell to or below the horizon
  are settled into the base (the newest per key; NULL deletes) and deleted, all in
  the commit's transaction. Without ``retention`` every write goes to the overlay
  and nothing settles. The store never reads old values to write.
- Rollback to a fork: delete the overlay rows above it, a contiguous range of the
  overlay's primary key. The base is untouched, so the cost is O(keys the orphaned
  blocks wrote), whatever the size of the state. Below the settled height neither a
  rollback nor a read "at height" can be answered (HistoryPrunedError).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from chaincrawler.eventstore import sql
from chaincrawler.eventstore.errors import HistoryPrunedError, StoreConflictError
from chaincrawler.eventstore.ops import Execute, ExecuteMany, InsertRows, Row, Rows, Steps, Value
from chaincrawler.eventstore.records import AtTip, BlockRecord, CollectionWrite, Retention

#: A key of one model's collection: (model, collection, key).
Key = tuple[str, str, str]

RECENT_COLUMNS = ("block_height", "model", "collection", "key", "value")
SETTLED_THROUGH = "collections_settled_through"

# Keys of one (model, collection): SQLite reads a JSON array, PostgreSQL an array. The
# PostgreSQL form joins from the array so that the plan is always one index probe per
# key (``key = ANY($3)`` may get a generic plan that scans the table per key).
_VALUES_OF = {
    "sqlite": (
        "SELECT key, value FROM collection_values WHERE model = ? AND collection = ? "
        "AND key IN (SELECT value FROM json_each(?))"
    ),
    "postgresql": (
        "SELECT v.key, v.value FROM unnest(?::text[]) AS k(key) JOIN collection_values v "
        "ON v.model = ? AND v.collection = ? AND v.key = k.key"
    ),
}
# Overlay rows at or below a height for some keys, the lowest block first.
_RECENT_OF = {
    "sqlite": (
        "SELECT key, value FROM collection_recent WHERE model = ? AND collection = ? "
        "AND key IN (SELECT value FROM json_each(?)) AND block_height <= ? "
        "ORDER BY block_height"
    ),
    # LATERAL ... OFFSET 0: one probe of the key index per key, whatever the statistics
    # (a fresh overlay without them got a plan comparing every row with every key).
    "postgresql": (
        "SELECT k.key, r.value FROM unnest(?::text[]) AS k(key) CROSS JOIN LATERAL "
        "(SELECT value, block_height FROM collection_recent WHERE model = ? "
        "AND collection = ? AND key = k.key AND block_height <= ? OFFSET 0) AS r "
        "ORDER BY r.block_height"
    ),
}
_PUT = {
    "sqlite": (
        "INSERT INTO collection_values (model, collection, key, value) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (model, collection, key) DO UPDATE SET value = excluded.value"
    ),
    "postgresql": (
        "INSERT INTO collection_values (model, collection, key, value) "
        "SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::json[]) "
        "ON CONFLICT (model, collection, key) DO UPDATE SET value = excluded.value"
    ),
}
_DELETE = {
    "sqlite": "DELETE FROM collection_values WHERE model = ? AND collection = ? AND key = ?",
    "postgresql": (
        "DELETE FROM collection_values WHERE (model, collection, key) IN "
        "(SELECT * FROM unnest(?::text[], ?::text[], ?::text[]))"
    ),
}

LOWEST_RECENT = "SELECT MIN(block_height) FROM collection_recent"
# Per key of the overlay rows at or below a height, the row of the highest block: the
# rows found by a range of the primary key, each checked by one probe of the key index
# (so the cost is that of the rows settled, not of the whole window).
_NEWEST_AT_OR_BELOW = (
    "SELECT model, collection, key, value FROM collection_recent r WHERE block_height <= ? "
    "AND NOT EXISTS (SELECT 1 FROM collection_recent n WHERE n.model = r.model "
    "AND n.collection = r.collection AND n.key = r.key AND n.block_height > r.block_height "
    "AND n.block_height <= ?)"
)
SETTLE_PUT = (
    "INSERT INTO collection_values (model, collection, key, value) "
    f"SELECT model, collection, key, value FROM ({_NEWEST_AT_OR_BELOW}) AS r "
    "WHERE value IS NOT NULL "
    "ON CONFLICT (model, collection, key) DO UPDATE SET value = excluded.value"
)
SETTLE_DELETE = (
    "DELETE FROM collection_values WHERE (model, collection, key) IN "
    f"(SELECT model, collection, key FROM ({_NEWEST_AT_OR_BELOW}) AS r WHERE value IS NULL)"
)
DROP_SETTLED = "DELETE FROM collection_recent WHERE block_height <= ?"
DROP_RECENT_ABOVE = "DELETE FROM collection_recent WHERE block_height > ?"

# The overlay's newest row of each key of one collection (index: model, collection, key,
# block_height), in key order.
_NEWEST_OF = (
    "SELECT key, value FROM collection_recent r WHERE model = ? AND collection = ? "
    "{after}AND block_height = (SELECT MAX(block_height) FROM collection_recent n "
    "WHERE n.model = r.model AND n.collection = r.collection AND n.key = r.key)"
)
SCAN = (
    "SELECT key, value FROM collection_values WHERE model = ? AND collection = ? AND key > ? "
    "ORDER BY key LIMIT ?"
)
SCAN_FROM_START = (
    "SELECT key, value FROM collection_values WHERE model = ? AND collection = ? "
    "ORDER BY key LIMIT ?"
)
SCAN_RECENT = _NEWEST_OF.format(after="AND key > ? ") + " ORDER BY key LIMIT ?"
SCAN_RECENT_FROM_START = _NEWEST_OF.format(after="") + " ORDER BY key LIMIT ?"
COUNT = "SELECT COUNT(*) FROM collection_values WHERE model = ? AND collection = ?"
# What the overlay changes in a count: +1 per key it holds that the base lacks, -1 per
# key of the base it deletes.
COUNT_RECENT = (
    "SELECT COALESCE(SUM(CASE WHEN value IS NULL THEN -1 ELSE 1 END), 0) "
    f"FROM ({_NEWEST_OF.format(after='')}) AS r WHERE (value IS NULL) = EXISTS "
    "(SELECT 1 FROM collection_values v WHERE v.model = ? AND v.collection = ? "
    "AND v.key = r.key)"
)


def _values_of(dialect: str, model: str, collection: str, keys: Sequence[str]) -> Rows:
    if dialect == "sqlite":
        return Rows(_VALUES_OF[dialect], (model, collection, json.dumps(keys)))
    return Rows(_VALUES_OF[dialect], (list(keys), model, collection))


def _recent_of(
    dialect: str, model: str, collection: str, keys: Sequence[str], height: int
) -> Rows:
    if dialect == "sqlite":
        return Rows(_RECENT_OF[dialect], (model, collection, json.dumps(keys), height))
    return Rows(_RECENT_OF[dialect], (list(keys), model, collection, height))


def _set_values(dialect: str, values: Mapping[Key, str | None]) -> Steps[None]:
    """Give each key its base value: put those with one, delete those with None."""
    items = sorted(values.items())
    put = [(*key, value) for key, value in items if value is not None]
    gone = [key for key, value in items if value is None]
    for statements, rows in ((_PUT, put), (_DELETE, gone)):
        if not rows:
            continue
        if dialect == "sqlite":
            yield ExecuteMany(statements[dialect], rows)
        else:  # one statement over one array per column
            yield Execute(statements[dialect], tuple(list(c) for c in zip(*rows, strict=True)))


def check_writes(blocks: Sequence[BlockRecord], writes: Sequence[CollectionWrite]) -> None:
    """Every write must name a block of the commit, at most once per key and block."""
    hashes = {block.height: block.hash for block in blocks}
    seen: set[tuple[int, str, str, str]] = set()
    for write in writes:
        if hashes.get(write.block_height) != write.block_hash:
            raise StoreConflictError(
                f"write of key {write.key!r} of collection {write.collection!r} of model "
                f"{write.model!r} names block {write.block_height} {write.block_hash}, "
                "which is not in the commit"
            )
        slot = (write.block_height, write.model, write.collection, write.key)
        if slot in seen:
            raise StoreConflictError(
                f"two writes of key {write.key!r} of collection {write.collection!r} of model "
                f"{write.model!r} in block {write.block_height}: give its value after the block"
            )
        seen.add(slot)


def apply_steps(
    dialect: str,
    writes: Sequence[CollectionWrite],
    retention: Retention | None,
    tip_height: int,
) -> Steps[None]:
    """Apply a commit's ``writes`` (base or overlay) and settle what left the window."""
    horizon = None if retention is None else tip_height - retention.max_reorg_depth
    settled: dict[Key, str | None] = {}
    recent = []
    for write in sorted(writes, key=lambda w: w.block_height):
        if horizon is not None and write.block_height <= horizon:
            settled[(write.model, write.collection, write.key)] = write.value
        else:
            recent.append(
                (write.block_height, write.model, write.collection, write.key, write.value)
            )
    if horizon is not None:
        lowest = yield Value(LOWEST_RECENT)
        leaving = lowest is not None and lowest <= horizon
        if leaving:
            # Overlay rows are of blocks below this commit's: the commit's own writes
            # to the base come after them.
            yield Execute(SETTLE_PUT, (horizon, horizon))
            yield Execute(SETTLE_DELETE, (horizon, horizon))
            yield Execute(DROP_SETTLED, (horizon,))
        yield from _set_values(dialect, settled)
        if leaving or settled:
            through = yield from _settled_through()
            if through is None or through < horizon:
                yield Execute(sql.UPSERT_META, (SETTLED_THROUGH, str(horizon)))
    if recent:
        yield InsertRows("collection_recent", RECENT_COLUMNS, recent)


def restore_steps(fork_height: int) -> Steps[None]:
    """Restore every collection to its state at ``fork_height`` (part of a rollback)."""
    through = yield from _settled_through()
    if through is not None and fork_height < through:
        raise HistoryPrunedError(
            f"cannot roll back to height {fork_height}: stored collections keep the "
            f"writes of each block only above height {through} (the reorg window); "
            "rebuild the store from the node"
        )
    yield Execute(DROP_RECENT_ABOVE, (fork_height,))


def _settled_through() -> Steps[int | None]:
    value = yield Value(sql.GET_META, (SETTLED_THROUGH,))
    return None if value is None else int(value)


def get_many_steps(
    dialect: str, model: str, collection: str, keys: Sequence[str], at_height: int | None
) -> Steps[AtTip[dict[str, str]]]:
    """``EventStore.get_many``."""
    row = yield Row(sql.TIP)
    tip = None if row is None else sql.block_from_row(row)
    # A key holding NUL is never stored (StoredDict refuses to write one; PostgreSQL text
    # cannot hold it): it is absent without asking.
    names = [key for key in dict.fromkeys(keys) if "\x00" not in key]
    if at_height is not None:
        yield from _check_height(at_height, tip)
    rows = yield _values_of(dialect, model, collection, names)
    found: dict[str, str] = {row[0]: row[1] for row in rows}
    height = sql.MAX_HEIGHT if at_height is None else at_height
    recent = yield _recent_of(dialect, model, collection, names, height)
    for key, value in recent:  # the highest block comes last
        if value is None:
            found.pop(key, None)
        else:
            found[key] = value
    return AtTip(tip, {key: found[key] for key in names if key in found})


def _check_height(height: int, tip: BlockRecord | None) -> Steps[None]:
    if tip is None or height > tip.height:
        raise HistoryPrunedError(
            f"no state at height {height}: the stored tip is "
            f"{'empty' if tip is None else tip.height}"
        )
    through = yield from _settled_through()
    if through is not None and height < through:
        raise HistoryPrunedError(
            f"no state at height {height}: stored collections keep the writes of each "
            f"block only above height {through} (the reorg window)"
        )


def scan_steps(
    model: str, collection: str, after: str | None, limit: int
) -> Steps[AtTip[list[tuple[str, str]]]]:
    """``EventStore.scan``: the base and the overlay merged in key order.

    Each round reads up to ``limit`` keys after the cursor from both; every key up to
    the lower of their last keys (if a side filled its page) is then known, the
    overlay's newest row deciding. Deletions can leave a round short of ``limit``:
    it goes on from there, so a page costs O(limit + keys the overlay deletes).
    """
    row = yield Row(sql.TIP)
    page: list[tuple[str, str]] = []
    cursor = after
    while len(page) < limit:
        if cursor is None:
            base = yield Rows(SCAN_FROM_START, (model, collection, limit))
            recent = yield Rows(SCAN_RECENT_FROM_START, (model, collection, limit))
        else:
            base = yield Rows(SCAN, (model, collection, cursor, limit))
            recent = yield Rows(SCAN_RECENT, (model, collection, cursor, limit))
        merged: dict[str, str | None] = {r[0]: r[1] for r in base}
        merged.update((r[0], r[1]) for r in recent)
        full = [rows[-1][0] for rows in (base, recent) if len(rows) == limit]
        known = min(full) if full else None  # None: both sides are exhausted
        # Python orders str by code point, which is the order of their UTF-8 bytes.
        for key in sorted(merged):
            if known is not None and key > known:
                break
            value = merged[key]
            if value is not None:
                page.append((key, value))
                if len(page) == limit:
                    break
        if known is None:
            break
        cursor = known
    return AtTip(None if row is None else sql.block_from_row(row), page)


def count_steps(model: str, collection: str) -> Steps[AtTip[int]]:
    """``EventStore.count``."""
    row = yield Row(sql.TIP)
    count = yield Value(COUNT, (model, collection))
    change = yield Value(COUNT_RECENT, (model, collection, model, collection))
    return AtTip(None if row is None else sql.block_from_row(row), int(count) + int(change))
