"""Txids and addresses derived in a worker process: the same as inline, and a dead worker
stops the crawl."""

from __future__ import annotations

import os
import random
import signal

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.script import address_from_script
from chaincrawler.chain.types import Block, OutPoint, Transaction, TxIn, TxOut
from chaincrawler.crawler.derive import BlockDeriver, DeriverError
from chaincrawler.crawler.errors import InconsistentNodeError
from chaincrawler.crawler.source import BlockSource
from chaincrawler.testing.blocks import block
from tests.crawler.fakes import FakeNode
from tests.crawler.test_source import LyingNode

_PREFIXES = [b"\x00\x14", b"\x51\x20", b"\x00\x20", b"\xa9\x14"]


def _script(rng: random.Random) -> bytes:
    prefix = rng.choice(_PREFIXES)
    if prefix == b"\xa9\x14":
        return prefix + rng.randbytes(20) + b"\x87"
    return prefix + rng.randbytes(20 if prefix == b"\x00\x14" else 32)


def _chain(n: int) -> list[Block]:
    """``n`` linked blocks of a few transactions paying assorted scripts (and OP_RETURN)."""
    rng = random.Random(13)
    blocks: list[Block] = []
    prev = b"\x00" * 32
    for height in range(n):
        txs = [
            Transaction(
                [TxIn(OutPoint(rng.randbytes(32), 0), b"", 0xFFFFFFFD, [b"\x51"])],
                [TxOut(1000, _script(rng), REGTEST) for _ in range(3)]
                + [TxOut(0, b"\x6a\x02hi", REGTEST)],
                network=REGTEST,
            )
            for _ in range(3)
        ]
        blocks.append(block(height, txs, prev))
        prev = blocks[-1].hash_bytes
    return blocks


async def test_a_worker_derives_the_txids_and_addresses_inline_parsing_would() -> None:
    chain = _chain(20)
    source = BlockSource(FakeNode(chain), REGTEST, chunk_blocks=3,  # type: ignore[arg-type]
                         derive_in_worker=True, derive_min_blocks=4)
    got = [f.block async for f in source.blocks(0, 19)]
    assert [b.hash for b in got] == [b.hash for b in chain]
    for parsed, made in zip(got, chain, strict=True):
        assert [tx.txid for tx in parsed.transactions] == [tx.txid for tx in made.transactions]
        assert [o.address for tx in parsed.transactions for o in tx.outputs] == [
            address_from_script(o.script_pubkey, REGTEST)
            for tx in made.transactions
            for o in tx.outputs
        ]


async def test_a_worker_still_refuses_transactions_not_matching_the_merkle_root() -> None:
    chain = _chain(10)
    raw = bytearray(chain[3].serialize())
    script = chain[3].transactions[1].outputs[0].script_pubkey
    raw[raw.find(script) + 5] ^= 0xFF  # an output's script: the header no longer commits to it
    source = BlockSource(LyingNode(chain, 3, bytes(raw)), REGTEST,  # type: ignore[arg-type]
                         derive_in_worker=True, derive_min_blocks=4)
    heights = []
    with pytest.raises(InconsistentNodeError, match="merkle root"):
        async for fetched in source.blocks(0, 9):
            heights.append(fetched.height)
    assert heights == [0, 1, 2]


async def test_a_worker_that_dies_is_an_error_not_a_block_without_addresses() -> None:
    chain = _chain(2)
    deriver = BlockDeriver(REGTEST)
    try:
        pending = deriver.submit(chain[1].serialize())  # starts the worker process
        for pid in list(deriver._pool._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
        parsed = Block.from_bytes(chain[1].serialize(), REGTEST)
        with pytest.raises(DeriverError, match="worker process died"):
            await deriver.apply(parsed, pending)
    finally:
        await deriver.close()
