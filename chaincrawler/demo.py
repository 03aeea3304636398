"""``chaincrawler demo``: a simulated node followed by ZMQ, a balance model, its tip
latency, a live reorg, the dashboard, all on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from chaincrawler.chain.networks import REGTEST
from chaincrawler.crawler.follow_zmq import ZmqFollower, tip_follower
from chaincrawler.crawler.pipeline import (
    Committed,
    Crawler,
    CrawlerOptions,
    Notification,
    RolledBack,
    RunSummary,
)
from chaincrawler.crawler.restore import restore_model
from chaincrawler.eventstore import EventStore, open_store
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.node.client import NodeClient
from chaincrawler.testing.chaingen import ChainGenerator
from chaincrawler.testing.simnode import SimNode
from chaincrawler.transports.server import serve_crawler

Echo = Callable[[str], object]
SATS = 100_000_000
LATENCY_BLOCKS = 10
"""Blocks mined one at a time at the tip to measure the crawler's latency."""


async def run_demo(
    db: Path, *, blocks: int = 30, txs_per_block: int = 20, follow: bool = False,
    port: int = 0, echo: Echo = print,
) -> None:
    """Mine, crawl, time the tip, reorg and verify, serving the dashboard on 127.0.0.1:
    ``port`` (0: a free one); with ``follow``, keep mining and serving until interrupted."""
    for suffix in ("", "-wal", "-shm", ".lock"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="chaincrawler-demo-") as datadir:
        zmq = {"sequence": "tcp://127.0.0.1:0"}
        async with SimNode(Path(datadir), rpc_port=0, rest=True, zmq=zmq) as node:
            echo(f"1. simulated regtest node listening on {node.rpc_url}, publishing ZMQ "
                 f"sequence on {node.zmq_endpoints['sequence']}")
            async with NodeClient(node.rpc_url, cookie_file=node.cookie_file, rest=True) as rpc:
                await _demo(rpc, db, blocks, txs_per_block, follow, port, echo)


async def _demo(rpc: NodeClient, db: Path, blocks: int, txs: int, follow: bool, port: int,
                echo: Echo) -> None:
    gen = ChainGenerator(rpc, seed="demo")
    await gen.mine_until_mature()
    await gen.fill(blocks, txs)
    height = await rpc.get_block_count()
    echo(f"2. mined {height} blocks, {blocks} of them with {txs} transactions each")

    store = open_store(f"sqlite:///{db}")
    await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    balances = AddressBalances()
    options = CrawlerOptions(snapshot_interval=10)
    # As `chaincrawler run` does: ZMQ when the node advertises it, else polling.
    follower = await tip_follower(rpc, {}, options.poll_interval)
    crawler = Crawler(rpc, store, [balances], REGTEST, options, follower=follower)
    seen: list[Notification] = []
    crawler.subscribe(seen.append)
    committed_at: dict[str, float] = {}  # block hash -> when committed (perf_counter)
    crawler.subscribe(lambda note: committed_at.update(
        (b.hash, time.perf_counter()) for b in note.blocks) if isinstance(note, Committed)
        else None)
    task = asyncio.create_task(crawler.run(follow=True))
    try:
        async with serve_crawler(crawler, port=port) as server:
            await _wait_for_tip(crawler, rpc, task)
            events = await store.max_position()
            echo(f"3. crawled into {db}: tip {height}, {events} events, "
                 f"{len(balances.balances)} addresses; dashboard at {server.url}/")
            _show_top(balances, echo)
            how = "ZMQ" if isinstance(follower, ZmqFollower) else "polling"
            latencies = [await _mine_timed(gen, txs, committed_at, task)
                         for _ in range(LATENCY_BLOCKS)]
            echo(f"4. tip latency, following the node by {how}: {LATENCY_BLOCKS} blocks of "
                 f"{txs} transactions mined one at a time, each committed "
                 f"{statistics.median(latencies) * 1000:.0f} ms after it was mined (median; "
                 f"slowest {max(latencies) * 1000:.0f} ms)")

            result = await gen.reorg(3, 4, double_spend=True)
            echo(f"5. reorg on the node: the last 3 blocks replaced by 4 others "
                 f"(fork at {result.fork_height}; transaction {result.double_spent_txid} "
                 f"double-spent by {result.double_spend_txid})")
            await _wait_for_tip(crawler, rpc, task)
            reorg = next(n.reorg for n in seen if isinstance(n, RolledBack))
            echo(f"6. the crawler rolled back {reorg.rolled_back_events} events above height "
                 f"{reorg.fork_height} (kept, marked rolled back under reorg #{reorg.id}) and "
                 f"crawled the new branch to {crawler.tip.height if crawler.tip else '?'}")
            await _verify(store, balances, echo)
            if follow:
                await _follow(gen, crawler, seen, server.url, echo, task)
    finally:
        crawler.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()
    echo(f"done: inspect it with `CHAINCRAWLER_STORE__URL=sqlite:///{db} "
         "CHAINCRAWLER_NETWORK=regtest chaincrawler status`")


async def _mine_timed(gen: ChainGenerator, txs: int, committed_at: dict[str, float],
                      task: asyncio.Task[RunSummary]) -> float:
    """Send ``txs`` transactions, mine them; seconds from mined to the block committed."""
    coins = sorted((c for c in gen.coins() if c.height is not None), key=lambda c: -c.value)
    await asyncio.gather(*(gen.send_transaction(gen.create_transaction([c], gen.random_payments()))
                           for c in coins[:txs]))
    (mined,) = await gen.rpc.call("generatetodescriptor", 1, await gen.descriptor())
    started = time.perf_counter()
    while mined not in committed_at:
        if task.done():
            task.result()  # the crawler stopped: raise its error
        await asyncio.sleep(0.001)
    await gen.sync()
    return max(0.0, committed_at[mined] - started)  # ZMQ may beat the RPC's reply


async def _wait_for_tip(crawler: Crawler, rpc: NodeClient,
                        task: asyncio.Task[RunSummary]) -> None:
    best = await rpc.get_best_block_hash()
    while crawler.tip is None or crawler.tip.hash != best:
        if task.done():
            task.result()  # the crawler stopped: raise its error
        await asyncio.sleep(0.05)
        best = await rpc.get_best_block_hash()


def _show_top(balances: AddressBalances, echo: Echo) -> None:
    for row in balances.run_query("top", {"n": 3}):
        echo(f"     {row['address']}: {row['balance'] / SATS:.8f} BTC")


async def _verify(store: EventStore, live: AddressBalances, echo: Echo) -> None:
    """Replay the active event log from scratch and compare with the live state."""
    replayed = AddressBalances()
    await restore_model(replayed, store, await store.tip(), use_snapshot=False)
    same = replayed.balances == live.balances and replayed.tx_counts == live.tx_counts
    echo(f"7. state rebuilt from the active event log equals the live state: "
         f"{'yes' if same else 'NO'}")
    if not same:
        raise AssertionError("replayed state differs from the live state")


async def _follow(gen: ChainGenerator, crawler: Crawler, seen: list[Notification], url: str,
                  echo: Echo, task: asyncio.Task[RunSummary]) -> None:
    echo(f"following: a block every 2 s, a reorg every 5 blocks; the dashboard at {url}/ "
         "shows them; Ctrl-C to stop")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    n = 0
    while not stop.is_set() and not task.done():
        n += 1
        if n % 5 == 0:
            await gen.reorg(2, 3)
        else:
            await gen.fill(1, 10)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)
        commits = sum(isinstance(x, Committed) for x in seen)
        reorgs = sum(isinstance(x, RolledBack) for x in seen)
        tip = crawler.tip
        echo(f"  tip {tip.height if tip else '-'}  commits {commits}  reorgs {reorgs}")
