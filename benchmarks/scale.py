"""Model state at chain scale: the balance model up to millions of addresses.

Run: ``python benchmarks/scale.py [--sizes 0.5M,1M,2M,5M] [--variants stored,memory]
[--stores sqlite,postgresql]``. Results go to ``benchmarks/results/scale.md``.

The chain is built once with the test kit's block builder (no mempool, no node) and
kept in ``benchmarks/.cache/scale-<sizes>/``: after a seed block, "growth" blocks of
2,000 transactions, each spending one earlier output and paying nine new addresses
plus change back to the spender (18,000 new addresses a block), until the next size;
then six "payment" blocks of 2,000 transactions (one input, one payee that already
exists, change back to the spender). Those six blocks exist twice: the crawler first
gets one version, then the node switches to the other (same transactions, other
coinbase), a depth-6 reorg whose orphaned blocks touch the same keys at every size.

The crawler runs the real pipeline (``Crawler.run``: BlockSource, prevout resolution
from REST-style ``spenttxouts``, models, store commits, snapshots, reorg handling)
against an in-process node that serves those prebuilt blocks from the cache file
(simnode would be the bottleneck: it validates every block and keeps the UTXO set in
Python). A follower stops the crawl at each size to measure. Each (variant, store)
runs in its own process, so peak RSS is that configuration's alone.

Per size: ingest tx/s over the last 20 growth blocks before it (20 x 2,000 txs), the
crawl process's CPU time and the mean store commit time per block in that window, the
load average, peak RSS, the time to take and commit
one snapshot of the model, the depth-6 reorg (rollback transaction and state restore),
events stored and the store's size on disk.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import OutPoint, Transaction, TxIn, TxOut
from chaincrawler.chain.wire import compact_size
from chaincrawler.crawler.follow import TipFollower
from chaincrawler.crawler.pipeline import Committed, Crawler, CrawlerOptions, RolledBack
from chaincrawler.eventstore import EventStore, SQLiteEventStore, open_store
from chaincrawler.eventstore.records import PendingSnapshot
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.examples.stored_balances import StoredAddressBalances
from chaincrawler.models import Model
from chaincrawler.node.client import NodeClient
from chaincrawler.testing.blocks import block
from chaincrawler.testing.simnode.node import regtest_genesis

HERE = Path(__file__).parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results" / "scale.md"
PG_DSN = os.environ.get("CHAINCRAWLER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
TXS = 2_000
FRESH = 9  # new addresses per growth transaction
WINDOW = 20  # growth blocks the ingest rate is measured over
DEPTH = 6
SIZES = "0.5M,1M,2M,5M"
SQLITE_CACHE_MIB: int = inspect.signature(SQLiteEventStore).parameters["cache_mib"].default

# -- the chain ----------------------------------------------------------------------------


def size_of(text: str) -> int:
    """``"0.5M"`` -> 500000, ``"200k"`` -> 200000."""
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def script_of(n: int) -> bytes:
    """The P2WPKH script of the ``n``-th address (random-looking, so keys spread)."""
    return b"\x00\x14" + hashlib.sha256(n.to_bytes(8, "little")).digest()[:20]


@dataclass
class _Coin:
    txid: bytes
    vout: int
    value: int
    script: bytes


def _witness(n: int) -> list[bytes]:
    return [b"\x30\x44" + hashlib.sha256(b"s%d" % n).digest() * 2 + b"\x00" * 5 + b"\x01",
            b"\x02" + hashlib.sha256(b"k%d" % n).digest()]


def _spent(txs: Sequence[Transaction], coins: Sequence[_Coin]) -> bytes:
    """The ``spenttxouts`` body of a block: the coinbase spends nothing, each other
    transaction its one coin."""
    out = bytearray(compact_size(len(txs) + 1))
    out += b"\x00"
    for coin in coins:
        out += b"\x01" + coin.value.to_bytes(8, "little")
        out += compact_size(len(coin.script)) + coin.script
    return bytes(out)


class ChainWriter:
    """Builds the benchmark chain into ``directory`` (blocks.bin, spent.bin, index.json)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.blocks = open(directory / "blocks.bin", "wb")  # noqa: SIM115
        self.spent = open(directory / "spent.bin", "wb")  # noqa: SIM115
        self.index: list[list[Any]] = []  # per height: hash, offset, size, spent offset, size
        self.orphans: dict[int, list[Any]] = {}  # the first-served version of reorged blocks
        self.pool: deque[_Coin] = deque()
        self.fresh = 0
        self.prev = b""
        self.orphan_prev = b""  # the tip of the orphaned branch, while building it
        self.txs = 0

    def _write(self, raw: bytes, spent: bytes, block_hash: str) -> list[Any]:
        entry = [block_hash, self.blocks.tell(), len(raw), self.spent.tell(), len(spent)]
        self.blocks.write(raw)
        self.spent.write(spent)
        return entry

    def genesis_and_seed(self) -> None:
        genesis = regtest_genesis()
        self.index.append(self._write(genesis.serialize(), b"\x01\x00", genesis.hash))
        pays = [(script_of(self._new()), 10**8) for _ in range(TXS)]
        seed = block(1, (), genesis.hash_bytes, pays=pays)
        for vout, (script, value) in enumerate(pays):
            self.pool.append(_Coin(seed.coinbase.txid_bytes, vout, value, script))
        self.index.append(self._write(seed.serialize(), b"\x01\x00", seed.hash))
        self.prev = seed.hash_bytes

    def _new(self) -> int:
        self.fresh += 1
        return self.fresh - 1

    def _tx(self, n: int, payees: list[bytes]) -> tuple[Transaction, _Coin]:
        coin = self.pool.popleft()
        txin = TxIn(OutPoint(coin.txid, coin.vout), b"", 0xFFFFFFFD, _witness(n))
        values = [10_000 + (n + i) % 997 for i in range(len(payees))]
        change = max(coin.value - sum(values) - 500, 546)
        outs = [TxOut(v, s, REGTEST) for v, s in zip(values, payees, strict=True)]
        outs.append(TxOut(change, coin.script, REGTEST))
        tx = Transaction([txin], outs, network=REGTEST)
        txid = tx.txid_bytes
        self.pool.append(_Coin(txid, len(payees), change, coin.script))
        self.pool.append(_Coin(txid, 0, values[0], payees[0]))
        return tx, coin

    def add(self, payment: bool) -> None:
        """One block: growth (nine new addresses a tx) or payment (one existing payee)."""
        height = len(self.index)
        txs, coins = [], []
        for i in range(TXS):
            n = self.txs + i
            if payment:
                payees = [script_of(hashlib.sha256(b"p%d" % n).digest()[0] * 7919 * n
                                    % self.fresh)]
            else:
                payees = [script_of(self._new()) for _ in range(FRESH)]
            tx, coin = self._tx(n, payees)
            txs.append(tx)
            coins.append(coin)
        self.txs += TXS
        spent = _spent(txs, coins)
        if payment:  # the version served first, orphaned by the reorg
            first = block(height, txs, self.orphan_prev if height - 1 in self.orphans
                          else self.prev)
            self.orphans[height] = self._write(first.serialize(), spent, first.hash)
            self.orphan_prev = first.hash_bytes
        built = block(height, txs, self.prev, tag=b"fork" if payment else b"")
        self.index.append(self._write(built.serialize(), spent, built.hash))
        self.prev = built.hash_bytes

    def close(self, checkpoints: list[dict[str, Any]]) -> None:
        self.blocks.close()
        self.spent.close()
        (self.dir / "index.json").write_text(json.dumps(
            {"index": self.index, "orphans": self.orphans, "checkpoints": checkpoints}))


def make_chain(sizes: Sequence[int], directory: Path) -> None:
    """Build the chain for ``sizes`` (ascending) unless ``directory`` holds it."""
    if (directory / "index.json").exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    writer = ChainWriter(directory)
    writer.genesis_and_seed()
    checkpoints = []
    for size in sizes:
        growth_start = len(writer.index)
        while writer.fresh + 1 < size:  # +1: the miner's address
            writer.add(payment=False)
        window_end = len(writer.index) - 1
        if window_end - growth_start + 1 < WINDOW:
            raise SystemExit(f"size {size:,}: fewer than {WINDOW} growth blocks after the "
                             "previous size; space the sizes out")
        for _ in range(DEPTH):
            writer.add(payment=True)
        checkpoints.append({"size": size, "addresses": writer.fresh + 1,
                            "window": [window_end - WINDOW + 1, window_end],
                            "height": len(writer.index) - 1})
        print(f"chain to {size:,} addresses: height {len(writer.index) - 1}, "
              f"{time.perf_counter() - started:.0f}s", flush=True)
    writer.close(checkpoints)


class PrebuiltNode:
    """The part of ``NodeClient`` the crawler uses, serving the prebuilt chain up to
    ``visible``; reorged heights serve their orphaned version until ``switch``."""

    def __init__(self, directory: Path) -> None:
        self.nodes = ["prebuilt"]
        meta = json.loads((directory / "index.json").read_text())
        self._index: list[list[Any]] = meta["index"]
        self._orphans = {int(h): e for h, e in meta["orphans"].items()}
        self.checkpoints: list[dict[str, Any]] = meta["checkpoints"]
        self._active = dict(self._orphans)
        self._by_hash = {e[0]: (h, e) for h, e in enumerate(self._index)}
        self._by_hash.update({e[0]: (h, e) for h, e in self._orphans.items()})
        self._blocks = os.open(directory / "blocks.bin", os.O_RDONLY)
        self._spent = os.open(directory / "spent.bin", os.O_RDONLY)
        self.visible = 1

    def switch(self, heights: Iterable[int]) -> None:
        """Serve the other version of the blocks at ``heights`` (a reorg)."""
        for height in heights:
            self._active.pop(height)

    def _entry(self, height: int) -> list[Any]:
        return self._active.get(height) or self._index[height]

    def tx_count(self, first: int, last: int) -> int:
        return (last - first + 1) * (TXS + 1)

    async def get_blockchain_info(self) -> dict[str, Any]:
        return {"chain": "regtest", "blocks": self.visible, "pruned": False}

    async def get_block_count(self) -> int:
        return self.visible

    async def get_best_block_hash(self) -> str:
        return str(self._entry(self.visible)[0])

    async def get_block_hash(self, height: int) -> str:
        return str(self._entry(height)[0])

    async def get_block_hashes(self, heights: Iterable[int]) -> list[str | None]:
        return [str(self._entry(h)[0]) if h <= self.visible else None for h in heights]

    async def get_block_header(self, block_hash: str) -> dict[str, Any]:
        height, _ = self._by_hash[block_hash]
        prev = self._entry(height - 1)[0] if height else None
        return {"hash": block_hash, "height": height, "previousblockhash": prev}

    async def serves_spent_txouts(self) -> bool:
        return True

    async def get_raw_blocks(self, block_hashes: Sequence[str]) -> list[bytes]:
        return [os.pread(self._blocks, e[2], e[1])
                for e in (self._by_hash[h][1] for h in block_hashes)]

    async def get_raw_spent_txouts(self, block_hashes: Sequence[str]) -> list[bytes]:
        return [os.pread(self._spent, e[4], e[3])
                for e in (self._by_hash[h][1] for h in block_hashes)]


# -- one configuration (a worker process) ------------------------------------------------


def rows_file(variant: str, kind: str) -> Path:
    """Where a configuration's rows go as they are measured (one JSON object a line)."""
    return CACHE / f"scale-rows-{variant}-{kind}.jsonl"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def new_store(kind: str, name: str, sqlite_cache_mib: int) -> EventStore:
    if kind == "postgresql":
        import asyncpg

        conn = await asyncpg.connect(PG_DSN)
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        await conn.close()
        store = open_store(PG_DSN, schema=name)
    else:
        path = CACHE / f"{name}.db"
        for suffix in ("", "-wal", "-shm", ".lock"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        store = open_store(f"sqlite:///{path}", cache_mib=sqlite_cache_mib)
    await store.open(network="regtest", genesis_hash=REGTEST.genesis_hash)
    return store


async def disk_bytes(kind: str, name: str) -> int:
    if kind == "postgresql":
        import asyncpg

        conn = await asyncpg.connect(PG_DSN)
        try:
            return int(await conn.fetchval(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')", name))
        finally:
            await conn.close()
    path = CACHE / f"{name}.db"
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal"))
               if p.exists())


async def autovacuum() -> str:
    """The PostgreSQL server's ``autovacuum`` setting (on/off)."""
    import asyncpg

    conn = await asyncpg.connect(PG_DSN)
    try:
        return str(await conn.fetchval("SHOW autovacuum"))
    finally:
        await conn.close()


async def vacuum(name: str) -> None:
    """``VACUUM ANALYZE`` the store's tables: what autovacuum would do, on a server that
    runs without it (their deleted rows are otherwise never reused)."""
    import asyncpg

    conn = await asyncpg.connect(PG_DSN, server_settings={"search_path": name})
    try:
        await conn.execute("VACUUM ANALYZE", timeout=None)
    finally:
        await conn.close()


class Checkpoints(TipFollower):
    """Moves the node's tip from stop to stop and measures at each size."""

    crawler: Crawler  # set once the crawler it drives is built

    def __init__(self, node: PrebuiltNode, store: EventStore, model: Model, kind: str,
                 name: str, sizes: set[int], vacuum: bool = False) -> None:
        self.node, self.store, self.model = node, store, model
        self.kind, self.name, self.vacuum = kind, name, vacuum
        self.variant = "stored" if isinstance(model, StoredAddressBalances) else "memory"
        self.rows: list[dict[str, Any]] = []
        self.commits: list[Committed] = []
        self.reorgs: list[RolledBack] = []
        self._plan: deque[tuple[str, dict[str, Any]]] = deque()
        for cp in node.checkpoints:
            if cp["size"] > max(sizes):
                break
            if cp["size"] in sizes:
                self._plan += [("window", cp), ("measure", cp), ("reorg", cp)]
            else:
                self._plan.append(("pass", cp))
        self._t0 = 0.0
        self._cpu0 = 0.0
        self._row: dict[str, Any] = {}
        self._next()

    def note(self, note: object) -> None:
        if isinstance(note, Committed):
            self.commits.append(note)
        elif isinstance(note, RolledBack):
            self.reorgs.append(note)

    def _next(self) -> None:
        """Set the node's tip to the next stop, or stop the crawler when none is left."""
        if not self._plan:
            self.crawler.stop()
            return
        step, cp = self._plan[0]
        if step == "pass":  # a size not measured: serve its final version at once
            self.node.switch(range(cp["height"] - DEPTH + 1, cp["height"] + 1))
        self.node.visible = cp["window"][0] - 1 if step == "window" else (
            cp["window"][1] if step == "measure" else cp["height"])

    async def wait(self, stopping: asyncio.Event) -> None:
        step, cp = self._plan.popleft()
        tip = self.crawler.tip
        print(f"{time.strftime('%H:%M:%S')} {step} {cp['size']:,}: at height "
              f"{tip.height if tip else None}", file=sys.stderr, flush=True)
        if step == "window":
            if self.vacuum and self.kind == "postgresql":
                await vacuum(self.name)
            self._t0 = time.perf_counter()
            self._cpu0 = time.process_time()
            self.commits = []
        elif step == "measure":
            seconds = time.perf_counter() - self._t0
            first, last = cp["window"]
            blocks = sum(len(c.blocks) for c in self.commits)
            self._row = {
                "size": cp["size"], "addresses": cp["addresses"],
                "tx_s": self.node.tx_count(first, last) / seconds,
                "cpu_ms": 1000 * (time.process_time() - self._cpu0) / blocks,
                "commit_ms": 1000 * sum(c.commit_seconds for c in self.commits) / blocks,
                "load": os.getloadavg()[0],
            }
            if self.kind == "postgresql":
                self._row.update(autovacuum=await autovacuum(), vacuumed=self.vacuum)
        else:
            if step == "reorg":
                await self._measure_tip(cp)
            elif self._row:  # the reorg's replacement blocks are committed
                note = self.reorgs[-1]
                self._row.update(depth=note.reorg.depth,
                                 rollback_ms=note.rollback_seconds * 1000,
                                 restore_ms=note.restore_seconds * 1000)
                self.rows.append(self._row)
                with rows_file(self.variant, self.kind).open("a") as f:
                    print(json.dumps(self._row), file=f, flush=True)
                self._row = {}
        self._next()

    async def _measure_tip(self, cp: dict[str, Any]) -> None:
        """At the size's tip: RSS, a snapshot, events and disk; then the node reorgs."""
        tip = self.crawler.tip
        assert tip is not None and tip.height == cp["height"]
        started = time.perf_counter()
        state = self.model.snapshot_state()
        dumped = time.perf_counter()
        await self.store.commit([], [], [PendingSnapshot(self.model.name, tip.height, tip.hash,
                                                          state)])
        done = time.perf_counter()
        del state
        self._row.update(
            peak_rss_mib=peak_rss_mib(), snapshot_dump_ms=(dumped - started) * 1000,
            snapshot_ms=(done - started) * 1000, events=await self.store.max_position(),
            disk_bytes=await disk_bytes(self.kind, self.name),
        )
        if isinstance(self.model, StoredAddressBalances):
            self._row["stored_keys"] = (await self.store.count(self.model.name,
                                                               "accounts")).result
        self.node.switch(range(cp["height"] - DEPTH + 1, cp["height"] + 1))
        self._plan.appendleft(("after", cp))


async def run_config(directory: Path, variant: str, kind: str, sizes: set[int],
                     options: dict[str, Any], vacuum: bool, sqlite_cache_mib: int,
                     ) -> list[dict[str, Any]]:
    name = f"scale_bench_{variant}"
    rows_file(variant, kind).unlink(missing_ok=True)
    node = PrebuiltNode(directory)
    store = await new_store(kind, name, sqlite_cache_mib)
    model: Model = StoredAddressBalances() if variant == "stored" else AddressBalances()
    try:
        follower = Checkpoints(node, store, model, kind, name, sizes, vacuum)
        crawler = Crawler(cast(NodeClient, node), store, [model], REGTEST,
                          CrawlerOptions(start_height=1, **options), follower=follower)
        follower.crawler = crawler
        crawler.subscribe(follower.note)
        await crawler.run(follow=True)
    finally:
        await store.close()
    return follower.rows


# -- the run and the report --------------------------------------------------------------


def run_worker(directory: Path, variant: str, kind: str, sizes: Sequence[int],
               options: dict[str, Any], vacuum: bool, sqlite_cache_mib: int) -> None:
    subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", variant, kind,
         "--chain", str(directory), "--sizes", ",".join(map(str, sizes)),
         "--options", json.dumps(options), "--sqlite-cache-mib", str(sqlite_cache_mib),
         *(["--vacuum"] if vacuum else [])],
        check=True,
    )


def measured(configs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The rows measured so far of each of ``configs``."""
    found = {}
    for config in configs:
        path = rows_file(*config)
        if path.exists():
            found[config] = [json.loads(line) for line in path.read_text().splitlines()]
    return found


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f}"


def report(args: argparse.Namespace, results: dict[tuple[str, str], list[dict[str, Any]]],
           not_run: list[str]) -> str:
    lines = [
        f"# Scale benchmark (`python benchmarks/scale.py --sizes {args.sizes}`)",
        "",
        "The example balance model on a chain of 2,000-transaction blocks built with the "
        "test kit's block builder (each growth transaction pays nine new addresses plus "
        "change; see the module docstring), fed by an in-process node serving the prebuilt "
        "blocks and their spent outputs to the real crawler pipeline. Ingest: the last "
        f"{WINDOW} growth blocks before each size ({WINDOW * TXS:,} txs); crawler CPU: the "
        "crawl process's CPU time per block of that window (a PostgreSQL server's is not in "
        "it); load: the 1-minute load average at its end. Snapshot: "
        "`snapshot_state()` plus the commit of it. Reorg: depth 6 with payment blocks "
        "(2,000 txs, one existing payee each: about 24,000 distinct keys of the collection "
        "changed by the orphaned blocks), rollback transaction + state restore. Crawler "
        f"options: defaults{', ' + json.dumps(args.options) if args.options else ''}; "
        f"SQLite page cache {args.sqlite_cache_mib} MiB (`store.sqlite_cache_mib`). "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores shared with other work "
        f"(load average {os.getloadavg()[0]:.1f} at the end): figures are noisy.",
        "",
        "| model | store | addresses | ingest tx/s | crawler CPU ms/block | commit ms/block | "
        "load | peak RSS MiB | snapshot ms | rollback ms | restore ms | reorg ms | events | "
        "disk MB | bytes/event |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: |",
    ]
    for (variant, kind), rows in results.items():
        for r in rows:
            reorg = r["rollback_ms"] + r["restore_ms"]
            lines.append(
                f"| {variant} | {kind} | {r['addresses']:,} | {r['tx_s']:,.0f} | "
                f"{r['cpu_ms']:,.0f} | {r['commit_ms']:,.0f} | {r['load']:.1f} | "
                f"{r['peak_rss_mib']:,.0f} | {r['snapshot_ms']:,.0f} | "
                f"{r['rollback_ms']:,.0f} | {r['restore_ms']:,.0f} | {reorg:,.0f} | "
                f"{r['events']:,} | {_mb(r['disk_bytes'])} | "
                f"{r['disk_bytes'] / r['events']:,.0f} |")
    checks = []
    for (variant, kind), rows in results.items():
        if variant != "stored" or len(rows) < 2:
            continue
        first, last = rows[0], rows[-1]
        reorgs = [r["rollback_ms"] + r["restore_ms"] for r in rows]
        checks.append(
            f"- stored, {kind}: ingest at {last['addresses']:,} is "
            f"{last['tx_s'] / first['tx_s']:.0%} of the rate at {first['addresses']:,} "
            f"(target >= 80%); peak RSS {last['peak_rss_mib']:,.0f} MiB (target < 1,536); "
            f"reorg {min(reorgs):,.0f}-{max(reorgs):,.0f} ms (target < 250, spread within "
            f"20%: {max(reorgs) / min(reorgs) - 1:.0%}); bytes per event "
            f"{first['disk_bytes'] / first['events']:,.0f} -> "
            f"{last['disk_bytes'] / last['events']:,.0f}.")
    for (variant, kind), rows in results.items():
        if kind == "postgresql" and rows and "autovacuum" in rows[0]:
            lines += ["", f"{variant}, postgresql: the server runs with autovacuum "
                      f"{rows[0]['autovacuum']}; "
                      + ("scale.py ran VACUUM ANALYZE on the store before each ingest window "
                         "(`--vacuum`)." if rows[0]["vacuumed"] else
                         "no vacuum (deleted rows stay in the tables and their indexes "
                         "unless autovacuum runs).")]
    if checks:
        lines += ["", "Targets of the stored variant:", "", *checks]
    if not_run:
        lines += ["", "Not run: " + "; ".join(not_run) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=SIZES, help="addresses per measurement, e.g. 0.5M,1M")
    parser.add_argument("--variants", default="stored,memory")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--options", type=json.loads, default={},
                        help="CrawlerOptions as JSON, e.g. '{\"max_reorg_depth\": 10}'")
    parser.add_argument("--vacuum", action="store_true",
                        help="PostgreSQL: VACUUM ANALYZE the store before each ingest window "
                        "(what autovacuum would do, for a server running without it)")
    parser.add_argument("--sqlite-cache-mib", type=int, default=SQLITE_CACHE_MIB,
                        help="the SQLite store's page cache (default: the store's own, "
                        f"{SQLITE_CACHE_MIB} MiB)")
    parser.add_argument("--report-only", action="store_true",
                        help="write the report from the rows measured so far, run nothing")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--chain", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = sorted(size_of(s) for s in args.sizes.split(","))
    if args.worker:
        variant, kind = args.worker
        asyncio.run(run_config(args.chain, variant, kind, set(sizes), args.options,
                               args.vacuum, args.sqlite_cache_mib))
        return
    CACHE.mkdir(exist_ok=True)
    configs = [(v, k) for v in args.variants.split(",") for k in args.stores.split(",")]
    if not args.report_only:
        directory = CACHE / f"scale-{'-'.join(map(str, sizes))}"
        make_chain(sizes, directory)
        for variant, kind in configs:
            started = time.perf_counter()
            run_worker(directory, variant, kind, sizes, args.options, args.vacuum,
                       args.sqlite_cache_mib)
            print(f"{variant} {kind}: {time.perf_counter() - started:.0f}s", flush=True)
    results = measured(configs)
    not_run = [f"{v} on {k}" + (f" beyond {results[(v, k)][-1]['addresses']:,} addresses"
                                 if results.get((v, k)) else "")
               for v, k in configs if len(results.get((v, k), [])) < len(sizes)]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(report(args, results, not_run))
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
