"""Derive what a block's models read first -- txids, the merkle check, output addresses --
in a worker process, off the models' critical path.

While the crawler runs the models on one block, :class:`BlockDeriver` works on the next
ones in a process of its own (the second core): it is handed each raw block as it is
fetched, parses it, and sends back the txids (32 bytes each), whether the header's merkle
root commits to them, and the address of every output. The crawler then sets these on the
block it parses itself (:func:`~chaincrawler.chain.types.preset_derived`): the models see
the same objects, with nothing left to hash or encode.

The worker computes from the very bytes the crawler parses, so its results need no second
check. A worker that dies is a :class:`DeriverError`: the crawl stops, it never goes on
without the block's addresses.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from chaincrawler.chain.networks import Network, get_network
from chaincrawler.chain.types import Block, Derived, preset_derived
from chaincrawler.crawler.errors import CrawlerError


class DeriverError(CrawlerError):
    """The worker process deriving txids and addresses failed or died."""


def derive(raw: bytes, network_name: str) -> Derived:
    """What the worker sends back for the serialised block ``raw`` (run in the worker)."""
    block = Block.from_bytes(raw, get_network(network_name))
    txs = block.transactions
    addresses = [out.address for tx in txs for out in tx.outputs]
    return b"".join(tx.txid_bytes for tx in txs), block.check_merkle_root(), addresses


class BlockDeriver:
    """A worker process deriving txids, the merkle check and output addresses of raw blocks.

    :meth:`submit` each raw block when fetched, :meth:`apply` the result to the block
    parsed from the same bytes, :meth:`close` when done (pending work is dropped).
    """

    def __init__(self, network: Network) -> None:
        self._network = network
        # spawn, not fork: the crawler's process has threads (the store's, the resolver's)
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self._submitted: set[asyncio.Future[Derived]] = set()

    def submit(self, raw: bytes) -> asyncio.Future[Derived]:
        """Start on ``raw``; the future's result goes to :meth:`apply`."""
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._pool, derive, raw, self._network.name)
        except BrokenProcessPool as exc:
            raise DeriverError(f"the address worker process died: {exc}") from exc
        self._submitted.add(future)
        future.add_done_callback(self._submitted.discard)
        return future

    async def apply(self, block: Block, derived: asyncio.Future[Derived]) -> bool:
        """Set the derived txids and addresses on ``block``; the merkle check's result."""
        try:
            txids, merkle_ok, addresses = await derived
        except BrokenProcessPool as exc:
            raise DeriverError(
                f"the address worker process died deriving block {block.hash}: {exc}"
            ) from exc
        except Exception as exc:
            raise DeriverError(f"the address worker failed on block {block.hash}: {exc!r}") from exc
        preset_derived(block, (txids, merkle_ok, addresses))
        return merkle_ok

    async def close(self) -> None:
        """Stop the worker, dropping work not started; waits for it to exit."""
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)
        # Retrieve what was never applied (a closed-early crawl), so no error is logged.
        await asyncio.gather(*self._submitted, return_exceptions=True)
