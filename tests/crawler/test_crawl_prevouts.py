"""Crawls and what the node keeps: a crawl from a height above 0 on a node without
-txindex resolves every input, with REST spenttxouts and without (simnode in process, its
-txindex refused as Core does); a pruned node refuses a start below its prune height."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chaincrawler.chain.networks import REGTEST, Network
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
from chaincrawler.crawler.source import PrunedBelowStartError
from chaincrawler.eventstore import open_store
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.node.client import NodeClient, RetryPolicy
from chaincrawler.node.errors import NoTxIndexError
from chaincrawler.testing.chaingen import ChainGenerator
from chaincrawler.testing.simnode import SimNode
from tests.crawler.fakes import FakeNode, make_chain

NO_TXINDEX = ("No such mempool or blockchain transaction. Use -txindex or provide a block "
              "hash to enable blockchain transaction queries.")


class NoTxIndexClient(NodeClient):
    """The client of a node without -txindex: confirmed transactions are refused as Core
    refuses them; counts what the crawl asks for."""

    calls: list[str]

    async def get_raw_transactions(self, txids: Sequence[str]) -> list[bytes | None]:
        self.calls.append("getrawtransaction")
        raise NoTxIndexError(-5, NO_TXINDEX, "getrawtransaction", self.nodes[0])

    async def get_block_verbose(self, block_hash: str, verbosity: int = 1) -> dict[str, Any]:
        self.calls.append(f"getblock {verbosity}")
        return await super().get_block_verbose(block_hash, verbosity)

    async def get_raw_spent_txouts(self, block_hashes: Sequence[str]) -> list[bytes]:
        self.calls.extend("spenttxouts" for _ in block_hashes)
        return await super().get_raw_spent_txouts(block_hashes)


@pytest.fixture
async def simnode(tmp_path: Path) -> AsyncIterator[tuple[SimNode, list[str]]]:
    """A node with mature coins, then 5 blocks of 6 transactions (each spending the
    change of the block before); yields it and those 5 blocks' hashes."""
    async with SimNode(tmp_path / "node", rest=True) as node:
        user, password = node.auth
        async with NodeClient(node.rpc_url.replace("://", f"://{user}:{password}@")) as rpc:
            gen = ChainGenerator(rpc, seed="no-txindex")
            await gen.mine_until_mature()
            hashes = await gen.fill(5, 6)
        yield node, hashes


def expected_balances(blocks: list[dict[str, Any]], debits: bool = True) -> dict[str, int]:
    """Non-zero balances from ``getblock 3`` (the node's own prevouts) over ``blocks``."""
    balances: dict[str, int] = {}
    for block in blocks:
        for tx in block["tx"]:
            for out in tx["vout"]:
                address = out["scriptPubKey"].get("address")
                if address:
                    balances[address] = balances.get(address, 0) + _sats(out["value"])
            for vin in tx["vin"]:
                if debits and "prevout" in vin:
                    address = vin["prevout"]["scriptPubKey"].get("address")
                    if address:
                        balances[address] = balances.get(address, 0) - _sats(
                            vin["prevout"]["value"])
    return {a: v for a, v in balances.items() if v}


def _sats(value: Decimal) -> int:
    return int(value * 100_000_000)


@pytest.mark.parametrize("rest", [True, False], ids=["spenttxouts", "getblock-3"])
async def test_a_crawl_from_above_0_without_txindex_resolves_every_input(
    simnode: tuple[SimNode, list[str]], rest: bool
) -> None:
    node, filled = simnode
    user, password = node.auth
    url = node.rpc_url.replace("://", f"://{user}:{password}@")
    async with NoTxIndexClient(url, rest=rest, retry=RetryPolicy(attempts=1)) as rpc:
        rpc.calls = []
        start = (await rpc.get_block_header(filled[1]))["height"]  # spends block start-1's coins
        tip = await rpc.get_block_count()
        store = open_store("sqlite://")
        await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
        try:
            balances = AddressBalances()
            crawler = Crawler(rpc, store, [balances], REGTEST, CrawlerOptions(start_height=start))
            await crawler.run(follow=False)
        finally:
            await store.close()
        verbose = [await rpc.get_block_verbose(await rpc.get_block_hash(h), 3)
                   for h in range(start, tip + 1)]
    crawled = {a: v for a, v in balances.balances.items() if v}
    assert crawled == expected_balances(verbose)
    assert crawled != expected_balances(verbose, debits=False)  # the spends counted
    calls = rpc.calls[: -len(verbose)]  # what the crawl asked for
    if rest:  # one spenttxouts per block, nothing else
        assert calls == ["spenttxouts"] * (tip + 1 - start)
    else:  # the first block's misses: no index, so its undo data; later blocks hit the cache
        assert calls == ["getrawtransaction", "getblock 3"]


async def test_a_crawl_below_a_pruned_node_s_prune_height_is_refused_at_once() -> None:
    chain = make_chain(30)
    node = FakeNode(chain)

    async def pruned() -> dict[str, Any]:
        return {"chain": "fake", "pruned": True, "pruneheight": 20}

    node.get_blockchain_info = pruned  # type: ignore[method-assign]
    network = Network("fake", "bcrt", 0x6F, 0xC4, chain[0].hash, 150, 1)
    store = open_store("sqlite://")
    await store.open(network=network.name, genesis_hash=network.genesis_hash)
    try:
        crawler = Crawler(node, store, [AddressBalances()], network,  # type: ignore[arg-type]
                          CrawlerOptions(start_height=12))
        with pytest.raises(PrunedBelowStartError, match=r"from height 20 on.*from height 12"):
            await crawler.run(follow=False)
        assert await store.tip() is None and node.lookups == 0
    finally:
        await store.close()
