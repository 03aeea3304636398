"""Make the schema-version-3 stores kept here, with the event store code of main at 666e603.

Run with that commit's code first on the path (the stores must be written by the code
that had schema version 3, not by the current one)::

    mkdir /tmp/cc-v3 && git archive 666e603 | tar -x -C /tmp/cc-v3
    PYTHONPATH=/tmp/cc-v3 python3 tests/data/stores/make_v3.py [DSN]

``make_v4.py`` runs the same ``main`` with version 4's code and names.

It writes ``sqlite-v3.db``, ``postgres-v3.sql`` (``pg_dump --inserts`` of the schema
``cc_v3_fixture``, which it then drops) and ``expected-v3.json``: what that code's
store answered on each backend. Unlike versions 1 and 2 the commits pass a
``Retention`` (reorg window of 3 blocks), so the store holds what a crawl leaves:
undo records of the window only, older ones pruned (``meta['undo_pruned_through']``),
a reorg inside the window, and what version 3 added (mempool events, one of them
confirmed with a block, and a mempool model's failure). The answers add the
collections at every height of the window, their counts, and the mempool log. The
SQLite file is rewritten with 512-byte pages (``VACUUM``) to keep it small; its content
is untouched.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from chaincrawler.eventstore import (
    BlockRecord,
    CollectionWrite,
    EventQuery,
    EventStore,
    PendingEvent,
    PendingMempoolEvent,
    PendingSnapshot,
    Retention,
    open_store,
)

HERE = Path(__file__).parent
NETWORK = "regtest"
GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
MODELS = ("deposits", "balances")
QUIET = "quiet"  # a model with snapshots but no events
KEEP = Retention(max_reorg_depth=3, snapshots=1)
#: The keys the answers read at each height (every key the chain ever wrote, and one never).
SEEN_KEYS = [*(f"k{h}" for h in range(0, 11)), "shared", "never"]
ADDR_KEYS = [f"bcrt1q₿{h}" for h in range(1, 11)]


def block_hash(branch: str, height: int) -> str:
    import hashlib

    return hashlib.sha256(f"{branch}:{height}".encode()).hexdigest()


def chain(start: int, count: int, branch: str, prev: str) -> list[BlockRecord]:
    blocks = []
    for height in range(start, start + count):
        current = block_hash(branch, height)
        blocks.append(BlockRecord(height, current, prev, 1_600_000_000 + height))
        prev = current
    return blocks


def events(blocks: list[BlockRecord]) -> list[PendingEvent]:
    out = []
    for block in blocks:
        for i, model in enumerate(MODELS):
            payload = json.dumps({
                "zeta": block.height, "a": i, "address": f"bcrt1q{block.hash[:10]}",
                "nested": {"yy": [3, 1, 2], "b": {"z": None, "aa": True}}, "m": "₿ü",
            })
            out.append(PendingEvent(model, "Seen", 1, payload, block.height, block.hash))
    return out


def writes(blocks: list[BlockRecord]) -> list[CollectionWrite]:
    """Per block, a set of a key of its own, an overwrite of ``shared``, (odd heights) a
    delete of the previous block's key, and (every third) a delete of ``shared``."""
    out = []
    for block in blocks:
        value = json.dumps({"z": block.height, "a": [block.hash[:6]], "ü": {"y": 1, "b": 2}})
        out.append(CollectionWrite("deposits", "seen", f"k{block.height}", value,
                                   block.height, block.hash))
        shared = None if block.height % 3 == 0 else value
        out.append(CollectionWrite("deposits", "seen", "shared", shared, block.height,
                                   block.hash))
        out.append(CollectionWrite("balances", "by_addr", f"bcrt1q₿{block.height}",
                                   str(block.height * 1000), block.height, block.hash))
        if block.height % 2:
            out.append(CollectionWrite("deposits", "seen", f"k{block.height - 1}", None,
                                       block.height, block.hash))
    return out


def snapshots(block: BlockRecord) -> list[PendingSnapshot]:
    state = {"tip": block.height, "by_addr": {"zz": 2, "aa": 1, "m": {"k2": 0, "k1": 1}}}
    return [
        PendingSnapshot(model, block.height, block.hash, json.dumps({**state, "model": model}))
        for model in (*MODELS, QUIET)
    ]


async def fill(store: EventStore) -> None:
    await store.open(network=NETWORK, genesis_hash=GENESIS)
    try:
        await store.register_models([*MODELS, QUIET])
        await store.set_model_versions({"deposits": "2"})
        main = chain(1, 8, "a", block_hash("a", 0))
        await store.commit(main[:3], events(main[:3]), snapshots(main[2]), writes(main[:3]),
                           retention=KEEP)
        await store.commit(main[3:6], events(main[3:6]), snapshots(main[5]), writes(main[3:6]),
                           retention=KEEP)
        await store.append_mempool_events([
            PendingMempoolEvent("pending", "Seen", 1, '{"z": "aa", "a": 1}', "aa"),
            PendingMempoolEvent("pending", "Seen", 1, '{"z": "bb", "a": 2}', "bb"),
        ])
        for block in main[6:]:
            await store.commit([block], events([block]), writes=writes([block]),
                               retention=KEEP)
        await store.rollback(6, new_tip_hash=block_hash("b", 10))
        branch = chain(7, 4, "b", main[5].hash)
        for block in branch:
            confirmed = [PendingMempoolEvent(
                "pending", "Confirmed", 1, '{"z": "aa", "a": 1}', "aa", block.height, block.hash,
            )] if block.height == 8 else []
            await store.commit([block], events([block]),
                               snapshots(block) if block.height == 9 else [],
                               writes([block]), retention=KEEP, mempool_events=confirmed)
        await store.set_mempool_failure("pending", "KeyError: 'x'")
        await store.set_checkpoint("ws", 9)
    finally:
        await store.close()


async def answers(store: EventStore) -> dict[str, Any]:
    await store.open(network=NETWORK, genesis_hash=GENESIS, writer=False)
    try:
        snaps = {}
        for model in (*MODELS, QUIET):
            snap = await store.latest_snapshot(model)
            assert snap is not None
            snaps[model] = [snap.block_height, snap.block_hash, snap.state]
        tip = await store.tip()
        assert tip is not None
        at_heights = {}
        for height in range(tip.height - KEEP.max_reorg_depth, tip.height + 1):
            at_heights[str(height)] = {
                "deposits/seen": (await store.get_many(
                    "deposits", "seen", SEEN_KEYS, at_height=height)).result,
                "balances/by_addr": (await store.get_many(
                    "balances", "by_addr", ADDR_KEYS, at_height=height)).result,
            }
        return {
            "tip": [tip.height, tip.hash],
            "chain": [
                [b.height, b.hash, b.prev_hash, b.time] for b in await store.chain_window(100)
            ],
            "orphaned": [[b.height, b.hash, b.reorg_id] for b in await store.orphaned_blocks()],
            "events": [
                [e.position, e.model, e.version, e.event_type, e.event_version, e.payload,
                 e.block_height, e.block_hash, str(e.status), e.reorg_id]
                for e in await store.read_events(EventQuery(include_rolled_back=True))
            ],
            "snapshots": snaps,
            "reorgs": [
                [r.id, r.fork_height, r.fork_hash, r.old_tip_height, r.old_tip_hash,
                 r.new_tip_hash, r.depth, r.rolled_back_events]
                for r in await store.reorgs()
            ],
            "checkpoints": {"ws": await store.get_checkpoint("ws")},
            "collections": {
                f"{model}/{collection}": (await store.scan(model, collection)).result
                for model, collection in (("deposits", "seen"), ("balances", "by_addr"))
            },
            "counts": {
                f"{model}/{collection}": (await store.count(model, collection)).result
                for model, collection in (("deposits", "seen"), ("balances", "by_addr"))
            },
            "at_heights": at_heights,
            "mempool_events": [
                [e.position, e.model, e.event_type, e.event_version, e.payload, e.txid,
                 e.block_height, e.block_hash]
                for e in await store.read_mempool_events()
            ],
            "mempool_failures": [[f.model, f.error] for f in await store.mempool_failures()],
            "model_versions": await store.model_versions(),
            "meta": {k: v for k, v in (await store.meta()).items() if k != "created_at"},
        }
    finally:
        await store.close()


async def main(dsn: str, version: int = 3) -> None:
    """Write ``sqlite-vN.db``, ``postgres-vN.sql`` and ``expected-vN.json`` (N: ``version``)
    with the event store code on the path."""
    pg_schema = f"cc_v{version}_fixture"
    expected = {}
    db = HERE / f"sqlite-v{version}.db"
    for suffix in ("", "-wal", "-shm", ".lock"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    await fill(open_store(str(db)))
    expected["sqlite"] = await answers(open_store(str(db)))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA page_size=512")
    conn.execute("VACUUM")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    db.with_name(db.name + ".lock").unlink(missing_ok=True)

    import asyncpg

    admin = await asyncpg.connect(dsn)
    await admin.execute(f"DROP SCHEMA IF EXISTS {pg_schema} CASCADE")
    await fill(open_store(dsn, schema=pg_schema))
    expected["postgresql"] = await answers(open_store(dsn, schema=pg_schema))
    dump = subprocess.run(
        ["pg_dump", "--dbname", dsn, "--schema", pg_schema, "--inserts", "--no-owner",
         "--no-privileges"],
        check=True, capture_output=True, text=True,
    ).stdout
    # Drop psql's meta-commands (\\restrict ...): the file is plain SQL for any client.
    plain = "".join(line for line in dump.splitlines(keepends=True) if not line.startswith("\\"))
    (HERE / f"postgres-v{version}.sql").write_text(plain)
    await admin.execute(f"DROP SCHEMA {pg_schema} CASCADE")
    await admin.close()
    lines = [
        f"  {json.dumps(f'{backend}.{key}')}: {json.dumps(value, ensure_ascii=False)}"
        for backend, facts in expected.items() for key, value in facts.items()
    ]
    (HERE / f"expected-v{version}.json").write_text("{\n" + ",\n".join(lines) + "\n}\n")


DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"

if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DSN))
