"""Property test: random mining, reorgs (with double spends) and SIGKILLs of a crawler process.

After every sequence, the crawler's state and active event log equal those of a fresh
crawl of the final chain; no event is stored twice; rolled-back events are still there,
marked. ``CHAINCRAWLER_PROPERTY_SEQUENCES`` sets how many sequences run (default 50).
"""

from __future__ import annotations

import functools
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from chaincrawler.eventstore import EventQuery, EventStatus
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

SEQUENCES = int(os.environ.get("CHAINCRAWLER_PROPERTY_SEQUENCES", "50"))
SEED = int(os.environ.get("CHAINCRAWLER_PROPERTY_SEED", "20261123"))
MODEL = "chaincrawler.examples.balances:AddressBalances"


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
        "CHAINCRAWLER_LOG__LEVEL": "WARNING",
        "CHAINCRAWLER_LOG__FORMAT": "json",
    }
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "chaincrawler", "run", MODEL],
                                env=env, stdout=out, stderr=out)



async def test_random_mine_reorg_kill_restart_sequences(
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
