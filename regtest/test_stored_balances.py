"""The stored-collection balance model against a node: through reorgs with double spends
its balances equal the in-memory model's, and a fresh crawl stores the same values."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from chaincrawler.eventstore import EventStore
from chaincrawler.examples import AddressBalances, StoredAddressBalances
from chaincrawler.testing.chaingen import ChainGenerator
from chaincrawler.testing.nodeproc import NodeHandle
from regtest.crawling import StoreFactory, StoreSpec, assert_matches_fresh_crawl, client, crawl

STORED = StoredAddressBalances.name


@pytest.fixture
async def chain(fresh_node) -> AsyncIterator[tuple[NodeHandle, ChainGenerator]]:
    node = fresh_node()
    async with client(node) as rpc:
        gen = ChainGenerator(rpc, seed="stored")
        await gen.mine_until_mature()
        await gen.fill(3, 6)
        yield node, gen


async def accounts(store: EventStore) -> dict[str, list[int]]:
    """Every key of the stored model's collection, read with ``scan``."""
    values: dict[str, list[int]] = {}
    after: str | None = None
    while True:
        page = (await store.scan(STORED, "accounts", after=after, limit=100)).result
        values.update((k, json.loads(v)) for k, v in page)
        if len(page) < 100:
            return values
        after = page[-1][0]


async def stored_state(spec: StoreSpec) -> tuple[dict[str, int], dict[str, int]]:
    """The stored balances and transaction counts, as the in-memory model keeps them."""
    store = await spec.open(writer=False)
    try:
        values = await accounts(store)
    finally:
        await store.close()
    return ({a: v[0] for a, v in values.items()}, {a: v[1] for a, v in values.items()})


async def test_stored_balances_equal_in_memory_ones_through_reorgs(
    chain: tuple[NodeHandle, ChainGenerator], stores: StoreFactory
) -> None:
    node, gen = chain
    spec = stores("s")
    for depth in (2, 3):
        await gen.send()  # a spend for the reorg to double-spend
        await gen.mine(1)
        await crawl(node, spec, [AddressBalances(), StoredAddressBalances()],
                    catchup_batch_blocks=7)
        await gen.reorg(depth, depth + 1, double_spend=True)
        await gen.fill(1, 3)
        crawler = await crawl(node, spec, [AddressBalances(), StoredAddressBalances()])
        memory = crawler.models[1]
        stored = crawler.models[2]
        assert isinstance(memory, AddressBalances)
        assert isinstance(stored, StoredAddressBalances)
        balances, counts = await stored_state(spec)
        assert balances == memory.balances and counts == memory.tx_counts
        assert balances
        store = await spec.open(writer=False)
        try:
            stored.accounts.attach(store, 10)
            address = max(memory.balances, key=lambda a: memory.tx_counts[a])
            assert (await stored.balance(address)) == memory.balance(address)
            assert (await stored.balance("bcrt1qnobody")).balance == 0
            assert (await store.reorgs())[0].depth == depth
        finally:
            await store.close()
    fresh = stores("fresh")
    await assert_matches_fresh_crawl(node, spec, crawler.models, fresh, catchup_batch_blocks=50)
    assert await stored_state(spec) == await stored_state(fresh)
