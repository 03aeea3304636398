"""Why the node client is async aiohttp and not python-bitcoinrpc in worker threads.

Run: ``pip install -e '.[bench]' && python benchmarks/rpc_client.py``. Against simnode
(a subprocess): fetch the hashes and raw blocks of the last N blocks (what the crawler's
block source does), with python-bitcoinrpc's ``AuthServiceProxy`` one call at a time in
4 worker threads, and with ``NodeClient`` batches. Also shows that python-bitcoinrpc's
``batch_`` fails against a node that answers as Bitcoin Core >= 28 does.
Writes ``benchmarks/results/rpc_client.md``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bitcoinrpc.authproxy import AuthServiceProxy

from chaincrawler.node.client import NodeClient
from chaincrawler.testing.chaingen import ChainGenerator
from chaincrawler.testing.nodeproc import launch

RESULTS = Path(__file__).parent / "results" / "rpc_client.md"
BLOCKS = 300


def with_threads(url: str, heights: range) -> float:
    local = __import__("threading").local()

    def fetch(h: int) -> str:
        if not hasattr(local, "proxy"):
            local.proxy = AuthServiceProxy(url, timeout=60)
        block_hash = local.proxy.getblockhash(h)
        return str(local.proxy.getblock(block_hash, 0))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        raws = list(pool.map(fetch, heights))
    assert len(raws) == len(heights)
    return time.perf_counter() - t0


async def with_batches(url: str, heights: range) -> float:
    async with NodeClient(url) as client:
        t0 = time.perf_counter()
        hashes = await client.get_block_hashes(heights)
        raws = await client.get_raw_blocks(hashes)
        assert len(raws) == len(heights)
        return time.perf_counter() - t0


def bitcoinrpc_batch_error(url: str) -> str:
    try:
        AuthServiceProxy(url).batch_([["getblockcount"], ["getbestblockhash"]])
    except Exception as exc:  # what a user of python-bitcoinrpc would hit
        return f"{type(exc).__name__}: {exc}"
    return "no error"


async def make_chain(url: str) -> None:
    async with NodeClient(url) as client:
        gen = ChainGenerator(client, seed="rpc")
        await gen.fill(BLOCKS - 101 if BLOCKS > 101 else 1, 20)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        node = launch(Path(tmp))
        try:
            url = node.url_with_auth
            asyncio.run(make_chain(url))
            tip = node.call("getblockcount")
            heights = range(tip - BLOCKS + 1, tip + 1)
            threads = min(with_threads(url, heights) for _ in range(3))
            batches = min(asyncio.run(with_batches(url, heights)) for _ in range(3))
            error = bitcoinrpc_batch_error(url)
        finally:
            node.stop()
    text = "\n".join([
        "# Node client benchmark (`python benchmarks/rpc_client.py`)",
        "",
        f"Hashes and raw blocks (`getblock <hash> 0`) of {BLOCKS} blocks of 20 transactions "
        "from simnode (a subprocess), best of 3.",
        "",
        "| client | seconds | blocks/s |",
        "| --- | ---: | ---: |",
        f"| python-bitcoinrpc, 4 worker threads, one call at a time | {threads:.2f} | "
        f"{BLOCKS / threads:,.0f} |",
        f"| chaincrawler NodeClient (aiohttp), JSON-RPC batches | {batches:.2f} | "
        f"{BLOCKS / batches:,.0f} |",
        "",
        f"python-bitcoinrpc `batch_` against a Core >= 28 style node: `{error}`",
        "",
    ])
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
