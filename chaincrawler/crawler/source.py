"""BlockSource: fetch raw blocks ahead of the pipeline, in height order, bounded in bytes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from chaincrawler.chain.networks import Network
from chaincrawler.chain.types import Block, Derived
from chaincrawler.crawler.derive import BlockDeriver
from chaincrawler.crawler.errors import CrawlerError, InconsistentNodeError
from chaincrawler.errors import ChainDataError
from chaincrawler.node.client import NodeClient
from chaincrawler.node.errors import RESTError, RPCError, RpcErrorCode

# (hash, raw block, raw spent outputs or None, what the worker derives from it or None)
_Fetched = tuple[str, bytes, bytes | None, "asyncio.Future[Derived] | None"]
_Chunk = tuple[int, int, list[_Fetched]]


class PrunedBelowStartError(CrawlerError):
    """The crawl would start below the lowest block a pruned node still has."""

    def __init__(self, nodes: list[str], start: int, prune_height: int) -> None:
        self.start = start
        self.prune_height = prune_height
        super().__init__(
            f"node {', '.join(nodes)} is pruned: it keeps blocks from height {prune_height} "
            f"on, but the crawl needs them from height {start}. Start at height "
            f"{prune_height} or later (crawler.start_height, with an empty store), or use a "
            f"node that is not pruned"
        )


class BlockUnavailableError(CrawlerError):
    """The node does not have a block, or its undo data, that the crawl needs (pruned)."""

    def __init__(self, nodes: list[str], height: int, block_hash: str, cause: str) -> None:
        self.height = height
        self.block_hash = block_hash
        super().__init__(
            f"node {', '.join(nodes)} cannot serve block {block_hash} (height {height}) or "
            f"its undo data: {cause}. A pruned node keeps recent blocks only: crawl from an "
            f"unpruned node or keep the crawler ahead of pruning; nothing of it was committed"
        )


@dataclass(frozen=True, slots=True)
class FetchedBlock:
    """A block as fetched: its height, the hash the node gave for it, the parsed block, its
    size in bytes as fetched, and (when fetched) the outputs its transactions spend: the
    REST ``spenttxouts`` body, which :func:`~chaincrawler.node.rest.parse_spent_txouts`
    reads."""

    height: int
    hash: str
    block: Block
    size: int
    spent: bytes | None = None


class BlockSource:
    """Prefetches blocks ``start..stop`` (inclusive) from the node, in order.

    Chunks of ``chunk_blocks`` heights are fetched by up to ``concurrency`` parallel
    tasks (one batched ``getblockhash`` plus batched ``getblock 0`` or REST per chunk).
    With ``spent_outputs`` and a node that serves REST ``spenttxouts``, each block's
    spent outputs are fetched alongside it. Fetching pauses while fetched-but-unconsumed
    data holds more than ``max_bytes``. Blocks are parsed as they are consumed. With
    ``derive_in_worker``, a range of at least ``derive_min_blocks`` blocks (catching up)
    has its txids, merkle check and output addresses derived in a worker process as the
    blocks arrive (:class:`~chaincrawler.crawler.derive.BlockDeriver`); otherwise inline,
    when first read (the default: on 2 cores, shared with the node, the worker's extra CPU
    costs about as much time as it takes off the models' path; and a worker process is
    spawned, so it re-imports the main module, which must guard what it runs with
    ``if __name__ == "__main__"``). On a
    pruned node a start below its prune height is refused before anything is fetched,
    and a block or undo data the node lacks is a :class:`BlockUnavailableError`.
    However the iteration ends (done, closed early, or an error), every prefetch task is
    cancelled and awaited.
    """

    def __init__(
        self,
        node: NodeClient,
        network: Network,
        *,
        chunk_blocks: int = 8,
        concurrency: int = 4,
        max_bytes: int = 256 * 1024 * 1024,
        spent_outputs: bool = False,
        derive_in_worker: bool = False,
        derive_min_blocks: int = 16,
    ) -> None:
        self._node = node
        self._derive_min = derive_min_blocks if derive_in_worker else None
        self._deriver: BlockDeriver | None = None
        self._want_spent = spent_outputs
        self._with_spent = False  # decided when iteration starts
        self._network = network
        self._chunk = max(1, chunk_blocks)
        self._concurrency = max(1, concurrency)
        self._max_bytes = max_bytes
        self._buffered = 0
        self._space = asyncio.Condition()

    async def blocks(self, start: int, stop: int) -> AsyncIterator[FetchedBlock]:
        """Yield blocks ``start..stop`` in height order; stops fetching when closed early."""
        await self._check_not_pruned(start)
        self._with_spent = self._want_spent and await self._node.serves_spent_txouts()
        if self._derive_min is not None and stop - start + 1 >= self._derive_min:
            self._deriver = BlockDeriver(self._network)
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
                for block_hash, raw, raw_spent, derived in fetched:
                    size = len(raw) + (len(raw_spent) if raw_spent is not None else 0)
                    block = await self._parse(raw, block_hash, height, derived)
                    await self._release(size)
                    yield FetchedBlock(height, block_hash, block, size, raw_spent)
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
            if self._deriver is not None:
                await self._deriver.close()
                self._deriver = None

    async def _parse(
        self, raw: bytes, block_hash: str, height: int, derived: asyncio.Future[Derived] | None
    ) -> Block:
        """Parse the block the node sent for ``height`` and check it is the one asked for."""
        try:
            block = Block.from_bytes(raw, network=self._network, height=height)
        except ChainDataError as exc:
            raise InconsistentNodeError(
                self._node.nodes, f"block {block_hash} (height {height}) does not parse: {exc}"
            ) from exc
        if derived is not None and self._deriver is not None:
            merkle_ok = await self._deriver.apply(block, derived)
        else:
            merkle_ok = block.check_merkle_root()
        self._check(block, block_hash, height, merkle_ok)
        return block

    async def _check_not_pruned(self, start: int) -> None:
        info = await self._node.get_blockchain_info()
        if info.get("pruned"):
            prune_height = int(info.get("pruneheight", 0))
            if start < prune_height:
                raise PrunedBelowStartError(self._node.nodes, start, prune_height)

    def _check(self, block: Block, block_hash: str, height: int, merkle_ok: bool) -> None:
        """The block must be the one asked for, with the transactions its header commits to."""
        if block.hash != block_hash:
            raise InconsistentNodeError(
                self._node.nodes,
                f"asked for block {block_hash} (height {height}), got block {block.hash}",
            )
        if not merkle_ok:
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
        raws: list[bytes] = []
        spent: Sequence[bytes | None] = [None] * len(hashes)
        try:
            if hashes and self._with_spent:
                raws, spent = await asyncio.gather(
                    self._node.get_raw_blocks(hashes), self._node.get_raw_spent_txouts(hashes)
                )
            elif hashes:
                raws = await self._node.get_raw_blocks(hashes)
        except (RESTError, RPCError) as exc:
            missing = self._unavailable(exc, first, hashes)
            if missing is None:
                raise
            raise missing from exc
        async with self._space:
            self._buffered += sum(len(r) for r in raws) + sum(len(s or b"") for s in spent)
        deriver = self._deriver
        derived = [deriver.submit(r) if deriver else None for r in raws]
        return first, last, list(zip(hashes, raws, spent, derived, strict=True))

    def _unavailable(
        self, exc: RESTError | RPCError, first: int, hashes: Sequence[str]
    ) -> BlockUnavailableError | None:
        """The error a refusal to serve one of ``hashes`` stands for, if it is one: a REST
        404 with Core's reason (``not available (pruned data)``, ``undo not available``)
        or RPC -1 ``Block not available (pruned data)`` / ``Block not found on disk``."""
        if isinstance(exc, RESTError):
            if exc.status != 404 or not exc.body.strip():
                return None  # an empty 404 is no REST handler at all: the -rest hint stands
            position = next((i for i, h in enumerate(hashes) if h in exc.path), None)
            cause = exc.body.strip()
        else:
            message = exc.rpc_message
            if exc.code != RpcErrorCode.MISC_ERROR or not (
                "not available" in message or "not found on disk" in message
            ):
                return None
            position, cause = exc.index, message
        if position is None:
            return None
        return BlockUnavailableError(self._node.nodes, first + position, hashes[position], cause)

    async def _release(self, size: int) -> None:
        async with self._space:
            self._buffered -= size
            self._space.notify_all()
