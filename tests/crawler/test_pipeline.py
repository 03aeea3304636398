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
