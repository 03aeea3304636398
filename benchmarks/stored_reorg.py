"""Depth-6 reorg of a model with stored collections, against the size of the state.

    python benchmarks/stored_reorg.py [--sizes 0.5M,1M,2M,5M] [--stores sqlite,postgresql]
        [--pg-dsn postgresql://...] [--baseline DIR] [--reps 3] [--window 6]
        [--cache-mib 64,256]

For each store and size, a store is built with N keys (N/2 in each of two
collections of one model) directly through the store API: blocks whose
``CollectionWrite`` s create 50,000 keys per collection each, committed with
``Retention(max_reorg_depth=W)``, W = ``--window`` (6 by default: the window then
holds about 12 blocks' rows). With a wider window the new store is then filled:
W warm-up blocks each updating 10,000 random existing keys per collection (20,000
writes a block, a busy chain's; not timed), so the window holds about W x 20,000
rows, as under a crawler with that retention. Then, per phase, blocks shaped like a
busy chain's: 6 warm-up blocks (not timed: they bring the reorg window to its
steady state), 6 measured blocks each changing 4,000 keys per collection spread over the
whole key space (24,000 distinct per collection over the 6 blocks: 90% updates, 5%
deletes, 5% new keys) plus one event per 2 writes, then ``rollback`` to the fork
below them (the whole store call, timed) and a re-commit of a 6-block branch of
the same shape (timed). After the rollback every changed key is read back (timed:
the read a crawler's prefetch does, one ``get_many`` per collection) and compared
with its value before the 6 blocks (the benchmark fails otherwise). The cycle
(6 blocks, rollback, re-commit) runs ``--reps`` times on top of each other; the
table gives medians.

With ``--baseline DIR`` (``git archive <commit> | tar -x -C DIR``) each store is
built and measured first by that code, then opened by this code (migrating it in
place if its schema is older) and measured again: before and after in one sitting,
on the same store. Each phase runs in a process of its own. Wall time, the
process's CPU time (PostgreSQL's server CPU is not in it) and the load average are
reported; results go to ``benchmarks/results/stored-reorg.md``.

``--cache-mib 64,256`` (SQLite only) runs one phase per size of the writer's page
cache, in that order, on the same store (the first builds it): the benchmark
overrides the store's ``PRAGMA cache_size`` in its own process, after the store's
connect hook, to compare cache sizes without changing the package.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "stored-reorg.md"
ROOT = Path(__file__).resolve().parent.parent
MODEL = "bench"
COLLECTIONS = ("balances", "tx_counts")
DEPTH = 6
PER_BLOCK = 4_000  # keys changed per collection per measured block
REPS = 3
BUILD_BLOCK = 50_000  # keys created per collection per build block
FILL_BLOCK = 10_000  # keys updated per collection per window-filling block
NETWORK, GENESIS = "regtest", "00" * 32


def parse_size(text: str) -> int:
    """``0.5M`` -> 500000, ``200k`` -> 200000, ``1000`` -> 1000."""
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def key_of(index: int) -> str:
    """Key ``index``: address-like, spread over the key space by a multiplicative hash."""
    return f"bc1q{(index * 0x9E3779B97F4A7C15) % 2**64:016x}{index:010d}"


def block_hash(height: int, branch: int) -> str:
    return f"{branch:08x}{height:056x}"


class _Clock:
    """Wall and CPU seconds since it was made."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def _store(kind: str, where: str) -> Any:
    from chaincrawler.eventstore import PostgresEventStore, SQLiteEventStore

    if kind == "sqlite":
        return SQLiteEventStore(where)
    dsn, schema = where.rsplit("#", 1)
    return PostgresEventStore(dsn, schema=schema)


class Chain:
    """Blocks and writes of the benchmark, continuing a store's tip."""

    def __init__(self, tip_height: int, tip_hash: str) -> None:
        self.height, self.hash = tip_height, tip_hash

    def block(self, branch: int, height: int | None = None, prev: str | None = None) -> Any:
        from chaincrawler.eventstore import BlockRecord

        height = self.height + 1 if height is None else height
        return BlockRecord(height, block_hash(height, branch), prev or self.hash, 1_700_000_000)

    def advance(self, block: Any) -> None:
        self.height, self.hash = block.height, block.hash


def _writes(block: Any, changes: dict[str, dict[str, str | None]]) -> list[Any]:
    from chaincrawler.eventstore import CollectionWrite

    return [
        CollectionWrite(MODEL, collection, key, value, block.height, block.hash)
        for collection, values in changes.items()
        for key, value in values.items()
    ]


def _events(block: Any, count: int) -> list[Any]:
    from chaincrawler.eventstore import PendingEvent

    return [
        PendingEvent(MODEL, "BalanceChanged", 1, f'{{"n": {i}}}', block.height, block.hash)
        for i in range(count)
    ]


async def build(store: Any, size: int, retention: Any) -> None:
    """Commit blocks creating ``size`` keys (half per collection)."""
    chain = Chain(-1, "00" * 32)
    per_collection = size // 2
    for start in range(0, per_collection, BUILD_BLOCK):
        block = chain.block(0)
        indexes = range(start, min(start + BUILD_BLOCK, per_collection))
        changes = {c: {key_of(i): str(i) for i in indexes} for c in COLLECTIONS}
        await store.commit([block], [], writes=_writes(block, changes), retention=retention)
        chain.advance(block)


async def fill_window(store: Any, chain: Chain, rng: random.Random, keys: int, window: int,
                      retention: Any) -> None:
    """Commit ``window`` blocks updating ``FILL_BLOCK`` random keys per collection each."""
    for _ in range(window):
        block = chain.block(1)
        changes = {c: {key_of(i): str(rng.randrange(10**12))
                       for i in rng.sample(range(keys), FILL_BLOCK)} for c in COLLECTIONS}
        await store.commit([block], [], writes=_writes(block, changes), retention=retention)
        chain.advance(block)


def _use_cache(mib: int) -> None:
    """Give every SQLite connection the store opens a ``mib`` MiB page cache."""
    from chaincrawler.eventstore import SQLiteEventStore

    on_connect = SQLiteEventStore._on_connect

    def patched(self: Any, dbapi_conn: Any, record: object) -> None:
        on_connect(self, dbapi_conn, record)
        dbapi_conn.execute(f"PRAGMA cache_size=-{mib * 1024}")

    SQLiteEventStore._on_connect = patched  # type: ignore[method-assign]


def _plan(rng: random.Random, keys: int, fresh_from: int) -> list[dict[str, dict[str, str | None]]]:
    """6 blocks of changes: per collection 24,000 distinct keys, 90/5/5 update/delete/new."""
    blocks: list[dict[str, dict[str, str | None]]] = [{} for _ in range(DEPTH)]
    for c, collection in enumerate(COLLECTIONS):
        existing = rng.sample(range(keys), int(PER_BLOCK * DEPTH * 0.95))
        new = range(fresh_from + c * 10**6, fresh_from + c * 10**6 + PER_BLOCK * DEPTH // 20)
        chosen = [*existing, *new]
        rng.shuffle(chosen)
        for b in range(DEPTH):
            part = chosen[b * PER_BLOCK:(b + 1) * PER_BLOCK]
            values: dict[str, str | None] = {}
            for n, index in enumerate(part):
                deleted = n % 20 == 0 and index < keys
                values[key_of(index)] = None if deleted else str(rng.randrange(10**12))
            blocks[b][collection] = values
    return blocks


async def _commit_blocks(
    store: Any, chain: Chain, plans: list[dict[str, dict[str, str | None]]], branch: int,
    retention: Any,
) -> list[tuple[float, float]]:
    times = []
    for changes in plans:
        block = chain.block(branch)
        writes = _writes(block, changes)
        events = _events(block, len(writes) // 2)
        clock = _Clock()
        await store.commit([block], events, writes=writes, retention=retention)
        times.append(clock.read())
        chain.advance(block)
    return times


async def measure(
    kind: str, where: str, size: int, fresh: bool, seed: int, reps: int, window: int,
    cache_mib: int,
) -> dict[str, Any]:
    """One phase, in this process, with whatever chaincrawler is importable."""
    from chaincrawler.eventstore import Retention

    if cache_mib:
        _use_cache(cache_mib)
    retention = Retention(max_reorg_depth=window)
    store = _store(kind, where)
    clock = _Clock()
    await store.open(network=NETWORK, genesis_hash=GENESIS)
    open_wall, _ = clock.read()
    build_wall = 0.0
    try:
        if fresh:
            clock = _Clock()
            await build(store, size, retention)
            build_wall, _ = clock.read()
        tip = await store.tip()
        chain = Chain(tip.height, tip.hash)
        rng = random.Random(seed)
        keys = size // 2
        if fresh and window > DEPTH:
            clock = _Clock()
            await fill_window(store, chain, rng, keys, window, retention)
            build_wall += clock.read()[0]
        fresh_keys = 10**9 + seed * 10**7
        await _commit_blocks(store, chain, _plan(rng, keys, fresh_keys), 1, retention)  # warm-up
        commits, rollbacks, reads, recommits = [], [], [], []
        for rep in range(reps):
            fork = Chain(chain.height, chain.hash)
            plans = _plan(rng, keys, fresh_keys + (2 * rep + 1) * 10**5)
            changed = {c: sorted({k for p in plans for k in p[c]}) for c in COLLECTIONS}
            before = {c: (await store.get_many(MODEL, c, ks)).result for c, ks in changed.items()}
            commits += await _commit_blocks(store, chain, plans, 2 + 2 * rep, retention)
            clock = _Clock()
            await store.rollback(fork.height)
            rollbacks.append(clock.read())
            clock = _Clock()
            after = {c: (await store.get_many(MODEL, c, ks)).result for c, ks in changed.items()}
            reads.append(clock.read())
            if after != before:
                raise SystemExit("the rollback did not restore the collections exactly")
            clock = _Clock()
            await _commit_blocks(store, fork, _plan(rng, keys, fresh_keys + (2 * rep + 2) * 10**5),
                                 3 + 2 * rep, retention)
            recommits.append(clock.read())
            chain = fork
    finally:
        await store.close()

    def ms(times: list[tuple[float, float]]) -> list[list[float]]:
        return [[wall * 1000, cpu * 1000] for wall, cpu in times]

    return {
        "open_s": open_wall, "build_s": build_wall, "commit_ms": ms(commits),
        "rollback_ms": ms(rollbacks), "read_ms": ms(reads), "recommit_ms": ms(recommits),
        "load": os.getloadavg()[0], "window": window, "cache_mib": cache_mib,
    }


def _run_phase(
    code: Path, kind: str, where: str, size: int, fresh: bool, seed: int, reps: int,
    window: int, cache_mib: int,
) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, str(Path(__file__).resolve()), "--phase", kind, where, str(size),
               "1" if fresh else "0", str(seed), str(reps), str(window), str(cache_mib)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"phase failed ({code}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def _drop_schema(dsn: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


def _fmt_size(size: int) -> str:
    return f"{size / 1e6:g}M" if size >= 10**6 else f"{size / 1e3:g}k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="0.5M,1M,2M,5M")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--pg-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--baseline", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--reps", type=int, default=REPS, help="cycles per phase")
    parser.add_argument("--window", type=int, default=DEPTH,
                        help="the Retention's max_reorg_depth (a wider window is filled first)")
    parser.add_argument("--cache-mib", default="",
                        help="SQLite: writer page cache sizes to compare, e.g. 64,256")
    parser.add_argument("--phase", nargs=8, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.window < DEPTH:
        parser.error(f"--window must be at least the rollback's depth, {DEPTH}")
    if args.phase:
        kind, where, size, fresh, seed, reps, window, cache = args.phase
        result = measure(kind, where, int(size), fresh == "1", int(seed), int(reps),
                         int(window), int(cache))
        print(json.dumps(asyncio.run(result)))
        return
    caches = [int(c) for c in args.cache_mib.split(",")] if args.cache_mib else [0]
    codes = [(label, code, cache)
             for label, code in ([("before", args.baseline)] if args.baseline else [])
             + [("after", ROOT)] for cache in caches]
    rows: list[tuple[str, str, int, dict[str, Any]]] = []
    started = datetime.now(UTC)
    for size in map(parse_size, args.sizes.split(",")):
        for kind in args.stores.split(","):
            tmp = Path(tempfile.mkdtemp(prefix="stored-reorg-"))
            schema = f"stored_reorg_{size}"
            where = str(tmp / "store.db") if kind == "sqlite" else f"{args.pg_dsn}#{schema}"
            if kind == "postgresql":
                asyncio.run(_drop_schema(args.pg_dsn, schema))
            try:
                for n, (label, code, cache) in enumerate(codes):
                    result = _run_phase(code, kind, where, size, n == 0, n + 1, args.reps,
                                        args.window, cache if kind == "sqlite" else 0)
                    rows.append((label, kind, size, result))
                    print(label, kind, _fmt_size(size), json.dumps(result), flush=True)
                    _write(rows, args, started)  # so far: a long run keeps what it measured
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
                if kind == "postgresql":
                    asyncio.run(_drop_schema(args.pg_dsn, schema))


def _write(rows: list[tuple[str, str, int, dict[str, Any]]], args: argparse.Namespace,
           started: datetime) -> None:
    lines = [
        "# Stored-collection reorg (`python benchmarks/stored_reorg.py --sizes "
        f"{args.sizes} --stores {args.stores}"
        + (" --baseline DIR" if args.baseline else "")
        + (f" --window {args.window}" if args.window != DEPTH else "")
        + (f" --cache-mib {args.cache_mib}" if args.cache_mib else "") + "`)",
        "",
        "See the module docstring for the workload: per collection 24,000 distinct keys "
        "changed by the 6 orphaned blocks (4,000 per block per collection, 2 collections, "
        "plus 4,000 events per block). *rollback*: the whole `rollback(fork)` call; "
        "*read*: `get_many` of the 24,000 keys of each collection after it; *re-commit*: "
        "the 6 blocks of the new branch, one commit each; *commit*: a block's commit "
        "(ingest). Medians over the "
        f"{args.reps} cycles of each phase (commit: over their {6 * args.reps} blocks); "
        "wall ms, with the crawler process's CPU ms after the slash (PostgreSQL's server "
        "CPU is not in it). *open*: opening the store, with the migration of the schema "
        "when the previous code made it. *window*: the retention's max_reorg_depth; "
        "*cache*: the SQLite writer's page cache, MiB (*pkg*: the package's). "
        f"{started:%Y-%m-%d %H:%M} UTC, {platform.machine()}, Python "
        f"{platform.python_version()}, 2 cores shared with other work: figures are noisy.",
        "",
        "| code | store | keys | window | cache | rollback ms | read ms (2 x 24k keys) "
        "| re-commit ms (6 blocks) | commit ms/block | open s | load avg |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def median(times: list[list[float]]) -> str:
        return " / ".join(f"{statistics.median(t[i] for t in times):,.0f}" for i in (0, 1))

    for label, kind, size, r in rows:
        lines.append(
            f"| {label} | {kind} | {_fmt_size(size)} | {r.get('window', DEPTH)} "
            f"| {r.get('cache_mib') or 'pkg'} | {median(r['rollback_ms'])} "
            f"| {median(r['read_ms'])} | {median(r['recommit_ms'])} | {median(r['commit_ms'])} "
            f"| {r['open_s']:.1f} | {r['load']:.1f} |"
        )
    for kind in args.stores.split(","):
        after = [statistics.median(t[0] for t in r["rollback_ms"])
                 for label, k, _, r in rows if label == "after" and k == kind]
        if len(after) > 1:
            lines.append("")
            lines.append(
                f"- {kind}, this code: rollback {min(after):,.0f}-{max(after):,.0f} ms across "
                f"sizes (target < 250, spread within 20%: {max(after) / min(after) - 1:.0%})."
            )
    RESULTS.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
