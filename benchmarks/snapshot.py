"""Snapshot dump/load of in-memory state, and per-event encode/load, for the balance model.

    python benchmarks/snapshot.py [--addresses 1000000] [--reps 3] [--baseline DIR]
        [--pg-dsn postgresql://...]

Fills ``AddressBalances`` with ``--addresses`` addresses of realistic lengths (the
mainnet mix: P2WPKH 42 chars, P2PKH and P2SH 34, P2TR and P2WSH 62) and times
``snapshot_state()`` (dump) and ``restore_state(text)`` (load from the text a store
returns), and the snapshot's size. Then end to end, from the store to a restored
model: the snapshot is committed to a SQLite store (a file in a temporary directory)
and, with ``--pg-dsn``, to PostgreSQL (schema ``snapshot_bench``, dropped first);
a fresh process-like model is restored from each (``latest_snapshot`` + ``restore_state``,
the read alone is timed too), and the model that took the snapshot is restored as
the crawler does after a reorg that leaves the snapshot's block canonical
(``crawler.restore.restore_model``; code without it reads the store and decodes, as its
crawler did). Last, ``Event.to_json()`` and ``EventRegistry.load`` for
``BalancesChanged`` events (three outputs, one input).

Each repetition runs in a fresh process. With ``--baseline DIR`` (a checkout of
another commit, e.g. ``git archive main | tar -x -C /tmp/old``) the repetitions
alternate between that code and this one, so both are measured in one sitting on
a shared machine; the table gives medians. Results go to
``benchmarks/results/snapshot.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "snapshot.md"
ROOT = Path(__file__).resolve().parent.parent
EVENTS = 20_000
PG_SCHEMA = "snapshot_bench"
# (prefix, total length, share) of mainnet-like address types.
ADDRESS_MIX = (("bc1q", 42, 40), ("1", 34, 20), ("3", 34, 15), ("bc1p", 62, 15), ("bc1q", 62, 10))
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def addresses(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct random addresses in the mainnet mix of types and lengths."""
    kinds = rng.choices(ADDRESS_MIX, weights=[m[2] for m in ADDRESS_MIX], k=count)
    out: list[str] = []
    for i, (prefix, length, _) in enumerate(kinds):
        alphabet = BECH32 if prefix.startswith("bc1") else BASE58
        tag = f"{i:08d}"  # keeps them distinct
        body = "".join(rng.choices(alphabet, k=length - len(prefix) - len(tag)))
        out.append(prefix + body + tag)
    return out


class _Clock:
    """Wall and CPU seconds since it was made."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def _same(restored: Any, model: Any) -> None:
    # Equal as dicts: before schema version 2 PostgreSQL kept states as jsonb,
    # which does not keep the key order.
    if restored.balances != model.balances or restored.tx_counts != model.tx_counts:
        raise SystemExit("restored state differs from the original")


async def _store_rows(store: Any, prefix: str, model: Any, text: str) -> dict[str, float]:
    """Commit ``text`` as the snapshot of one block; time restoring from ``store``."""
    from chaincrawler.eventstore import BlockRecord, PendingSnapshot
    from chaincrawler.examples.balances import AddressBalances

    block = BlockRecord(0, "11" * 32, "00" * 32, 1_700_000_000)
    await store.open(network="regtest", genesis_hash=block.hash)
    try:
        await store.commit([block], [], [PendingSnapshot(model.name, 0, block.hash, text)])
        fresh = AddressBalances()
        clock = _Clock()
        snapshot = await store.latest_snapshot(model.name)
        read, read_cpu = clock.read()
        fresh.restore_state(snapshot.state)
        load, load_cpu = clock.read()
        _same(fresh, model)
        del fresh, snapshot
        expected = AddressBalances()
        expected.restore_state(text)
        model.balances["not-in-the-snapshot"] = 1  # the state moved on past the snapshot
        clock = _Clock()
        try:
            from chaincrawler.crawler.restore import restore_model
        except ImportError:  # older code: its crawler read the snapshot and decoded it
            model.reset()
            model.restore_state((await store.latest_snapshot(model.name)).state)
        else:
            await restore_model(model, store, block)
        reorg, reorg_cpu = clock.read()
        _same(model, expected)
    finally:
        await store.close()
    return {
        f"{prefix}_read_s": read, f"{prefix}_read_cpu_s": read_cpu,
        f"{prefix}_load_s": load, f"{prefix}_load_cpu_s": load_cpu,
        f"{prefix}_reorg_s": reorg, f"{prefix}_reorg_cpu_s": reorg_cpu,
    }


async def _pg_store(dsn: str) -> Any:
    import asyncpg

    from chaincrawler.eventstore import PostgresEventStore

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
    finally:
        await conn.close()
    return PostgresEventStore(dsn, schema=PG_SCHEMA)


def measure(count: int, pg_dsn: str | None) -> dict[str, float]:
    """One repetition in this process, with whatever chaincrawler is importable."""
    from benchmarks.timing import best_rate
    from chaincrawler.eventstore import SQLiteEventStore
    from chaincrawler.examples.balances import AddressBalances, BalancesChanged

    rng = random.Random(7)
    addrs = addresses(count, rng)
    model = AddressBalances()
    model.balances = {a: rng.randrange(1, 21 * 10**14) for a in addrs}
    model.tx_counts = {a: rng.randrange(1, 500) for a in addrs}
    model.tip = _tip(0, "11" * 32)  # the block the snapshot is committed with

    clock = _Clock()
    text = model.snapshot_state()
    dump, dump_cpu = clock.read()
    restored = AddressBalances()
    clock = _Clock()
    restored.restore_state(text)
    load, load_cpu = clock.read()
    _same(restored, model)
    size_mb = len(text.encode()) / 1e6
    del restored
    rows: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="snapshot-bench-") as tmp:
        store = SQLiteEventStore(Path(tmp) / "store.db")
        rows |= asyncio.run(_store_rows(store, "sqlite", model, text))
    if pg_dsn:
        rows |= asyncio.run(_pg_rows(pg_dsn, model, text))
    del text, model

    events = [
        BalancesChanged(
            txid=rng.randbytes(32).hex(),
            credited={a: rng.randrange(546, 10**9) for a in rng.sample(addrs, 3)},
            debited={rng.choice(addrs): rng.randrange(546, 10**10)},
        )
        for _ in range(EVENTS)
    ]
    registry = AddressBalances.event_registry()
    payloads = [e.to_json() for e in events]
    if [registry.load("BalancesChanged", 1, p, model="m") for p in payloads] != events:
        raise SystemExit("loaded events differ from the originals")
    return {
        "dump_s": dump,
        "dump_cpu_s": dump_cpu,
        "load_s": load,
        "load_cpu_s": load_cpu,
        "size_mb": size_mb,
        **rows,
        "encode_eps": best_rate(lambda: [e.to_json() for e in events], EVENTS),
        "decode_eps": best_rate(
            lambda: [registry.load("BalancesChanged", 1, p, model="m") for p in payloads], EVENTS
        ),
    }


async def _pg_rows(dsn: str, model: Any, text: str) -> dict[str, float]:
    return await _store_rows(await _pg_store(dsn), "pg", model, text)


def _tip(height: int, block_hash: str) -> Any:
    try:
        from chaincrawler.models import Tip
    except ImportError:  # older code: models had no tip
        return None
    return Tip(height, block_hash)


def run_worker(code: Path, count: int, pg_dsn: str | None) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, str(Path(__file__).resolve()), "--worker",
               "--addresses", str(count)]
    out = subprocess.run(
        command + (["--pg-dsn", pg_dsn] if pg_dsn else []),
        env=env, check=True, capture_output=True, text=True, cwd=tempfile.gettempdir(),
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


ROWS = (
    ("snapshot dump, wall (s)", "dump_s", "{:.2f}"),
    ("snapshot dump, CPU (s)", "dump_cpu_s", "{:.2f}"),
    ("snapshot load, text to restored model, wall (s)", "load_s", "{:.2f}"),
    ("snapshot load, text to restored model, CPU (s)", "load_cpu_s", "{:.2f}"),
    ("snapshot size (MB)", "size_mb", "{:.1f}"),
    ("SQLite: read of the snapshot, wall (s)", "sqlite_read_s", "{:.2f}"),
    ("SQLite: store to restored model, wall (s)", "sqlite_load_s", "{:.2f}"),
    ("SQLite: store to restored model, CPU (s)", "sqlite_load_cpu_s", "{:.2f}"),
    ("SQLite: reorg restore at the snapshot, wall (s)", "sqlite_reorg_s", "{:.2f}"),
    ("SQLite: reorg restore at the snapshot, CPU (s)", "sqlite_reorg_cpu_s", "{:.2f}"),
    ("PostgreSQL: read of the snapshot, wall (s)", "pg_read_s", "{:.2f}"),
    ("PostgreSQL: store to restored model, wall (s)", "pg_load_s", "{:.2f}"),
    ("PostgreSQL: store to restored model, CPU (s)", "pg_load_cpu_s", "{:.2f}"),
    ("PostgreSQL: reorg restore at the snapshot, wall (s)", "pg_reorg_s", "{:.2f}"),
    ("PostgreSQL: reorg restore at the snapshot, CPU (s)", "pg_reorg_cpu_s", "{:.2f}"),
    ("Event.to_json (events/s)", "encode_eps", "{:,.0f}"),
    ("EventRegistry.load (events/s)", "decode_eps", "{:,.0f}"),
)


def report(args: argparse.Namespace, runs: dict[str, list[dict[str, float]]]) -> str:
    labels = list(runs)
    med = {
        label: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for label, rs in runs.items()
    }
    lines = [
        "# Snapshot benchmark (`python benchmarks/snapshot.py"
        + (f" --baseline {args.baseline}" if args.baseline else "")
        + (" --pg-dsn ..." if args.pg_dsn else "") + "`)",
        "",
        f"`AddressBalances` with {args.addresses:,} addresses (mainnet mix of lengths); "
        f"{EVENTS:,} `BalancesChanged` events (3 credited, 1 debited), best of repeated passes "
        "for those. Medians of "
        f"{args.reps} repetitions, each in a fresh process"
        + (", alternating baseline and this code" if args.baseline else "")
        + f"; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end "
        "(a shared machine).",
        "",
        "| what | " + " | ".join(labels) + (" | speed-up |" if len(labels) == 2 else " |"),
        "| --- |" + " ---: |" * (len(labels) + (len(labels) == 2)),
    ]
    for title, key, fmt in ROWS:
        if key not in med[labels[0]]:
            continue  # PostgreSQL rows without --pg-dsn
        cells = [fmt.format(med[label][key]) for label in labels]
        if len(labels) == 2:
            old, new = med[labels[0]][key], med[labels[1]][key]
            ratio = new / old if key.endswith("_eps") else old / new
            cells.append("" if key == "size_mb" else f"{ratio:.1f}x")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "\"Store to restored model\": a new model restored from the committed snapshot "
        "(``latest_snapshot`` + ``restore_state``), as at a start or in a reader process. "
        "\"Reorg restore at the snapshot\": the model that took the snapshot, its state moved "
        "on, restored at the snapshot's block as the crawler does after a reorg above it "
        "(``restore_model``: from the snapshot kept in memory; code without it reads and "
        "decodes the snapshot, as its crawler did). CPU times are the steadier figures on a "
        "loaded machine.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addresses", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="checkout of the code to compare against")
    parser.add_argument("--pg-dsn", help="also measure a PostgreSQL store (schema "
                        f"{PG_SCHEMA}, dropped first)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.addresses, args.pg_dsn)))
        return
    codes = {"this code": ROOT}
    if args.baseline:
        codes = {f"baseline ({args.baseline})": args.baseline.resolve(), **codes}
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in codes}
    for rep in range(args.reps):
        for label, code in codes.items():
            result = run_worker(code, args.addresses, args.pg_dsn)
            runs[label].append(result)
            print(f"rep {rep + 1} {label}: {result}", flush=True)
    text = report(args, runs)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
