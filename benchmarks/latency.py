"""Tip latency: from a block mined on simnode to its events committed and streamed.

Run: ``python benchmarks/latency.py [--blocks 200] [--txs 100]``.
A simnode subprocess (with ZMQ publishers) is funded by the chain generator; then, for
each follower -- :class:`ZmqFollower` and :class:`PollingFollower` at the default
``poll_interval`` -- a crawler with the example ``AddressBalances`` model follows the
node (fresh SQLite store, default snapshot interval), serving its API on 127.0.0.1
with one WebSocket client on ``/v1/stream`` (all models, from now on), while,
``--blocks`` times, the generator sends ``--txs`` transactions, lets the crawler idle 0.1
to 1.1 s (at random, so blocks fall at any phase of a poll) and mines a block.
A block's latency runs from the moment ``generatetodescriptor`` returned its hash (the
node has connected it) to the crawler's ``Committed`` notification for it (its events
are in the store), and to the stream client's receipt of the ``events`` frame holding the
block's last event (``upto`` reaching it); the next block is mined after that. Crawler,
server, stream client and generator share one process, and the machine's cores with the
node. On a loaded machine wall-clock figures mostly measure the load, so the CPU time the
process spent from mined to committed (``time.process_time``: the crawler's own work, the
garbage collector's included) is reported too.

Writes ``benchmarks/results/latency.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chaincrawler.chain.networks import REGTEST
from chaincrawler.crawler.follow import PollingFollower, TipFollower
from chaincrawler.crawler.follow_zmq import ZmqFollower
from chaincrawler.crawler.pipeline import Committed, Crawler, CrawlerOptions
from chaincrawler.eventstore import open_store
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.node.client import NodeClient
from chaincrawler.node.zmq import ZmqSubscriber
from chaincrawler.testing.chaingen import WALLET_SCRIPT_PUBKEY, ChainGenerator
from chaincrawler.testing.nodeproc import NodeHandle
from chaincrawler.transports.server import serve_crawler

RESULTS = Path(__file__).parent / "results" / "latency.md"
COIN = 100_000_000


@dataclass(slots=True)
class Latencies:
    """Seconds from mined to committed (wall and process CPU), and to streamed, per block."""

    committed: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    streamed: list[float] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def make_coins(gen: ChainGenerator, count: int, value: int) -> None:
    """``count`` confirmed generator coins of ``value`` sat (one fan-out transaction)."""
    await gen.ensure_funds(count * value + COIN)
    pool = sorted((c for c in gen.coins() if c.height is not None), key=lambda c: -c.value)
    picked = []
    while sum(c.value for c in picked) < count * value + COIN // 10:
        picked.append(pool.pop(0))
    await gen.send_transaction(
        gen.create_transaction(picked, [(WALLET_SCRIPT_PUBKEY, value)] * count)
    )
    await gen.mine(1)


class StreamClient:
    """A ``/v1/stream`` client subscribed to every model: when each ``upto`` arrived."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("http://", "ws://") + "/v1/stream"
        self.received: list[tuple[int, float]] = []  # (upto, perf_counter) per events frame
        self.arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._run(ready))
        await ready.wait()

    async def _run(self, ready: asyncio.Event) -> None:
        async with websockets.connect(self.url, max_size=None) as ws:
            await ws.send(json.dumps({"op": "subscribe", "models": None, "after": "now"}))
            async for text in ws:
                frame = json.loads(text)
                if frame["type"] == "caught_up":
                    ready.set()
                elif frame["type"] == "events":
                    self.received.append((frame["upto"], time.perf_counter()))
                    self.arrived.set()

    async def delivered(self, position: int) -> float:
        """When the frame reaching ``position`` arrived (waits for it)."""
        while True:
            for upto, at in self.received:
                if upto >= position:
                    return at
            self.arrived.clear()
            await self.arrived.wait()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def measure(
    node: NodeHandle, gen: ChainGenerator, follower: TipFollower, blocks: int, txs: int,
    workdir: Path,
) -> Latencies:
    """Latencies of ``blocks`` blocks of ``txs`` transactions, mined one at a time."""
    store = open_store(f"sqlite:///{workdir / f'{type(follower).__name__}.db'}")
    await store.open(network="regtest", genesis_hash=REGTEST.genesis_hash)
    # block hash -> (when, process CPU time then, its last position)
    committed: dict[str, tuple[float, float, int]] = {}
    arrived = asyncio.Event()

    def note(change: object) -> None:
        if isinstance(change, Committed):
            now, cpu = time.perf_counter(), time.process_time()
            committed.update((b.hash, (now, cpu, change.positions.stop - 1))
                             for b in change.blocks)
            arrived.set()

    result = Latencies()
    rng = random.Random(blocks)
    async with NodeClient(node.url_with_auth, rest=True) as rpc:
        crawler = Crawler(rpc, store, [AddressBalances()], REGTEST,
                          CrawlerOptions(start_height=await rpc.get_block_count()),
                          follower=follower)
        crawler.subscribe(note)
        run = asyncio.create_task(crawler.run())
        serving = serve_crawler(crawler)
        server = await serving.__aenter__()
        client = StreamClient(server.url)
        await client.start()
        descriptor = await gen.descriptor()
        for _ in range(blocks):
            coins = sorted((c for c in gen.coins() if c.height is not None),
                           key=lambda c: -c.value)[:txs]
            batch = [gen.create_transaction([c], gen.random_payments(2)) for c in coins]
            await gen.rpc.batch([("sendrawtransaction", [tx.hex()]) for tx in batch])
            for tx in batch:
                gen._track(tx)  # the generator spends their change next round
            await asyncio.sleep(rng.uniform(0.1, 1.1))  # idle, at any phase of a poll
            while crawler.tip is None or crawler.tip.hash != await rpc.get_best_block_hash():
                await asyncio.sleep(0.05)
            arrived.clear()
            (mined,) = await gen.rpc.call("generatetodescriptor", 1, descriptor)
            t0, cpu0 = time.perf_counter(), time.process_time()
            while mined not in committed:
                await arrived.wait()
                arrived.clear()
            at, cpu, last_position = committed[mined]
            result.committed.append(at - t0)
            result.cpu.append(cpu - cpu0)
            result.streamed.append(await client.delivered(last_position) - t0)
            await gen.sync()
        await client.close()
        await serving.__aexit__(None, None, None)
        crawler.stop()
        await run
    await store.close()
    return result

async def main(blocks: int, txs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        node = NodeHandle("simnode", workdir / "node")
        node.start()
        try:
            async with NodeClient(node.url_with_auth, timeout=600) as rpc:
                gen = ChainGenerator(rpc, seed="latency")
                await make_coins(gen, txs, 2 * blocks * 110_000)
                interval = CrawlerOptions().poll_interval
                zmq_sub = ZmqSubscriber.from_notifications(
                    await rpc.get_zmq_notifications(), ("sequence",)
                )
                results = {
                    "ZMQ (sequence)": await measure(
                        node, gen, ZmqFollower(rpc, zmq_sub, interval), blocks, txs, workdir
                    ),
                    f"polling every {interval:g} s": await measure(
                        node, gen, PollingFollower(interval), blocks, txs, workdir
                    ),
                }
        finally:
            node.stop()
    rows = [
        f"| {name} | {what} | {len(v)} | {percentile(v, 0.5) * 1000:.1f} | "
        f"{percentile(v, 0.99) * 1000:.1f} | {max(v) * 1000:.1f} | "
        f"{statistics.fmean(v) * 1000:.1f} |"
        for name, r in results.items()
        for what, v in (("committed", r.committed), ("committed, CPU time", r.cpu),
                        ("streamed", r.streamed))
    ]
    text = "\n".join([
        "# Tip latency: block mined on simnode -> its events committed, and streamed",
        "",
        f"`python benchmarks/latency.py --blocks {blocks} --txs {txs}`: {blocks} blocks of "
        f"{txs} transactions mined one at a time on an idle crawler (idle 0.1-1.1 s at "
        "random), example `AddressBalances` model, SQLite store, default crawler options "
        "(snapshot every 100 blocks). From `generatetodescriptor` returning to "
        "`Committed` (committed), and to a `/v1/stream` client (all models, same process) "
        "receiving the frame with the block's last event (streamed), milliseconds; "
        "\"CPU time\": the process's CPU time over the same span as committed.",
        "",
        "| follower | until | blocks | p50 | p99 | max | mean |",
        "|---|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"Python {platform.python_version()}, {platform.machine()}; generator, crawler and "
        "the node share the machine (the crawler and the generator one process).",
        "",
    ])
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=200)
    parser.add_argument("--txs", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.blocks, args.txs))
