"""Txids and addresses derived in a worker process: the same as inline, and a dead worker
stops the crawl."""

from __future__ import annotations

import os
import random
import signal
from typing import Any

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.script import address_from_script
from chaincrawler.chain.types import Block, OutPoint, Transaction, TxIn, TxOut
from chaincrawler.crawler.derive import BlockDeriver, DeriverError
from chaincrawler.crawler.errors import InconsistentNodeError
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
from chaincrawler.crawler.source import BlockSource
from chaincrawler.eventstore import open_store
from chaincrawler.models import Event, Model, on
from chaincrawler.testing.blocks import block
from chaincrawler.testing.simnode.node import regtest_genesis
from tests.crawler.fakes import FakeNode
from tests.crawler.test_source import LyingNode

_PREFIXES = [b"\x00\x14", b"\x51\x20", b"\x00\x20", b"\xa9\x14"]


def _script(rng: random.Random) -> bytes:
    prefix = rng.choice(_PREFIXES)
    if prefix == b"\xa9\x14":
        return prefix + rng.randbytes(20) + b"\x87"
    return prefix + rng.randbytes(20 if prefix == b"\x00\x14" else 32)


def _chain(n: int, prev: bytes = b"\x00" * 32, first: int = 0) -> list[Block]:
    """``n`` linked blocks of a few transactions paying assorted scripts (and OP_RETURN)."""
    rng = random.Random(13)
    blocks: list[Block] = []
    for height in range(first, first + n):
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


class Paid(Event):
    addresses: list[str | None]


class Payees(Model):
    """The address of every output, in order (what the worker derives)."""

    addresses: list[str | None] = []  # noqa: RUF012

    def process_block(self, block: Block) -> None:
        self.apply(Paid(addresses=[o.address for tx in block.transactions for o in tx.outputs]))

    @on(Paid)
    def _paid(self, event: Paid) -> None:
        self.addresses.extend(event.addresses)


@pytest.mark.parametrize("worker", [False, True])
async def test_the_crawler_setting_address_worker_crawls_the_same_state(
    worker: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[BlockDeriver] = []

    class Counted(BlockDeriver):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr("chaincrawler.crawler.source.BlockDeriver", Counted)
    genesis = regtest_genesis()
    # A catch-up range long enough for the worker, on a known network (the worker's).
    chain = [genesis, *_chain(40, genesis.hash_bytes, first=1)]
    store = open_store("sqlite://")
    await store.open(network="regtest", genesis_hash=REGTEST.genesis_hash)
    try:
        crawler = Crawler(FakeNode(chain), store, [Payees()], REGTEST,  # type: ignore[arg-type]
                          CrawlerOptions(poll_interval=0.01, address_worker=worker))
        await crawler.run(follow=False)
        model = next(m for m in crawler.models if isinstance(m, Payees))
        expected = [address_from_script(o.script_pubkey, REGTEST)
                    for b in chain for tx in b.transactions for o in tx.outputs]
        assert model.addresses == expected and any(expected)
        assert len(started) == (1 if worker else 0)  # the setting decides
    finally:
        await store.close()
