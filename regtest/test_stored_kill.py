"""Property test: a model mixing plain attributes and stored collections, crawled by a
process that is SIGKILLed at random while the chain grows and reorganises (with double
spends). After each sequence its plain state, active log and stored collections equal a
fresh crawl's, and its balances equal the in-memory model's.
``CHAINCRAWLER_STORED_SEQUENCES`` sets how many sequences run (default 6).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from chaincrawler.examples import AddressBalances, BalancesChanged, StoredAddressBalances
from chaincrawler.models import on
from chaincrawler.testing.nodeproc import NodeHandle
from regtest.crawling import (
    StoreFactory,
    StoreSpec,
    assert_matches_fresh_crawl,
    crawl,
    kill_sequences,
)
from regtest.test_stored_balances import stored_state

SEQUENCES = int(os.environ.get("CHAINCRAWLER_STORED_SEQUENCES", "6"))
SEED = int(os.environ.get("CHAINCRAWLER_PROPERTY_SEED", "20261201"))
MODELS = ["chaincrawler.examples.balances:AddressBalances",
          "regtest.test_stored_kill:MixedBalances"]


class MixedBalances(StoredAddressBalances):
    """Stored balances plus plain attributes: transactions seen and the last one."""

    name = "stored_address_balances"

    transactions: int = 0
    last_txid: str = ""

    @on(BalancesChanged)
    def _changed(self, event: BalancesChanged) -> None:
        super()._changed(event)
        self.transactions += 1
        self.last_txid = event.txid


def cache_size(rng: random.Random) -> dict[str, str]:
    """A random collection cache size: none, tiny or ample."""
    return {"CHAINCRAWLER_CRAWLER__COLLECTION_CACHE_ENTRIES": str(rng.choice([0, 5, 1000]))}


async def test_mixed_model_survives_random_reorgs_and_kills(
    fresh_node, stores: StoreFactory, tmp_path: Path
) -> None:
    node: NodeHandle = fresh_node()

    async def check(i: int, store: StoreSpec, start: int) -> None:
        models = [AddressBalances(), MixedBalances()]
        crawler = await crawl(node, store, models, start_height=start)
        fresh = stores(f"fresh{i}")
        await assert_matches_fresh_crawl(node, store, crawler.models, fresh,
                                         start_height=start)
        assert await stored_state(store) == await stored_state(fresh)
        memory = crawler.models[1]
        assert isinstance(memory, AddressBalances)
        assert await stored_state(store) == (memory.balances, memory.tx_counts)

    await kill_sequences(node, stores, tmp_path / "crawler.log", seed=SEED,
                         sequences=SEQUENCES, models=MODELS, check=check,
                         extra_env=cache_size)
