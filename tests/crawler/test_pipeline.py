"""The crawler against a fake node: a node whose answers contradict each other."""

from __future__ import annotations

import pytest

from chaincrawler.chain.networks import Network
from chaincrawler.crawler.errors import InconsistentNodeError
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
from chaincrawler.eventstore import open_store
from chaincrawler.examples.balances import AddressBalances
from tests.crawler.fakes import FakeNode, make_chain


async def test_a_node_contradicting_its_own_chain_stops_the_crawler() -> None:
    chain = make_chain(10)
    network = Network("fake", "bcrt", 0x6F, 0xC4, chain[0].hash, 150, 1)
    node = FakeNode(chain)
    store = open_store("sqlite://")
    await store.open(network=network.name, genesis_hash=network.genesis_hash)
    try:
        crawler = Crawler(node, store, [AddressBalances()], network,  # type: ignore[arg-type]
                          CrawlerOptions(poll_interval=0.01))
        await crawler.run(follow=False)
        assert crawler.tip is not None and crawler.tip.height == 9
        # The node now says block 9 is still ours, but serves a block 10 built on block 8.
        (liar,) = make_chain(1, prev=chain[8].hash_bytes, first=10)
        node.chain.append(liar)
        node.known[liar.hash] = liar
        with pytest.raises(InconsistentNodeError, match=r"names \w+ as previous block"):
            await crawler.run(follow=False)
        tip = await store.tip()
        assert tip is not None and tip.height == 9  # nothing of the lie was stored
    finally:
        await store.close()


class CountingNode(FakeNode):
    """Counts the crawler's steps: each begins by asking for the node's block count."""

    steps = 0

    async def get_block_count(self) -> int:
        self.steps += 1
        return await super().get_block_count()


async def test_a_resumed_catch_up_goes_on_past_each_batch_commit_in_one_step() -> None:
    chain = make_chain(20)
    network = Network("fake", "bcrt", 0x6F, 0xC4, chain[0].hash, 150, 1)
    node = CountingNode(chain[:4])
    store = open_store("sqlite://")
    await store.open(network=network.name, genesis_hash=network.genesis_hash)
    try:
        options = CrawlerOptions(catchup_batch_blocks=3)
        await Crawler(node, store, [AddressBalances()], network,  # type: ignore[arg-type]
                      options).run(follow=False)
        node.chain, node.known = chain, {b.hash: b for b in chain}
        node.steps = 0
        crawler = Crawler(node, store, [AddressBalances()], network,  # type: ignore[arg-type]
                          options)
        summary = await crawler.run(follow=False)
        assert summary.blocks == 16 and crawler.tip is not None and crawler.tip.height == 19
        # one step crawls blocks 4..19 in batches of 3 (the next block after a batch links
        # to its last block, not to the tip the step began at), one finds nothing more
        assert node.steps == 2
    finally:
        await store.close()
