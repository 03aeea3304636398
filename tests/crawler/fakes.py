"""A fake node serving a chain made with the chain layer, for crawler unit tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block, BlockHeader, OutPoint, Transaction, TxIn, TxOut


def make_chain(n: int, prev: bytes = b"\x00" * 32, first: int = 0) -> list[Block]:
    """``n`` linked blocks from height ``first`` on top of ``prev`` (no proof of work)."""
    blocks = []
    for h in range(first, first + n):
        coinbase = Transaction([TxIn(OutPoint(b"\x00" * 32, 0xFFFFFFFF), bytes([1, h % 256]))],
                               [TxOut(50, b"\x51", REGTEST)], network=REGTEST)
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
        self.nodes = ["http://127.0.0.1:1"]
        self.known = {b.hash: b for b in chain}

    def height(self) -> int:
        if self.shrink_after is not None and self.lookups > self.shrink_after:
            return self.shrunk_to - 1
        return len(self.chain) - 1

    async def get_block_hashes(self, heights: Iterable[int]) -> list[str | None]:
        self.lookups += 1
        tip = self.height()
        return [self.chain[h].hash if h <= tip else None for h in heights]

    async def get_raw_blocks(self, hashes: Sequence[str]) -> list[bytes]:
        return [self.known[h].serialize() for h in hashes]

    async def get_block_count(self) -> int:
        return self.height()

    async def get_block_hash(self, height: int) -> str:
        return self.chain[height].hash

    async def get_best_block_hash(self) -> str:
        return self.chain[self.height()].hash

    async def get_block_header(self, block_hash: str) -> dict[str, Any]:
        return {"hash": block_hash, "previousblockhash": self.known[block_hash].prev_hash}

    async def get_blockchain_info(self) -> dict[str, Any]:
        return {"chain": "fake", "pruned": False}

    async def serves_spent_txouts(self) -> bool:
        return False
