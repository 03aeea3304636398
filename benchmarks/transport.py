"""Transport speed: query latency, commit-to-client latency, stream fan-out, serving cost.

Run: ``python benchmarks/transport.py [--quick] [--baseline DIR]``.
A simnode subprocess is funded by the chain generator; a crawler with the example
``AddressBalances`` model follows it by ZMQ (SQLite store of its own) and is served by
uvicorn on 127.0.0.1 in the crawler's process and event loop, as ``chaincrawler run``
serves it. Load generators are separate processes (this file run with ``--worker``) on
the same cores; each reports the CPU it used over its measured window.

1. query: ``GET .../address_balances/queries/balance`` at a fixed 500 requests/s (open
   loop over keep-alive connections; a request's latency runs from its scheduled
   time, so a stall counts for every request it delays), the model holding 1M
   addresses put straight into its state; then what ``top`` costs at 1M addresses,
   alone and mixed into the ``balance`` load;
2. tip: blocks of ``--txs`` transactions are mined one at a time; a block's commit
   latency runs from ``generatetodescriptor`` returning to the crawler's ``Committed``
   notice. Rounds alternate a bare crawler and a served one with 10 stream clients
   subscribed to every model (each decodes every frame): the ratio of the two is the
   cost of serving; the served rounds also give the commit-to-client latency (from the
   ``Committed`` notice to a client receiving the block's ``BlockConnected`` event,
   one clock: ``time.monotonic`` is system-wide);
3. fan-out: 100 clients (in 4 processes) subscribe to every model from "now"; then the
   crawler catches up a chain of ``--fanout-blocks`` x ``--fanout-txs`` mined before it
   started; events delivered to all clients / time from the first commit to the last
   client holding the last event.

With ``--baseline DIR`` (a checkout of older code, e.g. ``git archive`` of a commit)
every step also runs with ``DIR`` first on ``sys.path``, in the same sitting, and the
table gets a "before" column. Writes ``benchmarks/results/transport.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "transport.md"

_UPTO = re.compile(r'"upto":(\d+)')
_HASH = re.compile(r'"event_type":"BlockConnected".*?"hash":"([0-9a-f]{64})"')


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- load generators (separate processes) -------------------------------------------------


async def _http_connection(host: str, port: int) -> tuple[asyncio.StreamReader,
                                                          asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port)


async def _get(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], path: str) -> int:
    """One keep-alive ``GET``; returns the status (a minimal HTTP/1.1 client: cheap CPU)."""
    reader, writer = conn
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return int(head[9:12])


async def query_worker(cfg: dict[str, Any]) -> dict[str, Any]:
    """Open-loop GETs at fixed rates; latency per stream of requests from its schedule."""
    host, port = cfg["host"], cfg["port"]
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(cfg["connections"]):
        pool.put_nowait(await _http_connection(host, port))
    rng = random.Random(1)
    loop = asyncio.get_running_loop()
    latencies: dict[str, list[float]] = {s["name"]: [] for s in cfg["streams"]}
    errors = 0

    async def one(name: str, path: str, scheduled: float) -> None:
        nonlocal errors
        conn = await pool.get()
        try:
            status = await _get(conn, path)
        finally:
            pool.put_nowait(conn)
        if status != 200:
            errors += 1
        latencies[name].append(loop.time() - scheduled)

    async def schedule(stream: dict[str, Any], start: float) -> list[asyncio.Task[None]]:
        tasks = []
        count = int(stream["rate"] * cfg["seconds"])
        for i in range(count):
            at = start + i / stream["rate"]
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            path = stream["path"].replace("{key}", str(rng.randrange(stream.get("keys", 1))))
            tasks.append(asyncio.create_task(one(stream["name"], path, at)))
        return tasks

    cpu0, start = cpu_seconds(), loop.time() + 0.05
    batches = await asyncio.gather(*(schedule(s, start) for s in cfg["streams"]))
    await asyncio.gather(*(t for batch in batches for t in batch))
    wall = loop.time() - start
    return {"latencies": latencies, "errors": errors, "cpu": cpu_seconds() - cpu0,
            "wall": wall}


async def stream_worker(cfg: dict[str, Any]) -> dict[str, Any]:
    """``clients`` stream clients subscribed to every model from "now".

    ``decode``: each frame is decoded with ``json.loads`` (what a client does); else
    events are only counted. Each client records when it got each block's
    ``BlockConnected`` event. Ends at stdin ``until P`` (every client holds P) or ``stop``.
    """
    from websockets.asyncio.client import connect

    url, decode = cfg["url"], cfg["decode"]
    target: list[int | None] = [None]
    done = asyncio.Event()
    stats = [{"events": 0, "upto": 0, "last": 0.0, "blocks": {}} for _ in range(cfg["clients"])]
    caught_up = [asyncio.Event() for _ in stats]

    async def client(i: int) -> None:
        mine = stats[i]
        async with connect(url, max_size=None, open_timeout=60) as ws:
            await ws.send(json.dumps({"op": "subscribe", "models": None, "after": "now"}))
            async for text in ws:
                now = time.monotonic()
                assert isinstance(text, str)
                head = text[:40]
                if '"caught_up"' in head:
                    caught_up[i].set()
                if decode:
                    frame = json.loads(text)
                    frames = frame.get("frames", [frame]) if frame["type"] == "batch" \
                        else [frame]
                    for f in frames:
                        if f["type"] != "events":
                            continue
                        mine["events"] += len(f["events"])
                        mine["upto"] = max(mine["upto"], f["upto"])
                        for e in f["events"]:
                            if e["event_type"] == "BlockConnected":
                                mine["blocks"][e["payload"]["hash"]] = now
                elif '"events"' in head or '"batch"' in head:
                    mine["events"] += text.count('"event_type":')
                    mine["upto"] = max(mine["upto"], *map(int, _UPTO.findall(text)))
                    for block in _HASH.findall(text):
                        mine["blocks"][block] = now
                else:
                    continue
                mine["last"] = now
                if target[0] is not None and all(s["upto"] >= target[0] for s in stats):
                    done.set()

    tasks = [asyncio.create_task(client(i)) for i in range(len(stats))]
    await asyncio.gather(*(e.wait() for e in caught_up))
    print(json.dumps({"ready": True}), flush=True)
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    line = (await reader.readline()).decode().split()
    if line and line[0] == "until":
        target[0] = int(line[1])
        if all(s["upto"] >= target[0] for s in stats):
            done.set()
        failed = next((t for t in tasks if t.done() and t.exception()), None)
        if failed is not None:
            failed.result()
        await asyncio.wait_for(done.wait(), cfg.get("timeout", 600))
    cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"clients": stats, "cpu": cpu, "wall": wall}


def worker_main(cfg: dict[str, Any]) -> None:
    kind = cfg["kind"]
    if kind == "query":
        print(json.dumps({"ready": True}), flush=True)
        sys.stdin.readline()
        result = asyncio.run(query_worker(cfg))
    else:
        result = asyncio.run(stream_worker(cfg))
    print(json.dumps(result), flush=True)


class Worker:
    """A load generator process: started, told to go, its JSON result read back."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    async def ready(self) -> None:
        line = await asyncio.to_thread(self._line)
        assert json.loads(line)["ready"], line

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited with {self.proc.wait()}")
        return line

    def tell(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    async def result(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(await asyncio.to_thread(self._line))
        await asyncio.to_thread(self.proc.wait)
        return result


# -- the crawler side -----------------------------------------------------------------------


class Stack:
    """simnode, its generator and a funded coin pool; crawlers over one SQLite store."""

    def __init__(self, workdir: Path, txs: int, blocks: int) -> None:
        self.workdir = workdir
        self.txs, self.blocks = txs, blocks

    async def __aenter__(self) -> Stack:
        from benchmarks.latency import make_coins
        from chaincrawler.chain.networks import REGTEST
        from chaincrawler.eventstore import open_store
        from chaincrawler.node.client import NodeClient
        from chaincrawler.testing.chaingen import ChainGenerator
        from chaincrawler.testing.nodeproc import NodeHandle

        self.node = NodeHandle("simnode", self.workdir / "node")
        self.node.start()
        self.rpc = NodeClient(self.node.url_with_auth, rest=True, timeout=600)
        await self.rpc.__aenter__()
        self.gen = ChainGenerator(self.rpc, seed="transport")
        await make_coins(self.gen, self.txs, 2 * self.blocks * 110_000)
        self.store = open_store(f"sqlite:///{self.workdir / 'events.db'}")
        await self.store.open(network="regtest", genesis_hash=REGTEST.genesis_hash)
        self.start_height = await self.rpc.get_block_count()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.store.close()
        await self.rpc.__aexit__(None, None, None)
        self.node.stop()

    def crawler(self, note: Callable[[object], None]) -> Any:
        from chaincrawler.chain.networks import REGTEST
        from chaincrawler.crawler.follow_zmq import ZmqFollower
        from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
        from chaincrawler.examples.balances import AddressBalances
        from chaincrawler.node.zmq import ZmqSubscriber

        options = CrawlerOptions(start_height=self.start_height)
        zmq = ZmqSubscriber.from_notifications(self._zmq, ("sequence",))
        crawler = Crawler(self.rpc, self.store, [AddressBalances()], REGTEST, options,
                          follower=ZmqFollower(self.rpc, zmq, options.poll_interval))
        crawler.subscribe(note)  # first: before the server's listeners
        return crawler

    async def prepare(self) -> None:
        self._zmq = await self.rpc.get_zmq_notifications()

    async def synced(self, crawler: Any, timeout: float = 120) -> None:
        async with asyncio.timeout(timeout):
            while crawler.tip is None or crawler.tip.hash != await self.rpc.get_best_block_hash():
                await asyncio.sleep(0.02)


async def tip_rounds(stack: Stack, rounds: int, blocks: int) -> dict[str, Any]:
    """Bare and served (10 stream clients) rounds alternating; per-block latencies."""
    from chaincrawler.crawler.pipeline import Committed
    from chaincrawler.transports.server import serve_crawler

    committed: dict[str, float] = {}
    arrived = asyncio.Event()

    def note(change: object) -> None:
        if isinstance(change, Committed):
            now = time.monotonic()
            committed.update((b.hash, now) for b in change.blocks)
            arrived.set()

    gen = stack.gen
    descriptor = await gen.descriptor()
    rng = random.Random(7)
    phases: dict[str, dict[str, Any]] = {
        p: {"latency": [], "cpu": 0.0, "blocks": 0, "client_cpu": 0.0, "client_wall": 0.0,
            "to_client": []} for p in ("bare", "served")}
    for r in range(2 * rounds):
        phase = "bare" if r % 2 == 0 else "served"
        acc = phases[phase]
        crawler = stack.crawler(note)
        async with _MaybeServed(serve_crawler, crawler, phase == "served") as server:
            run = asyncio.create_task(crawler.run())
            await stack.synced(crawler)
            worker = None
            if server is not None:
                worker = Worker({"kind": "stream", "decode": True, "clients": 10,
                                 "url": server.url.replace("http://", "ws://") + "/v1/stream"})
                await worker.ready()
            mined_blocks = []
            cpu0 = cpu_seconds()
            for _ in range(blocks):
                coins = sorted((c for c in gen.coins() if c.height is not None),
                               key=lambda c: -c.value)[:stack.txs]
                batch = [gen.create_transaction([c], gen.random_payments(2)) for c in coins]
                await gen.rpc.batch([("sendrawtransaction", [tx.hex()]) for tx in batch])
                for tx in batch:
                    gen._track(tx)  # the generator spends their change next round
                await asyncio.sleep(rng.uniform(0.1, 0.3))
                await stack.synced(crawler)
                arrived.clear()
                (mined,) = await gen.rpc.call("generatetodescriptor", 1, descriptor)
                t0 = time.monotonic()
                while mined not in committed:
                    await arrived.wait()
                    arrived.clear()
                acc["latency"].append(committed[mined] - t0)
                mined_blocks.append(mined)
                await gen.sync()
            acc["cpu"] += cpu_seconds() - cpu0
            acc["blocks"] += blocks
            if worker is not None:
                await asyncio.sleep(0.5)  # the last block's frames reach the clients
                worker.tell("stop")
                result = await worker.result()
                acc["client_cpu"] += result["cpu"]
                acc["client_wall"] += result["wall"]
                for client in result["clients"]:
                    acc["to_client"].extend(client["blocks"][h] - committed[h]
                                            for h in mined_blocks if h in client["blocks"])
            crawler.stop()
            await run
    return phases


class _MaybeServed:
    """``serve_crawler(crawler)`` when ``on``, else nothing (yields None)."""

    def __init__(self, serve: Any, crawler: Any, on: bool) -> None:
        self._cm = serve(crawler) if on else None

    async def __aenter__(self) -> Any:
        return None if self._cm is None else await self._cm.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        if self._cm is not None:
            await self._cm.__aexit__(*exc)


async def query_step(stack: Stack, seconds: float) -> dict[str, Any]:
    """``balance`` at 500/s and ``top`` at 1M addresses, on a crawler following the tip."""
    from chaincrawler.transports.server import serve_crawler

    crawler = stack.crawler(lambda note: None)
    model = next(m for m in crawler.models if m.name == "address_balances")
    async with serve_crawler(crawler) as server:
        run = asyncio.create_task(crawler.run())
        await stack.synced(crawler)
        rng = random.Random(3)
        async with crawler.committed():
            real = dict(model.balances), dict(model.tx_counts)
            model.balances.update((f"bcrt1qbench{i}", rng.randrange(10**12))
                                  for i in range(1_000_000))
            model.tx_counts.update((f"bcrt1qbench{i}", 1) for i in range(1_000_000))
        base = "/v1/models/address_balances/queries/"
        balance = {"name": "balance", "rate": 500, "keys": 1_000_000,
                   "path": base + "balance?address=bcrt1qbench{key}"}
        top = {"name": "top", "rate": 1, "path": base + "top?n=10"}
        out: dict[str, Any] = {}
        for name, streams, secs in (("balance", [balance], seconds),
                                    ("light", [{**balance, "rate": 50}], seconds),
                                    ("top", [top], min(seconds, 5)),
                                    ("mixed", [balance, top], seconds)):
            worker = Worker({"kind": "query", "host": "127.0.0.1", "port": server.port,
                             "connections": 64, "seconds": secs, "streams": streams})
            await worker.ready()
            cpu0, wall0 = cpu_seconds(), time.monotonic()
            worker.tell("go")
            result = await worker.result()
            result["server_cpu"] = cpu_seconds() - cpu0
            result["server_wall"] = time.monotonic() - wall0
            out[name] = result
        async with crawler.committed():
            model.balances.clear()
            model.balances.update(real[0])
            model.tx_counts.clear()
            model.tx_counts.update(real[1])
        crawler.stop()
        await run
    return out


async def fanout_step(stack: Stack, blocks: int, txs: int) -> dict[str, Any]:
    """100 clients; the crawler catches up ``blocks`` x ``txs`` mined before it started."""
    from chaincrawler.crawler.pipeline import Committed
    from chaincrawler.transports.server import serve_crawler

    first: list[float] = []
    last: list[float] = []

    def note(change: object) -> None:
        if isinstance(change, Committed):
            now = time.monotonic()
            if not first:
                first.append(now)
            last.append(now)

    crawler = stack.crawler(note)
    await stack.gen.fill(blocks, txs)
    async with serve_crawler(crawler) as server:
        url = server.url.replace("http://", "ws://") + "/v1/stream"
        workers = [Worker({"kind": "stream", "decode": False, "clients": 25, "url": url})
                   for _ in range(4)]
        for w in workers:
            await w.ready()
        cpu0 = cpu_seconds()
        run = asyncio.create_task(crawler.run())
        await stack.synced(crawler, timeout=600)
        target = await stack.store.max_position()
        for w in workers:
            w.tell(f"until {target}")
        results = [await w.result() for w in workers]
        server_cpu = cpu_seconds() - cpu0
        crawler.stop()
        await run
    clients = [c for r in results for c in r["clients"]]
    end = max(c["last"] for c in clients)
    return {"events": sum(c["events"] for c in clients), "seconds": end - first[0],
            "crawl_seconds": last[-1] - first[0], "clients": len(clients),
            "client_cpu": sum(r["cpu"] for r in results), "server_cpu": server_cpu,
            "per_client": [c["events"] for c in clients]}


async def run_all(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        async with Stack(Path(tmp), args.txs, args.rounds * args.blocks * 2 + 10) as stack:
            await stack.prepare()
            load0 = os.getloadavg()[0]
            out: dict[str, Any] = {}
            if args.only in (None, "query"):
                out["query"] = await query_step(stack, args.seconds)
            if args.only in (None, "tip"):
                out["tip"] = await tip_rounds(stack, args.rounds, args.blocks)
            if args.only in (None, "fanout"):
                out["fanout"] = await fanout_step(stack, args.fanout_blocks, args.fanout_txs)
            out["load"] = (load0, os.getloadavg()[0])
    return out


# -- the report -----------------------------------------------------------------------------


def _ms(v: float) -> str:
    return f"{v * 1000:.1f}"


def _share(cpu: float, wall: float) -> str:
    return f"{100 * cpu / wall:.0f}%" if wall > 0 else "-"


def figures(raw: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, figure, load generators' CPU) rows of one run (of the steps it ran)."""
    rows = []
    for name, label in (("balance", "`balance` at 500 req/s, 1M addresses"),
                        ("light", "`balance` at 50 req/s (what one request costs)"),
                        ("top", "`top` (n=10) at 1 req/s, 1M addresses"),
                        ("mixed", "`balance` at 500 req/s + `top` at 1 req/s")):
        if "query" not in raw or name not in raw["query"]:
            continue
        q = raw["query"][name]
        lat = q["latencies"]
        first = lat[name if name in lat else "balance"]
        fig = f"p50 {_ms(percentile(first, 0.5))} ms, p99 {_ms(percentile(first, 0.99))} ms"
        if name == "mixed":
            t = lat["top"]
            fig += f" (`top` p50 {_ms(percentile(t, 0.5))} ms)"
        if q["errors"]:
            fig += f", {q['errors']} errors"
        requests = sum(len(v) for v in lat.values())
        fig += (f"; server CPU {_share(q['server_cpu'], q['server_wall'])}, "
                f"{_ms(q['server_cpu'] / requests)} ms/request")
        rows.append((label, fig, _share(q["cpu"], q["wall"])))
    if "tip" in raw:
        rows += _tip_figures(raw["tip"])
    if "fanout" in raw:
        f = raw["fanout"]
        rows.append((
            f"fan-out to {f['clients']} clients, every model",
            f"{f['events'] / f['seconds']:,.0f} events/s delivered ({f['events']:,} events in "
            f"{f['seconds']:.1f} s; the crawler's commits spanned {f['crawl_seconds']:.1f} s); "
            "server CPU "
            f"{_share(f['server_cpu'], f['seconds'])}",
            _share(f["client_cpu"], f["seconds"])))
    return rows


def _tip_figures(tip: dict[str, Any]) -> list[tuple[str, str, str]]:
    bare, served = tip["bare"], tip["served"]
    lb, ls, tc = bare["latency"], served["latency"], served["to_client"]
    clients = _share(served["client_cpu"], served["client_wall"])
    p50b, p50s = percentile(lb, 0.5), percentile(ls, 0.5)
    meanb, means = statistics.fmean(lb), statistics.fmean(ls)
    cpu_b, cpu_s = bare["cpu"] / bare["blocks"], served["cpu"] / served["blocks"]
    return [
        ("block mined -> committed, bare crawler",
         f"p50 {_ms(p50b)} ms, mean {_ms(meanb)} ms; crawler CPU {_ms(cpu_b)} ms/block",
         "-"),
        ("same, served with 10 stream clients",
         f"p50 {_ms(p50s)} ms ({p50s / p50b - 1:+.0%}), mean {_ms(means)} ms "
         f"({means / meanb - 1:+.0%}); crawler CPU {_ms(cpu_s)} ms/block "
         f"({cpu_s / cpu_b - 1:+.0%})", clients),
        ("commit -> stream client (10 clients, each block's `BlockConnected`)",
         f"p50 {_ms(percentile(tc, 0.5))} ms, p99 {_ms(percentile(tc, 0.99))} ms", clients),
    ]


def report(args: argparse.Namespace, new: dict[str, Any], old: dict[str, Any] | None) -> str:
    rows = figures(new)
    before = figures(old) if old is not None else None

    def cell(row: tuple[str, str, str]) -> str:
        return row[1] + ("" if row[2] == "-" else f"; load generators {row[2]}")

    cmd = "python benchmarks/transport.py" + (" --quick" if args.quick else "") + (
        " --baseline DIR" if old is not None else "")
    head = ["| what | " + ("before | " if before else "") + "now |",
            "|---|" + ("---|" if before else "") + "---|"]
    body = []
    for i, row in enumerate(rows):
        cells = [row[0]] + ([cell(before[i])] if before else []) + [cell(row)]
        body.append("| " + " | ".join(cells) + " |")
    loads = [new["load"]] + ([old["load"]] if old else [])
    return "\n".join([
        "# Transports: query latency, commit-to-client latency, fan-out, serving cost",
        "",
        f"`{cmd}`: crawler + uvicorn in one process on simnode (ZMQ), SQLite store, example "
        f"`AddressBalances` model; load generators in separate processes on loopback. Tip "
        f"rounds: {args.rounds} bare and {args.rounds} served, {args.blocks} blocks of "
        f"{args.txs} transactions each; fan-out: a chain of {args.fanout_blocks} x "
        f"{args.fanout_txs} transactions caught up by the crawler. CPU shares are of one "
        "core over the measured window (200% = both cores); the load generators' is the sum "
        "of their processes.",
        "",
        *head, *body,
        "",
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores "
        "shared with 7 other agents' work: load average (1 min) "
        + ", ".join(f"{a:.1f} -> {b:.1f}" for a, b in loads)
        + " over the runs. Figures are noisy; before and after ran in one sitting.",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", help="older code to measure first (its root dir)")
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test)")
    parser.add_argument("--only", choices=("query", "tip", "fanout"),
                        help="run one step and print its raw figures (for profiling)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--txs", type=int, default=100)
    parser.add_argument("--fanout-blocks", type=int, default=10)
    parser.add_argument("--fanout-txs", type=int, default=1000)
    args = parser.parse_args()
    if args.worker:
        worker_main(json.loads(args.worker))
        return
    if args.quick:
        args.seconds, args.rounds, args.blocks = 3.0, 1, 5
        args.fanout_blocks, args.fanout_txs = 3, 300
    sys.path.insert(0, str(HERE.parent))
    if args.code:
        sys.path.insert(0, str(Path(args.code).resolve()))
    if args.json:
        Path(args.json).write_text(json.dumps(asyncio.run(run_all(args))))
        return
    old = None
    if args.baseline:
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            flags = [a for a in sys.argv[1:] if a not in ("--baseline", args.baseline)]
            subprocess.run([sys.executable, __file__, *flags, "--code", args.baseline,
                            "--json", f.name], check=True)
            old = json.loads(Path(f.name).read_text())
    new = asyncio.run(run_all(args))
    raw = Path(tempfile.gettempdir()) / "chaincrawler-transport.json"
    raw.write_text(json.dumps({"new": new, "old": old}))
    print(f"raw figures: {raw}")
    if args.only:
        for row in figures(new):
            print(" | ".join(row))
        return
    text = report(args, new, old)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
