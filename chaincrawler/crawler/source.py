"""BlockSource: fetch raw blocks ahead of the pipeline, in height order, bounded in bytes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from chaincrawler.chain.networks import Network
from chaincrawler.chain.types import Block
from chaincrawler.crawler.errors import InconsistentNodeError
from chaincrawler.errors import ChainDataError
from chaincrawler.node.client import NodeClient

_Chunk = tuple[int, int, list[tuple[str, bytes]]]


@dataclass(frozen=True, slots=True)
class FetchedBlock:
    """A block as fetched: its height, the hash the node gave for it, and the parsed block."""

    height: int
    hash: str
    block: Block
    size: int


class BlockSource:
    """Prefetches blocks ``start..stop`` (inclusive) from the node, in order.

    Chunks of ``chunk_blocks`` heights are fetched by up to ``concurrency`` parallel
    tasks (one batched ``getblockhash`` plus batched ``getblock 0`` or REST per chunk);
    fetching pauses while fetched-but-unconsumed blocks hold more than ``max_bytes``.
    Blocks are parsed as they are consumed. However the iteration ends (done, closed
    early, or an error), every prefetch task is cancelled and awaited.
    """

    def __init__(
        self,
        node: NodeClient,
        network: Network,
        *,
        chunk_blocks: int = 8,
        concurrency: int = 4,
        max_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        self._node = node
        self._network = network
        self._chunk = max(1, chunk_blocks)
        self._concurrency = max(1, concurrency)
        self._max_bytes = max_bytes
        self._buffered = 0
        self._space = asyncio.Condition()

    async def blocks(self, start: int, stop: int) -> AsyncIterator[FetchedBlock]:
        """Yield blocks ``start..stop`` in height order; stops fetching when closed early."""
        chunks: asyncio.Queue[asyncio.Task[_Chunk] | None] = asyncio.Queue(
            self._concurrency
        )
        unconsumed: set[asyncio.Task[_Chunk]] = set()  # queued, or held by the producer
        producer = asyncio.create_task(self._produce(start, stop, chunks, unconsumed))
        try:
            height = start
            while True:
                task = await chunks.get()
                if task is None:
                    break
                unconsumed.discard(task)
                first, last, fetched = await task
                for block_hash, raw in fetched:
                    size = len(raw)
                    block = self._parse(raw, block_hash, height)
                    await self._release(size)
                    yield FetchedBlock(height, block_hash, block, size)
                    height += 1
                if len(fetched) < last - first + 1:
                    return  # the node's chain got shorter meanwhile: the caller re-checks
            await producer
        finally:
            producer.cancel()
            for pending in unconsumed:
                pending.cancel()
            # Retrieve every outcome: a failed prefetch's error is moot now, and an
            # unretrieved one would be logged as "Task exception was never retrieved".
            await asyncio.gather(producer, *unconsumed, return_exceptions=True)
            self._buffered = 0

    def _parse(self, raw: bytes, block_hash: str, height: int) -> Block:
        """Parse the block the node sent for ``height`` and check it is the one asked for."""
        try:
            block = Block.from_bytes(raw, network=self._network, height=height)
        except ChainDataError as exc:
            raise InconsistentNodeError(
                self._node.nodes, f"block {block_hash} (height {height}) does not parse: {exc}"
            ) from exc
        self._check(block, block_hash, height)
        return block

    def _check(self, block: Block, block_hash: str, height: int) -> None:
        """The block must be the one asked for, with the transactions its header commits to."""
        if block.hash != block_hash:
            raise InconsistentNodeError(
                self._node.nodes,
                f"asked for block {block_hash} (height {height}), got block {block.hash}",
            )
        if not block.check_merkle_root():
            raise InconsistentNodeError(
                self._node.nodes,
                f"block {block_hash} (height {height}): its transactions do not match the "
                "merkle root of its header",
            )

    async def _produce(
        self,
        start: int,
        stop: int,
        chunks: asyncio.Queue[asyncio.Task[_Chunk] | None],
        unconsumed: set[asyncio.Task[_Chunk]],
    ) -> None:
        for first in range(start, stop + 1, self._chunk):
            last = min(stop, first + self._chunk - 1)
            async with self._space:
                await self._space.wait_for(lambda: self._buffered < self._max_bytes)
            task = asyncio.create_task(self._fetch(first, last))
            unconsumed.add(task)
            await chunks.put(task)
        await chunks.put(None)

    async def _fetch(self, first: int, last: int) -> _Chunk:
        """Blocks ``first..last``; fewer (a prefix) if the node's chain is shorter now."""
        hashes: list[str] = []
        for block_hash in await self._node.get_block_hashes(range(first, last + 1)):
            if block_hash is None:
                break
            hashes.append(block_hash)
        raws = await self._node.get_raw_blocks(hashes) if hashes else []
        async with self._space:
            self._buffered += sum(len(r) for r in raws)
        return first, last, list(zip(hashes, raws, strict=True))

    async def _release(self, size: int) -> None:
        async with self._space:
            self._buffered -= size
            self._space.notify_all()
