"""Snapshot dump/load of in-memory state, and per-event encode/load, for the balance model.

    python benchmarks/snapshot.py [--addresses 1000000] [--reps 3] [--baseline DIR]
        [--pg-dsn postgresql://...] [--reorg-sizes 500000,1000000,2000000]

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

With ``--reorg-sizes``, also what restoring a model after a reorg costs at each state size
(this code only, ``--reps`` fresh processes per size): the model that took the snapshot at block
0 restored at block 0 (from the snapshot it keeps in memory) and at block
``REPLAYED_BLOCKS`` (plus the replay of that many committed blocks of
``EVENTS_PER_BLOCK`` events), and a new model restored at block 0 from the store
(a reorg below the kept snapshot, a restart), on SQLite and, with ``--pg-dsn``, PostgreSQL.

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
REPLAYED_BLOCKS = 5
EVENTS_PER_BLOCK = 2_000  # one BalancesChanged per transaction of a 2,000-tx block
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
    keys, balances, counts = list(model.balances), [*model.balances.values()], [
        *model.tx_counts.values()]
    clock = _Clock()
    floor = dict(zip(keys, balances, strict=True)), dict(zip(keys, counts, strict=True))
    floor_s, floor_cpu = clock.read()
    del floor, keys, balances, counts
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
        "floor_s": floor_s,
        "floor_cpu_s": floor_cpu,
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


def _change(rng: random.Random, addrs: list[str]) -> Any:
    from chaincrawler.examples.balances import BalancesChanged

    return BalancesChanged(
        txid=rng.randbytes(32).hex(),
        credited={a: rng.randrange(546, 10**9) for a in rng.sample(addrs, 3)},
        debited={rng.choice(addrs): rng.randrange(546, 10**10)},
    )


async def _reorg_store_rows(store: Any, prefix: str, count: int) -> dict[str, float]:
    """Restore costs at ``count`` addresses on ``store`` (see the module docstring)."""
    from chaincrawler.crawler.restore import restore_model
    from chaincrawler.eventstore import BlockRecord, PendingEvent, PendingSnapshot
    from chaincrawler.examples.balances import AddressBalances

    rng = random.Random(11)
    addrs = addresses(count, rng)
    model = AddressBalances()
    model.balances = {a: rng.randrange(1, 21 * 10**14) for a in addrs}
    model.tx_counts = {a: rng.randrange(1, 500) for a in addrs}
    blocks = [BlockRecord(0, "11" * 32, "00" * 32, 1_700_000_000)]
    for height in range(1, REPLAYED_BLOCKS + 1):
        blocks.append(BlockRecord(height, f"{height + 0x11:02x}" * 32, blocks[-1].hash,
                                  1_700_000_000 + height))
    model.tip = _tip(0, blocks[0].hash)
    text = model.snapshot_state()
    await store.open(network="regtest", genesis_hash=blocks[0].hash)
    try:
        await store.commit(blocks[:1], [], [PendingSnapshot(model.name, 0, blocks[0].hash, text)])
        del text
        events = [
            PendingEvent(model.name, "BalancesChanged", 1, _change(rng, addrs).to_json(),
                         block.height, block.hash)
            for block in blocks[1:] for _ in range(EVENTS_PER_BLOCK)
        ]
        await store.commit(blocks[1:], events)
        del events, addrs
        out: dict[str, float] = {}
        for key, target, fresh in (("kept", blocks[0], False),
                                   ("kept_replay", blocks[-1], False),
                                   ("store", blocks[0], True)):
            restored = AddressBalances() if fresh else model
            restored.balances["moved-on"] = 1  # the state went on past the snapshot
            clock = _Clock()
            await restore_model(restored, store, target)
            out[f"{prefix}_{key}_s"], out[f"{prefix}_{key}_cpu_s"] = clock.read()
            if "moved-on" in restored.balances:
                raise SystemExit("the restore did not replace the state")
            del restored
        for unit in ("s", "cpu_s"):
            out[f"{prefix}_replay_block_{unit}"] = (
                out[f"{prefix}_kept_replay_{unit}"] - out[f"{prefix}_kept_{unit}"]
            ) / REPLAYED_BLOCKS
        return out
    finally:
        await store.close()


def measure_reorg(count: int, pg_dsn: str | None) -> dict[str, float]:
    """The reorg restore costs at ``count`` addresses, in this process."""
    from chaincrawler.eventstore import SQLiteEventStore

    rows: dict[str, float] = {"addresses": count}
    with tempfile.TemporaryDirectory(prefix="snapshot-bench-") as tmp:
        rows |= asyncio.run(_reorg_store_rows(SQLiteEventStore(Path(tmp) / "store.db"),
                                              "sqlite", count))
    if pg_dsn:
        async def pg() -> dict[str, float]:
            return await _reorg_store_rows(await _pg_store(pg_dsn), "pg", count)

        rows |= asyncio.run(pg())
    return rows


def run_worker(code: Path, count: int, pg_dsn: str | None, *,
               reorg: bool = False) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, str(Path(__file__).resolve()),
               "--worker-reorg" if reorg else "--worker", "--addresses", str(count)]
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
    ("for scale: the two dicts built from ready lists (`dict(zip())`), CPU (s)",
     "floor_cpu_s", "{:.2f}"),
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


REORG_COLUMNS = (
    ("from the kept snapshot", "kept"),
    ("from the store (SQLite)", "sqlite_store"),
    ("from the store (PostgreSQL)", "pg_store"),
    ("replay of one 2,000-tx block", "replay_block"),
)


def reorg_report(rows: list[dict[str, float]]) -> list[str]:
    """The table of restore costs per state size (wall / CPU seconds)."""
    pg = "pg_store_s" in rows[0]
    columns = [(t, k) for t, k in REORG_COLUMNS if pg or not k.startswith("pg")]
    lines = [
        "",
        "## Restoring after a reorg, by state size (this code)",
        "",
        f"`AddressBalances` restored at the snapshot's block ({REPLAYED_BLOCKS} blocks of "
        f"{EVENTS_PER_BLOCK:,} `BalancesChanged` events committed above it), wall / CPU "
        "seconds, medians of the repetitions, each in a fresh process. \"From the kept "
        "snapshot\": the crawler's own last snapshot, when the reorg left its block "
        "canonical (SQLite store; PostgreSQL's is the same). \"From the store\": a reorg "
        "below it, a restart, a reader process. \"Replay\": the events of one block after "
        "the snapshot, read from the SQLite store and applied; a reorg replays those of "
        "every block between the snapshot and the fork (fewer than `snapshot_interval`, at "
        "most twice that at the tip).",
        "",
        "| addresses | " + " | ".join(t for t, _ in columns) + " |",
        "| ---: |" + " ---: |" * len(columns),
    ]
    for row in rows:
        cells = []
        for _, key in columns:
            key = f"sqlite_{key}" if key in ("kept", "replay_block") else key
            cells.append(f"{row[key + '_s']:.2f} / {row[key + '_cpu_s']:.2f}")
        lines.append(f"| {row['addresses'] / 1e6:g}M | " + " | ".join(cells) + " |")
    return lines


def report(args: argparse.Namespace, runs: dict[str, list[dict[str, float]]],
           reorg_rows: list[dict[str, float]]) -> str:
    labels = list(runs)
    med = {
        label: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for label, rs in runs.items()
    }
    lines = [
        "# Snapshot benchmark (`python benchmarks/snapshot.py"
        + (f" --baseline {args.baseline}" if args.baseline else "")
        + (" --pg-dsn ..." if args.pg_dsn else "")
        + (f" --reorg-sizes {','.join(map(str, args.reorg_sizes))}" if args.reorg_sizes else "")
        + "`)",
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
            cells.append("" if key in ("size_mb", "floor_cpu_s") else f"{ratio:.1f}x")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "\"Store to restored model\": a new model restored from the committed snapshot "
        "(``latest_snapshot`` + ``restore_state``), as at a start or in a reader process. "
        "\"Reorg restore at the snapshot\": the model that took the snapshot, its state moved "
        "on, restored at the snapshot's block as the crawler does after a reorg above it "
        "(``restore_model``: from the snapshot kept in memory; code without it reads and "
        "decodes the snapshot, as its crawler did). \"For scale\": building the restored "
        "model's two dicts of 1M entries from lists of keys (already hashed) and values, "
        "with nothing decoded: what any restore that builds them with CPython's dict "
        "insertion pays at least. CPU times are the steadier figures on a loaded machine.",
    ]
    if reorg_rows:
        lines += reorg_report(reorg_rows)
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addresses", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="checkout of the code to compare against")
    parser.add_argument("--pg-dsn", help="also measure a PostgreSQL store (schema "
                        f"{PG_SCHEMA}, dropped first)")
    parser.add_argument("--reorg-sizes", type=lambda v: [int(n) for n in v.split(",")],
                        default=[], help="comma-separated address counts for the reorg table")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker-reorg", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.addresses, args.pg_dsn)))
        return
    if args.worker_reorg:
        print(json.dumps(measure_reorg(args.addresses, args.pg_dsn)))
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
    reorg_rows = []
    for count in args.reorg_sizes:
        reps = [run_worker(ROOT, count, args.pg_dsn, reorg=True) for _ in range(args.reps)]
        print(f"reorg at {count:,}: {reps}", flush=True)
        reorg_rows.append({k: statistics.median(r[k] for r in reps) for k in reps[0]})
    text = report(args, runs, reorg_rows)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
