"""Snapshot retention: a long crawl keeps a bounded number of snapshots per model, and a
reorg as deep as the window still restores state exactly."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chaincrawler.chain.networks import REGTEST, Network
from chaincrawler.chain.types import Block, BlockHeader, OutPoint, Transaction, TxIn, TxOut
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
from chaincrawler.eventstore import EventStore, open_store
from chaincrawler.models import Event, Model, on
from tests.crawler.fakes import FakeNode, make_chain

WINDOW = 10
INTERVAL = 5


class Hashed(Event):
    height: int
    hash: str


class BlockHashes(Model):
    """The hash of every block by height: any reorg changes it."""

    hashes: dict[int, str] = {}  # noqa: RUF012

    def process_block(self, block: Block) -> None:
        assert block.height is not None
        self.apply(Hashed(height=block.height, hash=block.hash))

    @on(Hashed)
    def _hashed(self, event: Hashed) -> None:
        self.hashes[event.height] = event.hash


def fork_of(chain: list[Block], fork_height: int, length: int, salt: int = 2) -> list[Block]:
    """``chain`` up to ``fork_height``, then ``length`` blocks unlike those of other salts."""
    prev = chain[fork_height].hash_bytes
    blocks = list(chain[: fork_height + 1])
    for h in range(fork_height + 1, fork_height + 1 + length):
        coinbase = Transaction([TxIn(OutPoint(b"\x00" * 32, 0xFFFFFFFF), bytes([salt, h % 256]))],
                               [TxOut(49, b"\x51", REGTEST)], network=REGTEST)
        block = Block(BlockHeader(1, prev, coinbase.txid_bytes, h, 0x207FFFFF, 1), [coinbase],
                      REGTEST, h)
        blocks.append(block)
        prev = block.hash_bytes
    return blocks


async def snapshot_heights(store: EventStore, model: str) -> list[int]:
    """Every stored snapshot height of ``model``, newest first."""
    heights: list[int] = []
    below: int | None = None
    while True:
        snapshot = await store.latest_snapshot(model, below)
        if snapshot is None:
            return heights
        heights.append(snapshot.block_height)
        if snapshot.block_height == 0:
            return heights
        below = snapshot.block_height - 1


@pytest.fixture
async def store() -> AsyncIterator[EventStore]:
    s = open_store("sqlite://")
    chain = make_chain(1)
    await s.open(network="fake", genesis_hash=chain[0].hash)
    yield s
    await s.close()


def network_of(chain: list[Block]) -> Network:
    return Network("fake", "bcrt", 0x6F, 0xC4, chain[0].hash, 150, 1)


async def crawl(node: FakeNode, store: EventStore, model: Model) -> Crawler:
    crawler = Crawler(node, store, [model], network_of(node.chain),  # type: ignore[arg-type]
                      CrawlerOptions(poll_interval=0.01, max_reorg_depth=WINDOW,
                                     snapshot_interval=INTERVAL, catchup_batch_blocks=7))
    await crawler.run(follow=False)
    return crawler


async def test_long_crawl_keeps_a_bounded_number_of_snapshots_and_reorgs_within_the_window(
    store: EventStore,
) -> None:
    chain = make_chain(300)
    node = FakeNode(chain)
    await crawl(node, store, BlockHashes())
    for name in ("chain", "block_hashes"):
        heights = await snapshot_heights(store, name)
        # Above tip - window (2 due every 5 blocks), the newest at or below it, and the
        # shutdown snapshot at the tip: never the 60 a snapshot every 5 blocks makes.
        assert heights[0] == 299, name
        assert 2 <= len(heights) <= 5, (name, heights)
        assert min(heights) >= 299 - WINDOW - INTERVAL, (name, heights)

    # The deepest reorg the window allows: the fork is 10 blocks below the tip.
    node.chain = fork_of(chain, 289, 12)
    node.known.update((b.hash, b) for b in node.chain)
    model = BlockHashes()
    crawler = await crawl(node, store, model)
    assert crawler.tip is not None and crawler.tip.hash == node.chain[-1].hash
    assert (await store.reorgs())[0].depth == WINDOW
    fresh_store = open_store("sqlite://")
    await fresh_store.open(network="fake", genesis_hash=chain[0].hash)
    try:
        fresh = BlockHashes()
        await crawl(FakeNode(node.chain), fresh_store, fresh)
    finally:
        await fresh_store.close()
    assert model.hashes == fresh.hashes == {b.height: b.hash for b in node.chain}
