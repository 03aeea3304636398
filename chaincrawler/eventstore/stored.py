"""Stored collections: a commit's writes and their undo records, restore on rollback, reads.

Written once, as steps over the primitive operations of ``ops``, for both
backends. Where the drivers take a batch differently, ``dialect`` picks the
statement: SQLite gets ``executemany`` and a list of keys as one JSON array
(``json_each``); PostgreSQL one statement over arrays (``unnest``).

Undo records: for each block, the value every key it changed had before it
(NULL when the key was absent). Rolling back to a fork restores each key from
its record of the lowest block above the fork, then drops the records used:
cost O(keys the orphaned blocks changed). The restore is two statements that
read the undo records inside the database (no row travels to Python and back),
writing keys in index order. The store reads the old values itself,
in the commit's transaction (one batched read per (model, collection) of the
commit), so undo records never depend on what a caller believes is stored.

Records of blocks deeper than the reorg window are pruned by a commit that
writes to collections; ``meta['undo_pruned_through']`` records the highest height
pruned, below which neither a rollback nor a read "at height" can be answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from chaincrawler.eventstore import sql
from chaincrawler.eventstore.errors import HistoryPrunedError, StoreConflictError
from chaincrawler.eventstore.ops import Execute, ExecuteMany, InsertRows, Row, Rows, Steps, Value
from chaincrawler.eventstore.records import AtTip, BlockRecord, CollectionWrite, Retention

#: A key of one model's collection: (model, collection, key).
Key = tuple[str, str, str]

UNDO_COLUMNS = ("block_height", "model", "collection", "key", "old_value")
PRUNED_THROUGH = "undo_pruned_through"

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
# Undo records above a height for some keys, the highest block first.
_UNDO_OF = {
    "sqlite": (
        "SELECT key, old_value FROM collection_undo WHERE block_height > ? AND model = ? "
        "AND collection = ? AND key IN (SELECT value FROM json_each(?)) "
        "ORDER BY block_height DESC"
    ),
    "postgresql": (
        "SELECT u.key, u.old_value FROM unnest(?::text[]) AS k(key) JOIN collection_undo u "
        "ON u.block_height > ? AND u.model = ? AND u.collection = ? AND u.key = k.key "
        "ORDER BY u.block_height DESC"
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

# Per key changed above a height, its undo record of the lowest block: its value there.
_FIRST_UNDO_ABOVE = (
    "SELECT model, collection, key, old_value FROM (SELECT model, collection, key, old_value, "
    "ROW_NUMBER() OVER (PARTITION BY model, collection, key ORDER BY block_height) AS n "
    "FROM collection_undo WHERE block_height > ?) AS first_undo WHERE n = 1"
)
RESTORE_PUT = (
    "INSERT INTO collection_values (model, collection, key, value) "
    f"SELECT model, collection, key, old_value FROM ({_FIRST_UNDO_ABOVE}) AS u "
    "WHERE old_value IS NOT NULL ORDER BY model, collection, key "
    "ON CONFLICT (model, collection, key) DO UPDATE SET value = excluded.value"
)
RESTORE_DELETE = (
    "DELETE FROM collection_values WHERE (model, collection, key) IN "
    f"(SELECT model, collection, key FROM ({_FIRST_UNDO_ABOVE}) AS u WHERE old_value IS NULL)"
)
DROP_UNDO_ABOVE = "DELETE FROM collection_undo WHERE block_height > ?"
PRUNE_UNDO = "DELETE FROM collection_undo WHERE block_height <= ?"

SCAN = (
    "SELECT key, value FROM collection_values WHERE model = ? AND collection = ? AND key > ? "
    "ORDER BY key LIMIT ?"
)
SCAN_FROM_START = (
    "SELECT key, value FROM collection_values WHERE model = ? AND collection = ? "
    "ORDER BY key LIMIT ?"
)
COUNT = "SELECT COUNT(*) FROM collection_values WHERE model = ? AND collection = ?"


def _values_of(dialect: str, model: str, collection: str, keys: Sequence[str]) -> Rows:
    if dialect == "sqlite":
        return Rows(_VALUES_OF[dialect], (model, collection, json.dumps(keys)))
    return Rows(_VALUES_OF[dialect], (list(keys), model, collection))


def _undo_of(
    dialect: str, height: int, model: str, collection: str, keys: Sequence[str]
) -> Rows:
    if dialect == "sqlite":
        return Rows(_UNDO_OF[dialect], (height, model, collection, json.dumps(keys)))
    return Rows(_UNDO_OF[dialect], (list(keys), height, model, collection))


def _set_values(dialect: str, values: Mapping[Key, str | None]) -> Steps[None]:
    """Give each key its value: put those with one, delete those with None."""
    put = [(*key, value) for key, value in values.items() if value is not None]
    gone = [key for key, value in values.items() if value is None]
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


def _grouped(keys: Iterable[Key]) -> dict[tuple[str, str], list[str]]:
    groups: dict[tuple[str, str], list[str]] = {}
    for model, collection, key in keys:
        groups.setdefault((model, collection), []).append(key)
    return groups


def apply_steps(
    dialect: str,
    writes: Sequence[CollectionWrite],
    retention: Retention | None,
    tip_height: int,
) -> Steps[None]:
    """Apply a commit's ``writes``, record their undo, prune undo below the window."""
    keys = {(w.model, w.collection, w.key) for w in writes}
    values: dict[Key, str | None] = dict.fromkeys(keys)
    for (model, collection), names in _grouped(keys).items():
        rows = yield _values_of(dialect, model, collection, names)
        values.update(((model, collection, row[0]), row[1]) for row in rows)
    undo = []
    for write in sorted(writes, key=lambda w: w.block_height):
        key = (write.model, write.collection, write.key)
        undo.append((write.block_height, *key, values[key]))
        values[key] = write.value
    yield from _set_values(dialect, values)
    yield InsertRows("collection_undo", UNDO_COLUMNS, undo)
    if retention is not None:
        horizon = tip_height - retention.max_reorg_depth
        if (yield Execute(PRUNE_UNDO, (horizon,))):
            yield Execute(sql.UPSERT_META, (PRUNED_THROUGH, str(horizon)))


def restore_steps(fork_height: int) -> Steps[None]:
    """Restore every collection to its state at ``fork_height`` (part of a rollback)."""
    pruned = yield from _pruned_through()
    if pruned is not None and fork_height < pruned:
        raise HistoryPrunedError(
            f"cannot roll back to height {fork_height}: the undo records of stored "
            f"collections are kept only above height {pruned} (the reorg window); "
            "rebuild the store from the node"
        )
    yield Execute(RESTORE_PUT, (fork_height,))
    yield Execute(RESTORE_DELETE, (fork_height,))
    yield Execute(DROP_UNDO_ABOVE, (fork_height,))


def _pruned_through() -> Steps[int | None]:
    value = yield Value(sql.GET_META, (PRUNED_THROUGH,))
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
    rows = yield _values_of(dialect, model, collection, names)
    found: dict[str, str] = {row[0]: row[1] for row in rows}
    if at_height is not None:
        yield from _check_height(at_height, tip)
        undo = yield _undo_of(dialect, at_height, model, collection, names)
        for key, old_value in undo:  # the lowest block above at_height comes last
            if old_value is None:
                found.pop(key, None)
            else:
                found[key] = old_value
    return AtTip(tip, {key: found[key] for key in names if key in found})


def _check_height(height: int, tip: BlockRecord | None) -> Steps[None]:
    if tip is None or height > tip.height:
        raise HistoryPrunedError(
            f"no state at height {height}: the stored tip is "
            f"{'empty' if tip is None else tip.height}"
        )
    pruned = yield from _pruned_through()
    if pruned is not None and height < pruned:
        raise HistoryPrunedError(
            f"no state at height {height}: the undo records of stored collections are kept "
            f"only above height {pruned} (the reorg window)"
        )


def scan_steps(
    model: str, collection: str, after: str | None, limit: int
) -> Steps[AtTip[list[tuple[str, str]]]]:
    """``EventStore.scan``."""
    row = yield Row(sql.TIP)
    if after is None:
        rows = yield Rows(SCAN_FROM_START, (model, collection, limit))
    else:
        rows = yield Rows(SCAN, (model, collection, after, limit))
    return AtTip(None if row is None else sql.block_from_row(row), [(r[0], r[1]) for r in rows])


def count_steps(model: str, collection: str) -> Steps[AtTip[int]]:
    """``EventStore.count``."""
    row = yield Row(sql.TIP)
    count = yield Value(COUNT, (model, collection))
    return AtTip(None if row is None else sql.block_from_row(row), int(count))
