"""State at a height of the reorg window over HTTP: in-memory models restored on a side
copy, stored collections read through their undo records; on both stores, across a reorg."""

from __future__ import annotations

from typing import Any

import pytest

from chaincrawler.client import ApiError, AsyncClient
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.examples.stored_balances import StoredAddressBalances
from tests.transports.conftest import Serve, Served

MEMORY, STORED = "address_balances", "stored_address_balances"


async def grow(served: Served, api: AsyncClient, blocks: int) -> dict[int, tuple[str, Any, Any]]:
    """Fill a block at a time (each after a fan-out block); what the tip answered at each
    height: hash, state, top."""
    seen = {}
    for _ in range(blocks):
        await served.gen.fill(1, 3)
        await served.synced()
        state = await api.state(MEMORY)
        top = await api.query(MEMORY, "top", n=5)
        assert state.block is not None and top.block == state.block
        seen[state.block.height] = (state.block.hash, state.state, top.result)
    return seen


async def test_state_and_queries_at_a_height_across_a_reorg(serve: Serve) -> None:
    served = await serve(models=[AddressBalances(), StoredAddressBalances()])
    async with AsyncClient(served.url) as api:
        seen = await grow(served, api, 4)
        old_tip = max(seen)
        await served.gen.reorg(2, 3)
        await served.synced()
        tip = served.crawler.tip
        assert tip is not None
        fork = old_tip - 2
        assert any(h <= fork for h in seen) and any(h > fork for h in seen)
        live = await api.state(MEMORY)
        for height in range(fork - 1, tip.height + 1):
            block = await served.store.canonical_block(height)
            assert block is not None
            state = await api.state(MEMORY, height=height)
            top = await api.query_at(height, MEMORY, "top", n=5)
            assert state.block is not None and state.block.hash == block.hash
            assert top.block == state.block
            assert state.at.tip is not None and state.at.tip.hash == tip.hash
            if height in seen and height <= fork:  # the same blocks: the same answers
                assert (block.hash, state.state, top.result) == seen[height]
            elif height in seen:  # the new branch's block at that height
                assert block.hash != seen[height][0]
            for row in top.result:  # the stored model, from its undo records, agrees
                stored = await api.query_at(height, STORED, "balance", address=row["address"])
                assert stored.result == row and stored.block == state.block
        assert await api.state(MEMORY) == live  # the served model was not touched


async def test_a_height_outside_the_window_is_a_400_naming_the_window(serve: Serve) -> None:
    served = await serve(models=[AddressBalances(), StoredAddressBalances()])
    tip = served.crawler.tip
    assert tip is not None
    finalized = tip.height - 20
    async with AsyncClient(served.url) as api:
        assert (await api.state(MEMORY, height=finalized)).block is not None
        for height in (finalized - 1, tip.height + 1):
            with pytest.raises(ApiError) as caught:
                await api.state(MEMORY, height=height)
            assert caught.value.status == 400 and caught.value.code == "height_outside_window"
            assert caught.value.details == {"height": height, "finalized_height": finalized,
                                            "tip_height": tip.height}
            with pytest.raises(ApiError) as caught:
                await api.query_at(height, STORED, "balance", address="x")
            assert caught.value.code == "height_outside_window"
        with pytest.raises(ApiError) as caught:
            await api.query_at(tip.height, MEMORY, "nope")
        assert caught.value.status == 404
        with pytest.raises(ApiError) as caught:  # refused before any state is restored
            await api.query_at(tip.height - 1, MEMORY, "top", n=0)
        assert caught.value.status == 400 and caught.value.code == "invalid_params"
