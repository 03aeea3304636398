"""Property test: random mining, reorgs (with double spends) and SIGKILLs of a crawler process.

After every sequence, the crawler's state and active event log equal those of a fresh
crawl of the final chain; no event is stored twice; rolled-back events are still there,
marked. ``CHAINCRAWLER_PROPERTY_SEQUENCES`` sets how many sequences run (default 25).
"""

from __future__ import annotations

import os
from pathlib import Path

from chaincrawler.eventstore import EventQuery, EventStatus
from chaincrawler.testing.nodeproc import NodeHandle
from regtest.crawling import (
    StoreFactory,
    StoreSpec,
    assert_matches_fresh_crawl,
    crawl,
    kill_sequences,
)

SEQUENCES = int(os.environ.get("CHAINCRAWLER_PROPERTY_SEQUENCES", "25"))
SEED = int(os.environ.get("CHAINCRAWLER_PROPERTY_SEED", "20261123"))
MODELS = ["chaincrawler.examples.balances:AddressBalances"]


async def test_random_mine_reorg_kill_restart_sequences(
    fresh_node, stores: StoreFactory, tmp_path: Path
) -> None:
    node: NodeHandle = fresh_node()

    async def check(i: int, store: StoreSpec, start: int) -> None:
        crawler = await crawl(node, store, start_height=start)
        await assert_matches_fresh_crawl(node, store, crawler.models, stores(f"fresh{i}"),
                                         start_height=start)
        s = await store.open(writer=False)
        try:
            events = await s.read_events(EventQuery(include_rolled_back=True))
            canonical = {b.hash for b in await s.chain_window(10_000)}
        finally:
            await s.close()
        connected = [e for e in events if e.event_type == "BlockConnected"
                     and e.status == EventStatus.ACTIVE]
        heights = [e.block_height for e in connected]
        assert len(heights) == len(set(heights)), "a block's events were stored twice"
        for e in events:
            if e.status == EventStatus.ROLLED_BACK:
                assert e.reorg_id is not None and e.block_hash not in canonical
            else:
                assert e.block_hash in canonical

    await kill_sequences(node, stores, tmp_path / "crawler.log", seed=SEED,
                         sequences=SEQUENCES, models=MODELS, check=check)
