"""Crawl speed, memory and reorg cost on a chain of 100 blocks x 2,000 transactions.

Run: ``python benchmarks/ingest.py [--blocks 100] [--txs 2000] [--store sqlite|postgresql]``.
The chain is made once by the generator on simnode (a subprocess) and kept in
``benchmarks/.cache/`` for later runs. Then, with a fresh store:

1. ingest: crawl it with the example ``AddressBalances`` model; blocks/s, tx/s,
   events/s and peak RSS (and RSS after the first half, to show it stays flat);
2. history: crawl it again with ``AddressBalances`` plus ``OutputLog`` (one event per
   output, one per input): about 1M events for the whole chain;
3. reorg: the node replaces its last 6 blocks; the rollback transaction and the rebuild
   of every model's state are timed in a store holding the last 30 blocks and in one
   holding all of them (>= 1M events), to show the cost does not grow with history.

Writes ``benchmarks/results/ingest.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.models import OutputLog
from chaincrawler.chain.networks import REGTEST
from chaincrawler.crawler.pipeline import Committed, Crawler, CrawlerOptions, RolledBack
from chaincrawler.eventstore import EventStore, open_store
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.models import Model
from chaincrawler.node.client import NodeClient, RetryPolicy
from chaincrawler.testing.chaingen import ChainGenerator
from chaincrawler.testing.nodeproc import NodeHandle

HERE = Path(__file__).parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results" / "ingest.md"
PG_DSN = os.environ.get("CHAINCRAWLER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def make_chain(node: NodeHandle, blocks: int, txs: int) -> None:
    async with NodeClient(node.url_with_auth, timeout=600) as rpc:
        if await rpc.get_block_count() >= 101 + blocks:
            return
        gen = ChainGenerator(rpc, seed="ingest")
        t0 = time.perf_counter()
        await gen.fill(blocks, txs)
        print(f"chain made in {time.perf_counter() - t0:.1f}s")


async def new_store(kind: str, name: str) -> EventStore:
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
        store = open_store(f"sqlite:///{path}")  # the default durability: FULL
    await store.open(network="regtest", genesis_hash=REGTEST.genesis_hash)
    return store


async def crawl(node: NodeHandle, store: EventStore, models: list[Model],
                until: int | None = None, **options: Any) -> tuple[Crawler, float]:
    async with NodeClient(node.url_with_auth, rest=True, retry=RetryPolicy(attempts=3),
                          timeout=600) as rpc:
        crawler = Crawler(rpc, store, models, REGTEST, CrawlerOptions(**options))
        t0 = time.perf_counter()
        await crawler.run(follow=False, until_height=until)
        return crawler, time.perf_counter() - t0


async def ingest(node: NodeHandle, kind: str, first: int, tip: int) -> dict[str, Any]:
    """Crawl blocks first..tip (the filled ones) with the balance model."""
    store = await new_store(kind, "bench_ingest")
    counts = {"blocks": 0, "events": 0}
    half = first + (tip - first) // 2
    rss_half: list[float] = []

    def count(note: object) -> None:
        if isinstance(note, Committed):
            counts["blocks"] += len(note.blocks)
            counts["events"] += len(note.positions)
            if not rss_half and note.blocks[-1].height >= half:
                rss_half.append(current_rss_mib())

    try:
        async with NodeClient(node.url_with_auth, rest=True, timeout=600) as rpc:
            crawler = Crawler(rpc, store, [AddressBalances()], REGTEST,
                              CrawlerOptions(start_height=first, snapshot_interval=1000))
            crawler.subscribe(count)
            t0 = time.perf_counter()
            await crawler.run(follow=False)
            seconds = time.perf_counter() - t0
            hashes = await rpc.get_block_hashes(range(first, tip + 1))
            txs = sum([(await rpc.get_block_header(h))["nTx"] for h in hashes])
    finally:
        await store.close()
    return {
        "seconds": seconds, "blocks": counts["blocks"], "txs": txs, "events": counts["events"],
        "rss_half": rss_half[0] if rss_half else float("nan"), "rss_end": current_rss_mib(),
    }


async def reorg_cost(node: NodeHandle, kind: str, first: int, tip: int) -> list[dict[str, Any]]:
    """Rollback + rebuild of the same depth-6 reorg in a short and a long history."""
    histories = {"short": tip - 29, "long": first}
    stores = {name: await new_store(kind, f"bench_reorg_{name}") for name in histories}
    opts: dict[str, Any] = {"snapshot_interval": 5}
    rows = []
    try:
        for name, start in histories.items():
            await crawl(node, stores[name], [AddressBalances(), OutputLog()],
                        start_height=start, **opts)
        async with NodeClient(node.url_with_auth, timeout=600) as rpc:
            # The node drops its last 6 blocks for 5 others; reconsidering the first
            # dropped block afterwards brings the original (longer) chain back.
            dropped = await rpc.get_block_hash(tip - 5)
            await rpc.call("invalidateblock", dropped)
            desc = await rpc.call("getdescriptorinfo", "raw(51)")
            await rpc.call("generatetodescriptor", 5, f"raw(51)#{desc['checksum']}")
            try:
                for name, start in histories.items():
                    store = stores[name]
                    events = await store.max_position()
                    notes: list[object] = []
                    crawler = Crawler(rpc, store, [AddressBalances(), OutputLog()], REGTEST,
                                      CrawlerOptions(start_height=start, **opts))
                    crawler.subscribe(notes.append)
                    await crawler.run(follow=False)
                    note = next(n for n in notes if isinstance(n, RolledBack))
                    rows.append({"history": name, "events": events,
                                 "depth": note.reorg.depth,
                                 "rolled_back": note.reorg.rolled_back_events,
                                 "rollback_ms": note.rollback_seconds * 1000,
                                 "restore_ms": note.restore_seconds * 1000})
            finally:
                await rpc.call("reconsiderblock", dropped)
    finally:
        for store in stores.values():
            await store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=100)
    parser.add_argument("--txs", type=int, default=2000)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], nargs="+",
                        default=["sqlite", "postgresql"])
    parser.add_argument("--skip-reorg", action="store_true")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    datadir = CACHE / f"chain-{args.blocks}x{args.txs}"
    if not (datadir / "regtest").exists() and datadir.exists():
        shutil.rmtree(datadir)
    datadir.mkdir(exist_ok=True)
    node = NodeHandle("simnode", datadir)
    node.start()
    try:
        asyncio.run(make_chain(node, args.blocks, args.txs))
        tip = node.call("getblockcount")
        first = tip - args.blocks + 1
        results: dict[str, Any] = {}
        for kind in args.store:
            results[kind] = asyncio.run(ingest(node, kind, first, tip))
            print(kind, results[kind])
    finally:
        node.stop()
    for kind in [] if args.skip_reorg else args.store:
        # The reorg changes the node's chain: run it on a copy, keep the cache as made.
        with tempfile.TemporaryDirectory(prefix="chaincrawler-ingest-") as tmp:
            shutil.copytree(datadir, tmp, dirs_exist_ok=True)
            copy = NodeHandle("simnode", Path(tmp))
            copy.start()
            try:
                results[kind]["reorgs"] = asyncio.run(reorg_cost(copy, kind, first, tip))
                print(kind, results[kind]["reorgs"])
            finally:
                copy.stop()
    write_report(args, results)


def write_report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    lines = [
        "# Ingest benchmark (`python benchmarks/ingest.py`)",
        "",
        f"{args.blocks} blocks x {args.txs:,} transactions made by the generator on simnode "
        f"(a subprocess on the same 2-core machine, serving REST binary blocks). "
        f"{platform.machine()}, Python {platform.python_version()}.",
        "",
        "## Ingest with the example AddressBalances model (prevouts resolved)",
        "",
        "| store | blocks/s | tx/s | events/s | RSS at half (MiB) | RSS at end (MiB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, r in results.items():
        s = r["seconds"]
        lines.append(f"| {kind} | {r['blocks'] / s:,.1f} | {r['txs'] / s:,.0f} | "
                     f"{r['events'] / s:,.0f} | {r['rss_half']:,.0f} | {r['rss_end']:,.0f} |")
    if any("reorgs" in r for r in results.values()):
        lines += [
            "",
            "## Depth-6 reorg: rollback transaction and state rebuild",
            "",
            "Models: AddressBalances + OutputLog (an event per output and per input), "
            "snapshot every 5 blocks.",
            "",
            "| store | history | events stored | events rolled back | rollback ms | rebuild ms |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for kind, r in results.items():
            for row in r.get("reorgs", []):
                lines.append(f"| {kind} | {row['history']} | {row['events']:,} | "
                             f"{row['rolled_back']:,} | {row['rollback_ms']:,.0f} | "
                             f"{row['restore_ms']:,.0f} |")
    lines += ["", f"Peak RSS of the whole run: {rss_mib():,.0f} MiB."]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
