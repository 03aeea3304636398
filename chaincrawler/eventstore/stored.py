"""Stored collections: a commit's writes, the reorg window's overlay, rollback, reads.

Written once, as steps over the primitive operations of ``ops``, for both
backends. Where the drivers take a batch differently, ``dialect`` picks the
statement: SQLite gets ``executemany`` and a list of keys as one JSON array
(``json_each``); PostgreSQL one statement over arrays (``unnest``).

Two tables hold a collection. ``collection_values`` (the base) holds each key's
value as of the *settled* height, ``meta['collections_settled_through']``: blocks
at or below it can no longer be orphaned. ``collection_recent`` (the overlay)
holds what each block above it wrote, one row per (block, key): the key's value
after the block, NULL when the block deleted it. Overlay rows name their block by a
sequence number, ``collection_blocks`` gives its height and whether it is still
canonical. A key's value at height H is its overlay row of the highest canonical
block at or below H, else its base value.

- Commit: with ``retention``, the horizon is ``tip - max_reorg_depth``. Writes of
  blocks at or below it go straight into the base (the last per key), those above
  are appended to the overlay. Overlay blocks that fell to or below the horizon are
  settled in batches: once ``settle_batch`` blocks are due (or the commit writes to
  the base), the canonical ones' rows are merged into the base (the
  newest per key, in key order; NULL deletes) and the rows of all of them, orphaned
  ones too, are deleted, in the commit's transaction. Without ``retention`` every
  write goes to the overlay, nothing settles and orphaned blocks' rows are deleted by
  the next commit. The store never reads old values to write.
- Rollback to a fork: mark the overlay's blocks above it orphaned, O(blocks): their
  rows stay until they settle (deleting them now would touch the key index once per
  row). The base is untouched, so the cost is independent of the state's size and of
  the keys changed. Below the settled height neither a rollback nor a read "at
  height" can be answered (HistoryPrunedError).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter

from chaincrawler.eventstore import sql
from chaincrawler.eventstore.errors import HistoryPrunedError, StoreConflictError
from chaincrawler.eventstore.ops import Execute, ExecuteMany, InsertRows, Row, Rows, Steps, Value
from chaincrawler.eventstore.records import AtTip, BlockRecord, CollectionWrite, Retention

#: A key of one model's collection: (model, collection, key).
Key = tuple[str, str, str]

RECENT_COLUMNS = ("seq", "model", "collection", "key", "value")
_KEY_ORDER = itemgetter(1, 2, 3, 0)
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
# The overlay rows of some keys in canonical blocks at or below a height.
_CANONICAL_AT_OR_BELOW = (
    "EXISTS (SELECT 1 FROM collection_blocks b WHERE b.seq = r.seq "
    "AND b.status = 'canonical' AND b.block_height <= ?)"
)
_RECENT_OF = {
    "sqlite": (
        "SELECT r.seq, r.key, r.value FROM collection_recent r WHERE r.model = ? "
        "AND r.collection = ? AND r.key IN (SELECT value FROM json_each(?)) "
        f"AND {_CANONICAL_AT_OR_BELOW}"
    ),
    # LATERAL ... OFFSET 0: one probe of the key index per key, whatever the statistics
    # (a fresh overlay without them got a plan comparing every row with every key).
    "postgresql": (
        "SELECT r.seq, k.key, r.value FROM unnest(?::text[]) AS k(key) CROSS JOIN LATERAL "
        "(SELECT r.seq, r.value FROM collection_recent r WHERE r.model = ? "
        f"AND r.collection = ? AND r.key = k.key AND {_CANONICAL_AT_OR_BELOW} "
        "OFFSET 0) AS r"
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
# Statements over a list of block sequence numbers (each block's rows are one range of
# the overlay's primary key), formatted with the dialect's form of the list.
_SEQS = {
    "sqlite": "seq IN (SELECT value FROM json_each(?))",
    "postgresql": "seq = ANY(?::bigint[])",
}
_ROWS_OF_BLOCKS = "SELECT seq, model, collection, key, value FROM collection_recent WHERE {}"
_DROP_ROWS = "DELETE FROM collection_recent WHERE {}"
_DROP_BLOCKS = "DELETE FROM collection_blocks WHERE {}"

# PostgreSQL settles in the server: per key the row of the highest of some canonical
# blocks, put into the base (or deleting from it) in one statement.
_PG_SETTLE = (
    "WITH newest AS (SELECT DISTINCT ON (r.model, r.collection, r.key) r.model, "
    "r.collection, r.key, r.value FROM collection_recent r JOIN collection_blocks b "
    "ON b.seq = r.seq WHERE r.seq = ANY(?::bigint[]) "
    "ORDER BY r.model, r.collection, r.key, b.block_height DESC), "
    "gone AS (DELETE FROM collection_values v USING newest n WHERE n.value IS NULL "
    "AND v.model = n.model AND v.collection = n.collection AND v.key = n.key) "
    "INSERT INTO collection_values (model, collection, key, value) "
    "SELECT model, collection, key, value FROM newest WHERE value IS NOT NULL "
    "ON CONFLICT (model, collection, key) DO UPDATE SET value = excluded.value"
)

BLOCKS = "SELECT seq, block_height, status FROM collection_blocks"
CANONICAL_BLOCKS = "SELECT seq, block_height FROM collection_blocks WHERE status = 'canonical'"
# A number never used before: blocks leave with their rows, so none holds a higher one.
LAST_SEQ = "SELECT COALESCE(MAX(seq), 0) FROM collection_blocks"
ADD_BLOCK = "INSERT INTO collection_blocks (seq, block_height, status) VALUES (?, ?, 'canonical')"
ORPHAN_ABOVE = (
    "UPDATE collection_blocks SET status = 'orphaned' "
    "WHERE block_height > ? AND status = 'canonical'"
)

# The overlay's newest canonical row of each key of one collection (index: model,
# collection, key, seq), in key order.
_NEWEST_OF = (
    "SELECT r.key, r.value FROM collection_recent r JOIN collection_blocks b "
    "ON b.seq = r.seq WHERE r.model = ? AND r.collection = ? {after}"
    "AND b.status = 'canonical' AND b.block_height = (SELECT MAX(nb.block_height) "
    "FROM collection_recent n JOIN collection_blocks nb ON nb.seq = n.seq "
    "WHERE n.model = r.model AND n.collection = r.collection AND n.key = r.key "
    "AND nb.status = 'canonical')"
)
SCAN = (
    "SELECT key, value FROM collection_values WHERE model = ? AND collection = ? AND key > ? "
    "ORDER BY key LIMIT ?"
)
SCAN_FROM_START = (
    "SELECT key, value FROM collection_values WHERE model = ? AND collection = ? "
    "ORDER BY key LIMIT ?"
)
SCAN_RECENT = _NEWEST_OF.format(after="AND r.key > ? ") + " ORDER BY r.key LIMIT ?"
SCAN_RECENT_FROM_START = _NEWEST_OF.format(after="") + " ORDER BY r.key LIMIT ?"
COUNT = "SELECT COUNT(*) FROM collection_values WHERE model = ? AND collection = ?"
# What the overlay changes in a count: +1 per key it holds that the base lacks, -1 per
# key of the base it deletes.
COUNT_RECENT = (
    "SELECT COALESCE(SUM(CASE WHEN value IS NULL THEN -1 ELSE 1 END), 0) "
    f"FROM ({_NEWEST_OF.format(after='')}) AS r WHERE (value IS NULL) = EXISTS "
    "(SELECT 1 FROM collection_values v WHERE v.model = ? AND v.collection = ? "
    "AND v.key = r.key)"
)


def settle_batch(retention: Retention) -> int:
    """How many blocks leave the window together: the overlay settles once this many
    are at or below the horizon, a tenth of the window. Settling many blocks at once
    writes each page of the base and of the key index once for all of them."""
    return max(1, retention.max_reorg_depth // 10)


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


def _seqs(dialect: str, seqs: Iterable[int]) -> tuple[object, ...]:
    listed = sorted(seqs)
    return (json.dumps(listed),) if dialect == "sqlite" else (listed,)


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
            recent.append(write)
    blocks = yield Rows(BLOCKS)
    if retention is None or horizon is None:
        orphaned = [seq for seq, _, status in blocks if status == "orphaned"]
        if orphaned:
            yield from _drop_blocks(dialect, orphaned)
    else:
        due = [(seq, height, status) for seq, height, status in blocks if height <= horizon]
        oldest = min((height for _, height, _ in due), default=None)
        if settled or (oldest is not None and oldest <= horizon - settle_batch(retention) + 1):
            # Overlay rows are of blocks below this commit's: the commit's own writes
            # to the base come after them.
            yield from _settle(dialect, due, settled)
            through = yield from _settled_through()
            if through is None or through < horizon:
                yield Execute(sql.UPSERT_META, (SETTLED_THROUGH, str(horizon)))
            blocks = [block for block in blocks if block[1] > horizon]
    if recent:
        yield from _append(recent, blocks)


def _settle(
    dialect: str, due: Sequence[tuple[int, int, str]], settled: Mapping[Key, str | None]
) -> Steps[None]:
    """Merge the canonical ``due`` blocks' rows into the base, then ``settled`` (writes
    of the commit's own blocks, newer), and delete every ``due`` block."""
    heights = {seq: height for seq, height, status in due if status == "canonical"}
    values: dict[Key, str | None] = {}
    if heights and dialect == "postgresql":
        yield Execute(_PG_SETTLE, _seqs(dialect, heights))
    elif heights:  # SQLite: in this process anyway, sorted by key for the base's pages
        rows = yield Rows(_ROWS_OF_BLOCKS.format(_SEQS[dialect]), _seqs(dialect, heights))
        for _, model, collection, key, value in sorted(rows, key=lambda r: heights[r[0]]):
            values[(model, collection, key)] = value
    values.update(settled)
    yield from _set_values(dialect, values)
    if due:
        yield from _drop_blocks(dialect, [seq for seq, _, _ in due])


def _drop_blocks(dialect: str, seqs: Sequence[int]) -> Steps[None]:
    listed = _seqs(dialect, seqs)
    yield Execute(_DROP_ROWS.format(_SEQS[dialect]), listed)
    yield Execute(_DROP_BLOCKS.format(_SEQS[dialect]), listed)


def _append(
    writes: Sequence[CollectionWrite], blocks: Sequence[tuple[int, int, str]]
) -> Steps[None]:
    """Append ``writes`` to the overlay, each under its canonical block's number (a new
    one, never used before, for a block the overlay does not hold yet)."""
    seq_of = {height: seq for seq, height, status in blocks if status == "canonical"}
    last = yield Value(LAST_SEQ)
    new = []
    for height in sorted({write.block_height for write in writes} - seq_of.keys()):
        last += 1
        seq_of[height] = last
        new.append((last, height))
    if new:
        yield ExecuteMany(ADD_BLOCK, new)
    rows = [(seq_of[w.block_height], w.model, w.collection, w.key, w.value) for w in writes]
    rows.sort(key=_KEY_ORDER)
    yield InsertRows("collection_recent", RECENT_COLUMNS, rows)


def restore_steps(fork_height: int) -> Steps[None]:
    """Restore every collection to its state at ``fork_height`` (part of a rollback)."""
    through = yield from _settled_through()
    if through is not None and fork_height < through:
        raise HistoryPrunedError(
            f"cannot roll back to height {fork_height}: stored collections keep the "
            f"writes of each block only above height {through} (the reorg window); "
            "rebuild the store from the node"
        )
    yield Execute(ORPHAN_ABOVE, (fork_height,))


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
    heights = dict((yield Rows(CANONICAL_BLOCKS)))
    newest: dict[str, tuple[int, str | None]] = {}
    for seq, key, value in (yield _recent_of(dialect, model, collection, names, height)):
        if heights[seq] >= newest.get(key, (-1, None))[0]:
            newest[key] = (heights[seq], value)
    for key, (_, value) in newest.items():
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
