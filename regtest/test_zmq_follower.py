"""Tip following by ZMQ on the node: a block wakes the crawler at once, a dead ZMQ
endpoint leaves polling as the floor (with a warning), and ``tip_follower`` picks ZMQ
when the node advertises it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import structlog

from chaincrawler.chain.networks import REGTEST
from chaincrawler.crawler.follow import PollingFollower
from chaincrawler.crawler.follow_zmq import ZmqFollower, tip_follower
from chaincrawler.crawler.pipeline import Committed, Crawler, CrawlerOptions
from chaincrawler.eventstore import SchemaMissingError, open_store
from chaincrawler.node.zmq import ZmqSubscriber
from chaincrawler.testing.nodeproc import free_port
from regtest.crawling import StoreSpec

TIMEOUT = 15.0
NEVER = 600.0  # a polling floor no test waits for
MODEL = "chaincrawler.examples.balances:AddressBalances"


async def follow_one_block(rpc, gen, follower, tmp_path: Path) -> str:
    """Crawl from the tip with ``follower``, mine a block, return its committed hash."""
    store = open_store(f"sqlite:///{tmp_path / 'follow.db'}")
    await store.open(network="regtest", genesis_hash=REGTEST.genesis_hash)
    committed: asyncio.Queue[str] = asyncio.Queue()

    def note(change: object) -> None:
        if isinstance(change, Committed):
            for block in change.blocks:
                committed.put_nowait(block.hash)

    height = await rpc.get_block_count()
    crawler = Crawler(rpc, store, [], REGTEST, CrawlerOptions(start_height=height),
                      follower=follower)
    crawler.subscribe(note)
    run = asyncio.create_task(crawler.run())
    try:
        async with asyncio.timeout(TIMEOUT):
            while await committed.get() != await rpc.get_block_hash(height):
                pass
            (mined,) = await gen.mine(1)
            while (got := await committed.get()) != mined:
                pass
        return got
    finally:
        crawler.stop()
        await run
        await store.close()


async def test_a_block_wakes_the_crawler_long_before_the_polling_floor(
    node, rpc, gen, tmp_path
):
    subscriber = ZmqSubscriber(node.zmq_endpoints["sequence"], ("sequence",))
    follower = ZmqFollower(rpc, subscriber, NEVER)
    mined = await follow_one_block(rpc, gen, follower, tmp_path)
    assert mined == await rpc.get_best_block_hash()
    assert follower.notifications >= 1


async def test_hashblock_alone_is_enough(node, rpc, gen, tmp_path):
    subscriber = ZmqSubscriber(node.zmq_endpoints["hashblock"], ("hashblock",))
    follower = ZmqFollower(rpc, subscriber, NEVER)
    assert await follow_one_block(rpc, gen, follower, tmp_path) == await rpc.get_best_block_hash()


async def test_a_dead_zmq_endpoint_is_followed_by_polling_with_a_warning(rpc, gen, tmp_path):
    silent = ZmqSubscriber(f"tcp://127.0.0.1:{free_port()}", ("sequence",))
    follower = ZmqFollower(rpc, silent, 0.2)
    with structlog.testing.capture_logs() as logs:
        mined = await follow_one_block(rpc, gen, follower, tmp_path)
        async with follower:  # more floor wake-ups: one of them sees the tip moved silently
            await gen.mine(1)
            for _ in range(50):
                if any(e["event"] == "zmq.missed_block" for e in logs):
                    break
                await follower.wait(asyncio.Event())
    assert mined == (await rpc.get_block_header(await rpc.get_best_block_hash()))[
        "previousblockhash"
    ]
    # once, not at every wake-up
    assert [e["log_level"] for e in logs if e["event"] == "zmq.missed_block"] == ["warning"]


async def test_tip_follower_uses_settings_then_the_nodes_advertised_endpoints(node, rpc):
    from_settings = await tip_follower(rpc, {"hashblock": node.zmq_endpoints["hashblock"]}, 1.0)
    assert isinstance(from_settings, ZmqFollower)
    assert from_settings.subscriber.subscriptions == {
        node.zmq_endpoints["hashblock"]: frozenset({"hashblock"})
    }
    discovered = await tip_follower(rpc, {}, 1.0)
    assert isinstance(discovered, ZmqFollower)
    assert discovered.subscriber.topics == {"sequence"}  # preferred: it also tells D
    assert discovered.subscriber.endpoints == [node.zmq_endpoints["sequence"]]
    only_mempool = await tip_follower(rpc, {"rawtx": node.zmq_endpoints["rawtx"]}, 1.0)
    assert isinstance(only_mempool, ZmqFollower)  # no block topic set: the node's are used


async def test_a_node_without_zmq_is_polled():
    assert isinstance(await tip_follower(_NoZmq(), {}, 1.0), PollingFollower)  # type: ignore[arg-type]


class _NoZmq:
    """A node that publishes nothing: ``getzmqnotifications`` answers ``[]``."""

    async def get_zmq_notifications(self) -> list[dict[str, object]]:
        return []


async def test_chaincrawler_run_follows_by_zmq_when_the_node_advertises_it(
    node, rpc, gen, tmp_path
):
    store = StoreSpec(f"sqlite:///{tmp_path / 'run.db'}")
    start = await rpc.get_block_count()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CHAINCRAWLER_")},
        **store.env(),
        "CHAINCRAWLER_NETWORK": "regtest",
        "CHAINCRAWLER_NODE__URLS": node.url_with_auth,
        "CHAINCRAWLER_CRAWLER__START_HEIGHT": str(start),
        "CHAINCRAWLER_CRAWLER__POLL_INTERVAL": str(NEVER),  # only ZMQ can wake it in time
    }
    proc = subprocess.Popen([sys.executable, "-m", "chaincrawler", "run", MODEL], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        await until_store_tip(store, await rpc.get_best_block_hash())
        (mined,) = await gen.mine(1)
        await until_store_tip(store, mined)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err


async def until_store_tip(store: StoreSpec, block_hash: str) -> None:
    async with asyncio.timeout(TIMEOUT):
        while True:
            try:
                opened = await store.open(writer=False)
            except SchemaMissingError:  # not created yet
                await asyncio.sleep(0.05)
                continue
            try:
                tip = await opened.tip()
            finally:
                await opened.close()
            if tip is not None and tip.hash == block_hash:
                return
            await asyncio.sleep(0.05)
