"""Property test: a model mixing plain attributes and stored collections, crawled by a
process that is SIGKILLed at random while the chain grows and reorganises (with double
spends). After each sequence its plain state, active log and stored collections equal a
fresh crawl's, and its balances equal the in-memory model's.
``CHAINCRAWLER_STORED_SEQUENCES`` sets how many sequences run (default 6).
"""

from __future__ import annotations

import functools
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from chaincrawler.examples import AddressBalances, BalancesChanged, StoredAddressBalances
from chaincrawler.models import on
from chaincrawler.testing.chaingen import ChainGenerator
from chaincrawler.testing.nodeproc import NodeHandle
from regtest.crawling import (
    StoreFactory,
    StoreSpec,
    assert_matches_fresh_crawl,
    client,
    crawl,
    kill,
    random_mine_reorg_kill,
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


def start_crawler(node: NodeHandle, store: StoreSpec, start: int, rng: random.Random,
                  log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **store.env(),
        "CHAINCRAWLER_NETWORK": "regtest",
        "CHAINCRAWLER_NODE__URLS": node.url_with_auth,
        "CHAINCRAWLER_NODE__REST": "true",
        "CHAINCRAWLER_CRAWLER__START_HEIGHT": str(start),
        "CHAINCRAWLER_CRAWLER__POLL_INTERVAL": "0.05",
        "CHAINCRAWLER_CRAWLER__CATCHUP_BATCH_BLOCKS": str(rng.randint(1, 6)),
        "CHAINCRAWLER_CRAWLER__SNAPSHOT_INTERVAL": str(rng.randint(1, 8)),
        "CHAINCRAWLER_CRAWLER__COLLECTION_CACHE_ENTRIES": str(rng.choice([0, 5, 1000])),
        "CHAINCRAWLER_LOG__LEVEL": "WARNING",
        "CHAINCRAWLER_LOG__FORMAT": "json",
    }
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "chaincrawler", "run", *MODELS],
                                env=env, stdout=out, stderr=out)



async def test_mixed_model_survives_random_reorgs_and_kills(
    fresh_node, stores: StoreFactory, tmp_path: Path
) -> None:
    node: NodeHandle = fresh_node()
    rng = random.Random(SEED)
    log = tmp_path / "crawler.log"
    async with client(node) as rpc:
        gen = ChainGenerator(rpc, seed=SEED)
        await gen.mine_until_mature()
        for i in range(SEQUENCES):
            start = max(0, gen.height - 12)
            store = stores(f"seq{i}")
            proc = start_crawler(node, store, start, rng, log)
            try:
                restart = functools.partial(start_crawler, node, store, start, rng, log)
                proc = await random_mine_reorg_kill(gen, rng, start, proc, restart)
            finally:
                kill(proc)
            assert proc.returncode == -signal.SIGKILL, log.read_text()[-3000:]

            models = [AddressBalances(), MixedBalances()]
            crawler = await crawl(node, store, models, start_height=start)
            fresh = stores(f"fresh{i}")
            await assert_matches_fresh_crawl(node, store, crawler.models, fresh,
                                             start_height=start)
            assert await stored_state(store) == await stored_state(fresh)
            memory = crawler.models[1]
            assert isinstance(memory, AddressBalances)
            assert await stored_state(store) == (memory.balances, memory.tx_counts)
