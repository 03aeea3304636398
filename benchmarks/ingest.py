"""Crawl speed, memory and reorg cost on an address-heavy chain of 100 blocks x 2,000 txs.

Run: ``python benchmarks/ingest.py [--blocks 100] [--txs 2000] [--store sqlite postgresql]
[--old-tree DIR] [--etl BITCOINETL] [--bitcoind BITCOIND]``.

The chain is made once by :class:`~benchmarks.blockgen.AddressHeavyGenerator` (every
transaction: one input, two destinations 40% P2WPKH, 20% P2PKH, 15% P2SH, 15% P2TR,
10% P2WSH, and a P2WSH change) and kept in ``benchmarks/.cache/``. Then, in one sitting:

1. ingest: each crawl of the filled blocks with the example ``AddressBalances`` model
   runs in a process of its own (``benchmarks/ingest_crawl.py``), with a fresh store:
   this tree (addresses derived inline, and in a worker process), and with ``--old-tree``
   an older commit's tree (``git archive``) on the same chain; tx/s, the crawl
   process's CPU seconds (the critical path) and its workers', peak RSS;
2. memory: this tree crawls the first half of the chain, then all of it, with a model of
   constant state; peak RSS of each;
3. bitcoin-etl (``--etl``, the ``bitcoinetl`` of a virtualenv of its own):
   ``export_blocks_and_transactions`` with its defaults over the same blocks;
4. with ``--bitcoind``, 1 and 3 again against a real Bitcoin Core on a chain made the
   same way (its own cache directory);
5. reorg: the node replaces its last 6 blocks; the rollback transaction and the rebuild
   of every model's state are timed in a store holding the last 30 blocks and in one
   holding all of them (>= 1M events), to show the cost does not grow with history.

``--rounds N`` repeats the ingest crawls N times, the codes taking turns within each
round, and reports each code's median (by wall time) with every round's seconds: on a
machine shared with other jobs, one crawl's wall time varies by a third from minute to
minute. ``--crawl-blocks N`` crawls only the first N filled blocks (quick iterations);
``--skip-simnode`` with ``--bitcoind`` measures against Core alone. Writes
``benchmarks/results/ingest.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.blockgen import AddressHeavyGenerator
from benchmarks.models import OutputLog
from chaincrawler.chain.networks import REGTEST
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions, RolledBack
from chaincrawler.eventstore import EventStore, open_store
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.models import Model
from chaincrawler.node.client import NodeClient, RetryPolicy
from chaincrawler.testing import nodeproc
from chaincrawler.testing.nodeproc import NodeHandle

HERE = Path(__file__).parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results" / "ingest.md"
PG_DSN = os.environ.get("CHAINCRAWLER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


MEMORY_PREVOUT_CACHE = 100_000
"""The memory runs' prevout cache bound: full within the first quarter of the chain (each
transaction leaves two outputs unspent), so both runs hold it full."""


def rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def make_chain(node: NodeHandle, blocks: int, txs: int) -> None:
    async with NodeClient(node.url_with_auth, timeout=600) as rpc:
        if await rpc.get_block_count() >= 101 + blocks:
            return
        gen = AddressHeavyGenerator(rpc)
        t0 = time.perf_counter()
        await gen.fill(blocks, txs, outputs=2)
        print(f"chain made in {time.perf_counter() - t0:.1f}s")


def start_node(kind: str, datadir: Path, blocks: int, txs: int, binary: str | None) -> NodeHandle:
    """The node on its cached chain (made first when missing)."""
    if not (datadir / "regtest").exists() and datadir.exists():
        shutil.rmtree(datadir)
    datadir.mkdir(parents=True, exist_ok=True)
    node = NodeHandle(kind, datadir, binary=binary)
    node.start()
    try:
        asyncio.run(make_chain(node, blocks, txs))
    except BaseException:
        node.stop()
        raise
    return node


async def _drop_schema(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    finally:
        await conn.close()


def store_target(kind: str, name: str) -> str:
    """An empty store for one crawl process, as ``ingest_crawl.py`` takes it."""
    if kind == "postgresql":
        asyncio.run(_drop_schema(name))
        return f"{PG_DSN}#{name}"
    path = CACHE / f"{name}.db"
    for suffix in ("", "-wal", "-shm", ".lock"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return f"sqlite:///{path}"  # the default durability: FULL


def crawl_process(tree: Path, node: NodeHandle, kind: str, first: int, last: int,
                  *options: str) -> dict[str, Any]:
    """Crawl ``first..last`` with the code of ``tree`` in a process of its own."""
    target = store_target(kind, "bench_ingest")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, str(HERE / "ingest_crawl.py"), node.url_with_auth, target,
         str(first), str(last), *options],
        env=env, check=True, capture_output=True, text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time (the lower of the two middle ones), with every run's
    seconds (``rounds``) and the median crawl CPU (``cpu_median``)."""
    by_wall = sorted(runs, key=lambda r: r["seconds"])
    cpus = sorted(r["cpu_main"] for r in runs)
    return {**by_wall[(len(runs) - 1) // 2], "rounds": [r["seconds"] for r in runs],
            "cpu_median": cpus[(len(runs) - 1) // 2]}


def etl_process(etl: str, node: NodeHandle, first: int, last: int) -> dict[str, Any]:
    """bitcoin-etl's export_blocks_and_transactions (its defaults) over ``first..last``."""
    with tempfile.TemporaryDirectory(prefix="chaincrawler-etl-") as tmp:
        started = time.perf_counter()
        subprocess.run(
            [etl, "export_blocks_and_transactions", "--start-block", str(first),
             "--end-block", str(last), "--provider-uri", node.url_with_auth,
             "--chain", "bitcoin", "--blocks-output", f"{tmp}/blocks.json",
             "--transactions-output", f"{tmp}/transactions.json"],
            check=True, capture_output=True,
        )
        seconds = time.perf_counter() - started
        with open(f"{tmp}/transactions.json") as f:
            txs = sum(1 for _ in f)
    return {"seconds": seconds, "txs": txs}


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
    parser.add_argument("--crawl-blocks", type=int, default=None,
                        help="crawl only the first N filled blocks")
    parser.add_argument("--store", choices=["sqlite", "postgresql"], nargs="+",
                        default=["sqlite", "postgresql"])
    parser.add_argument("--old-tree", type=Path, default=None,
                        help="an older commit's tree to crawl the same chain with")
    parser.add_argument("--etl", default=None, help="bitcoin-etl's bitcoinetl executable")
    parser.add_argument("--bitcoind", default=None, help="also measure against this bitcoind")
    parser.add_argument("--skip-simnode", action="store_true",
                        help="with --bitcoind: measure against it only")
    parser.add_argument("--rounds", type=int, default=1,
                        help="crawls of each code, taking turns; the median is reported")
    parser.add_argument("--skip-reorg", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    nodeproc.STARTUP_TIMEOUT = 600  # simnode reads the whole chain at start: slow when loaded
    codes: list[tuple[str, Path, list[str]]] = [
        ("this tree", HERE.parent, []),
        ("this tree, worker process", HERE.parent, ["--worker"]),
    ]
    if args.old_tree is not None:
        codes.append(("old tree", args.old_tree.resolve(), []))
    nodes: list[tuple[str, str | None]] = [] if args.skip_simnode else [("simnode", None)]
    if args.bitcoind:
        nodes.append(("bitcoind", args.bitcoind))
    results: dict[str, Any] = {"runs": [], "memory": [], "etl": [], "reorgs": {}}
    datadir = CACHE / f"chain-{args.blocks}x{args.txs}-mix13"
    for kind, binary in nodes:
        node_dir = datadir if kind == "simnode" else datadir.with_name(datadir.name + "-core")
        node = start_node(kind, node_dir, args.blocks, args.txs, binary)
        try:
            tip = node.call("getblockcount")
            first = tip - args.blocks + 1
            last = tip if args.crawl_blocks is None else first + args.crawl_blocks - 1
            for store in args.store:
                rounds: dict[str, list[dict[str, Any]]] = {code: [] for code, _, _ in codes}
                for _ in range(args.rounds):
                    for code, tree, options in codes:
                        rounds[code].append(crawl_process(tree, node, store, first, last,
                                                          *options))
                        print(code, store, rounds[code][-1])
                for code, runs in rounds.items():
                    results["runs"].append({"node": kind, "code": code, "store": store,
                                            **median_run(runs)})
            if args.etl:
                results["etl"].append({"node": kind, **etl_process(args.etl, node, first, last)})
                print(results["etl"][-1])
            if kind == "simnode" and not args.skip_memory:
                half = first + (last - first + 1) // 2 - 1
                for end in (half, last):
                    run = crawl_process(HERE.parent, node, args.store[0], first, end, "totals",
                                        "--prevout-cache", str(MEMORY_PREVOUT_CACHE))
                    results["memory"].append({"store": args.store[0], **run})
                    print(results["memory"][-1])
        finally:
            node.stop()
    for kind in [] if args.skip_reorg or args.skip_simnode else args.store:
        # The reorg changes the node's chain: run it on a copy, keep the cache as made.
        with tempfile.TemporaryDirectory(prefix="chaincrawler-ingest-") as tmp:
            shutil.copytree(datadir, tmp, dirs_exist_ok=True)
            copy = NodeHandle("simnode", Path(tmp))
            copy.start()
            try:
                tip = copy.call("getblockcount")
                first = tip - args.blocks + 1
                results["reorgs"][kind] = asyncio.run(reorg_cost(copy, kind, first, tip))
                print(kind, results["reorgs"][kind])
            finally:
                copy.stop()
    write_report(args, results)


def write_report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    crawled = args.crawl_blocks or args.blocks
    lines = [
        "# Ingest benchmark (`python benchmarks/ingest.py`)",
        "",
        f"{crawled} blocks x {args.txs:,} transactions (one input, two destinations 40% "
        f"P2WPKH / 20% P2PKH / 15% P2SH / 15% P2TR / 10% P2WSH and a P2WSH change each) made "
        f"by the address-heavy generator; the node is a subprocess on the same machine, "
        f"serving REST binary blocks and `spenttxouts`. {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other jobs (figures are noisy), Python "
        f"{platform.python_version()}.",
        "",
        "## Ingest with the example AddressBalances model (prevouts resolved)",
        "",
        "Each crawl is a process of its own with a fresh store. *crawl CPU* is the crawl "
        "process's own CPU time (the critical path), *worker CPU* its worker processes'; "
        "*tx per crawl CPU s* is what the crawl would do with a core to itself.",
        "",
        f"With {args.rounds} round(s), each row is the code's median crawl by wall time "
        "(its CPU the median of all rounds); *rounds* lists every round's seconds.",
        "",
        "| node | code | store | seconds | tx/s | crawl CPU s | tx per crawl CPU s "
        "| worker CPU s | peak RSS MiB | rounds (s) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results["runs"]:
        lines.append(
            f"| {r['node']} | {r['code']} | {r['store']} | {r['seconds']:.1f} | "
            f"{r['txs'] / r['seconds']:,.0f} | {r['cpu_median']:.1f} | "
            f"{r['txs'] / r['cpu_median']:,.0f} | "
            f"{r.get('cpu_workers', float('nan')):.1f} | {r['peak_rss_mib']:,.0f} | "
            f"{' / '.join(f'{s:.1f}' for s in r['rounds'])} |")
    old = {(r["node"], r["store"]): r for r in results["runs"] if r["code"] == "old tree"}
    ratios = [(r, old[r["node"], r["store"]]) for r in results["runs"]
              if r["code"] == "this tree" and (r["node"], r["store"]) in old]
    if ratios:
        lines += ["", "This tree against the old tree, medians: " + "; ".join(
            f"{r['node']} {r['store']} {o['seconds'] / r['seconds']:.2f}x the wall "
            f"({o['seconds']:.2f} -> {r['seconds']:.2f} s), "
            f"{o['cpu_median'] / r['cpu_median']:.2f}x the crawl CPU" for r, o in ratios) + "."]
    if results["etl"]:
        lines += [
            "",
            "## bitcoin-etl `export_blocks_and_transactions` (its defaults) on the same blocks",
            "",
            "Against simnode this measures simnode's JSON (`getblock <hash> 2`) speed as "
            "much as bitcoin-etl's own: the ratio that counts is against bitcoind.",
            "",
            "| node | seconds | tx/s | this tree (SQLite) / bitcoin-etl |",
            "| --- | ---: | ---: | ---: |",
        ]
        for e in results["etl"]:
            ours = [r for r in results["runs"]
                    if r["node"] == e["node"] and r["code"] == "this tree"
                    and r["store"] == "sqlite"]
            ratio = (ours[0]["txs"] / ours[0]["seconds"]) / (e["txs"] / e["seconds"]) if ours \
                else float("nan")
            lines.append(f"| {e['node']} | {e['seconds']:.1f} | {e['txs'] / e['seconds']:,.0f} | "
                         f"{ratio:.2f}x |")
    if results["memory"]:
        lines += [
            "",
            "## Memory: the first half of the chain, then all of it",
            "",
            "Model: `TypeTotals` (`benchmarks/ingest_crawl.py`), which reads every address "
            "and prevout like the balance model but keeps a state that does not grow, so "
            "what grows is the framework's. (The balance model's state grows with the "
            "addresses it has seen: on this chain two new ones per transaction.) The prevout "
            f"cache is bounded at {MEMORY_PREVOUT_CACHE:,} outputs (the default, 300,000, "
            "fills only after 150,000 transactions of this chain).",
            "",
            "| store | blocks | transactions | peak RSS MiB |",
            "| --- | ---: | ---: | ---: |",
        ]
        for m in results["memory"]:
            lines.append(f"| {m['store']} | {m['blocks']} | {m['txs']:,} | "
                         f"{m['peak_rss_mib']:,.0f} |")
    if results["reorgs"]:
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
        for kind, rows in results["reorgs"].items():
            for row in rows:
                lines.append(f"| {kind} | {row['history']} | {row['events']:,} | "
                             f"{row['rolled_back']:,} | {row['rollback_ms']:,.0f} | "
                             f"{row['restore_ms']:,.0f} |")
    lines += ["", f"Peak RSS of the benchmark's own process: {rss_mib():,.0f} MiB."]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
