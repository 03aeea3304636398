"""BlockSource: order, a node whose chain shrinks mid-fetch, and the byte bound."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block, BlockHeader, OutPoint, Transaction, TxIn, TxOut
from chaincrawler.crawler.errors import RPCError
from chaincrawler.crawler.rpc import BatchItem
from chaincrawler.crawler.source import BlockSource


def make_chain(n: int) -> list[Block]:
    blocks, prev = [], b"\x00" * 32
    for h in range(n):
        coinbase = Transaction([TxIn(OutPoint(b"\x00" * 32, 0xFFFFFFFF), bytes([1, h % 256]))],
                               [TxOut(50, b"\x51")], network=REGTEST)
        block = Block(BlockHeader(1, prev, coinbase.txid_bytes, h, 0x207FFFFF, 0), [coinbase],
                      REGTEST, h)
        blocks.append(block)
        prev = block.hash_bytes
    return blocks


class FakeNode:
    """Serves ``chain``; after ``shrink_after`` hash lookups its chain has ``shrunk_to`` blocks."""

    def __init__(self, chain: list[Block], shrink_after: int | None = None,
                 shrunk_to: int = 0) -> None:
        self.chain = chain
        self.lookups = 0
        self.shrink_after = shrink_after
        self.shrunk_to = shrunk_to
        self.max_outstanding = 0

    def height(self) -> int:
        if self.shrink_after is not None and self.lookups > self.shrink_after:
            return self.shrunk_to - 1
        return len(self.chain) - 1

    async def batch_results(self, calls: Sequence[tuple[str, list[Any]]]) -> list[BatchItem]:
        self.lookups += 1
        out = []
        for _, (h,) in calls:
            if h > self.height():
                out.append(BatchItem(error=RPCError(-8, "Block height out of range",
                                                    "getblockhash", "fake")))
            else:
                out.append(BatchItem(result=self.chain[h].hash))
        return out

    async def get_raw_blocks(self, hashes: Sequence[str]) -> list[bytes]:
        by_hash = {b.hash: b for b in self.chain}
        return [by_hash[h].serialize() for h in hashes]


async def test_blocks_come_in_height_order_with_their_hashes() -> None:
    chain = make_chain(40)
    source = BlockSource(FakeNode(chain), REGTEST, chunk_blocks=3, concurrency=4)  # type: ignore[arg-type]
    got = [f async for f in source.blocks(5, 39)]
    assert [f.height for f in got] == list(range(5, 40))
    assert [f.hash for f in got] == [b.hash for b in chain[5:]]
    assert all(f.block.height == f.height for f in got)


async def test_a_chain_that_shrinks_mid_fetch_ends_the_stream_early() -> None:
    chain = make_chain(40)
    node = FakeNode(chain, shrink_after=2, shrunk_to=12)
    source = BlockSource(node, REGTEST, chunk_blocks=4, concurrency=1)  # type: ignore[arg-type]
    got = [f.height async for f in source.blocks(0, 39)]
    assert got == list(range(len(got)))  # a gap-free prefix, no error
    assert 8 <= len(got) <= 12


async def test_prefetch_stops_at_the_byte_bound() -> None:
    chain = make_chain(60)
    size = len(chain[0].serialize())
    source = BlockSource(FakeNode(chain), REGTEST, chunk_blocks=2, concurrency=2,  # type: ignore[arg-type]
                         max_bytes=4 * size)
    seen_max = 0
    async for _ in source.blocks(0, 59):
        seen_max = max(seen_max, source._buffered)
    # fetched-but-unconsumed bytes stay within the bound plus the fetches in flight
    assert seen_max <= 4 * size + 2 * 2 * size
