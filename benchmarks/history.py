"""What a query at a past height of the window costs over HTTP, against one at the tip.

    python benchmarks/history.py [--addresses 100000] [--blocks 10] [--events 200]

Writes a SQLite store (in a temporary directory) holding an ``AddressBalances``
snapshot of ``--addresses`` addresses at height 0 and ``--blocks`` blocks of
``--events`` ``BalancesChanged`` events above it, serves it with a reader
(``ReaderSource``, as ``chaincrawler serve``) on uvicorn on 127.0.0.1, and times from
an HTTP client in the same process: the ``balance`` query at the tip, the first one at
a past height (a side copy restored: snapshot load plus replay), and the next ones at
that height (the copy kept), and how many tip queries (one after the other) are
answered while that first one runs, and the slowest of them (the restore runs in a
worker thread). Results go to ``benchmarks/results/history.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.snapshot import addresses  # noqa: E402
from chaincrawler.chain.networks import REGTEST  # noqa: E402
from chaincrawler.eventstore import (  # noqa: E402
    BlockRecord,
    PendingEvent,
    PendingSnapshot,
    open_store,
)
from chaincrawler.examples.balances import AddressBalances, BalancesChanged  # noqa: E402
from chaincrawler.transports.api import create_app  # noqa: E402
from chaincrawler.transports.reader_source import ReaderSource  # noqa: E402
from chaincrawler.transports.server import ApiServer  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "history.md"
REPEATS = 20


def _block(height: int) -> BlockRecord:
    return BlockRecord(height, f"{height + 1:064x}", f"{height:064x}", 1_700_000_000 + height)


async def _fill_store(url: str, count: int, blocks: int, per_block: int) -> str:
    """The store's blocks, snapshot and events; returns an address the events touch."""
    rng = random.Random(7)
    addrs = addresses(count, rng)
    model = AddressBalances()
    model.balances = {a: rng.randrange(10**9, 21 * 10**14) for a in addrs}
    model.tx_counts = {a: rng.randrange(1, 500) for a in addrs}
    store = open_store(url)
    await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    try:
        first = _block(0)
        await store.commit([first], [], [PendingSnapshot(model.name, 0, first.hash,
                                                         model.snapshot_state())])
        for height in range(1, blocks + 1):
            block = _block(height)
            events = [BalancesChanged(
                txid=rng.randbytes(32).hex(),
                credited={a: rng.randrange(546, 10**8) for a in rng.sample(addrs, 3)},
                debited={rng.choice(addrs): rng.randrange(546, 10**8)})
                for _ in range(per_block)]
            await store.commit([block], [
                PendingEvent(model.name, e.event_type, e.event_version, e.to_json(),
                             height, block.hash) for e in events])
    finally:
        await store.close()
    return addrs[0]


async def _timed(http: httpx.AsyncClient, path: str, address: str) -> float:
    t0 = time.perf_counter()
    response = await http.post(path, json={"address": address})
    elapsed = time.perf_counter() - t0
    response.raise_for_status()
    return elapsed * 1000


async def measure(count: int, blocks: int, per_block: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="cc-history-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'history.db'}"
        address = await _fill_store(url, count, blocks, per_block)
        store = open_store(url)
        await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash,
                         writer=False)
        source = ReaderSource(store, [AddressBalances()], max_reorg_depth=blocks + 5)
        t0 = time.perf_counter()
        await source.start()
        start_s = time.perf_counter() - t0
        server = ApiServer(create_app(source))
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=600) as http:
                tip = "/v1/models/address_balances/queries/balance"
                at = f"/v1/models/address_balances/at/{blocks // 2}/queries/balance"
                await _timed(http, tip, address)  # warm the connection
                tips = [await _timed(http, tip, address) for _ in range(REPEATS)]
                first = asyncio.create_task(_timed(http, at, address))
                during = []  # tip queries while the side copy is restored
                while not first.done():
                    during.append(await _timed(http, tip, address))
                cold = await first
                warm = [await _timed(http, at, address) for _ in range(REPEATS)]
        finally:
            await server.stop()
            await store.close()
    return {"start_s": start_s, "tip_ms": statistics.median(tips), "cold_ms": cold,
            "warm_ms": statistics.median(warm), "during": len(during),
            "during_max_ms": max(during)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=100_000)
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--events", type=int, default=200, help="events per block")
    args = parser.parse_args()
    got = asyncio.run(measure(args.addresses, args.blocks, args.events))
    replayed = args.blocks // 2 * args.events
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    text = (
        f"# State at a height (`python benchmarks/history.py --addresses {args.addresses} "
        f"--blocks {args.blocks} --events {args.events}`)\n\n"
        f"`AddressBalances` with {args.addresses:,} addresses, snapshot at height 0, "
        f"{args.blocks} blocks of {args.events} events above it; a reader on SQLite served "
        f"by uvicorn, the HTTP client in the same process; {when}, "
        f"{platform.python_version()}, {os.cpu_count()} cores, load average {load:.1f} "
        "(a shared machine: figures are noisy).\n\n"
        "| what | figure |\n| --- | ---: |\n"
        f"| reader start (restore at the tip: snapshot + {args.blocks * args.events:,} "
        f"events) | {got['start_s']:.2f} s |\n"
        f"| `balance` at the tip, median of {REPEATS} | {got['tip_ms']:.1f} ms |\n"
        f"| `balance` at height {args.blocks // 2}, first (side copy: snapshot + "
        f"{replayed:,} events) | {got['cold_ms']:.0f} ms |\n"
        f"| `balance` at height {args.blocks // 2}, next ones (copy kept), median of "
        f"{REPEATS} | {got['warm_ms']:.1f} ms |\n"
        f"| `balance` at the tip while that first one runs: answers, slowest | "
        f"{got['during']:.0f}, {got['during_max_ms']:.0f} ms |\n"
    )
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
