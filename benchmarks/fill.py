"""How fast the chain generator fills a regtest chain: ``fill(100 blocks, 2,000 txs each)``.

Run: ``python benchmarks/fill.py [blocks] [txs_per_block]``. The node is simnode in a
subprocess (or bitcoind when ``BITCOIND`` is set), started on a fresh datadir. Prints
the timings and writes ``benchmarks/results/fill.md``. Target on simnode: under 60 s.
"""

from __future__ import annotations

import asyncio
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chaincrawler.node.client import NodeClient, RetryPolicy
from chaincrawler.testing.chaingen import ChainGenerator
from chaincrawler.testing.nodeproc import NodeHandle, launch

RESULTS = Path(__file__).parent / "results" / "fill.md"


async def run(node: NodeHandle, blocks: int, txs_per_block: int) -> dict[str, float]:
    retry = RetryPolicy(attempts=1)
    async with NodeClient(node.url_with_auth, retry=retry, timeout=600) as client:
        gen = ChainGenerator(client, seed="bench")
        t0 = time.perf_counter()
        hashes = await gen.fill(blocks, txs_per_block)
        total = time.perf_counter() - t0
        count = await client.get_block_count()
        last = await client.get_block_verbose(hashes[-1])
    return {"seconds": total, "height": count, "last_block_txs": last["nTx"]}


def main() -> None:
    blocks = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    txs_per_block = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    with tempfile.TemporaryDirectory(prefix="chaincrawler-fill-") as tmp:
        node = launch(Path(tmp))
        try:
            result = asyncio.run(run(node, blocks, txs_per_block))
        finally:
            node.stop()
    seconds = result["seconds"]
    n_txs = blocks * txs_per_block
    lines = [
        "# Fill benchmark (`python benchmarks/fill.py`)",
        "",
        f"`ChainGenerator.fill({blocks} blocks, {txs_per_block:,} txs per block)` against "
        f"{node.kind} (a subprocess, fresh datadir) on {platform.machine()} Python "
        f"{platform.python_version()}. Includes funding (mining and maturing coinbases), "
        "the fan-out transactions, building, sending (JSON-RPC batches) and mining every "
        "block, and the generator following each block.",
        "",
        "| what | value |",
        "| --- | ---: |",
        f"| seconds | {seconds:.1f} |",
        f"| transactions | {n_txs:,} |",
        f"| transactions/s | {n_txs / seconds:,.0f} |",
        f"| final height | {int(result['height'])} |",
        f"| transactions in the last block | {int(result['last_block_txs'])} |",
        "",
        "Target on simnode: under 60 s.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
