"""The pending-payments example as `chaincrawler run` wires it (watcher, feed, crawler) on
the node: a payment is seen pending, confirmed with a growing confirmation count, replaced
by full RBF (naming the replacing txid), and returned to pending by a reorg."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from chaincrawler.app import start_mempool
from chaincrawler.chain.networks import REGTEST
from chaincrawler.config import load_settings
from chaincrawler.crawler.follow_zmq import tip_follower
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
from chaincrawler.eventstore import EventStore, MempoolEventQuery, StoredMempoolEvent
from chaincrawler.examples.pending_payments import PendingPayments
from chaincrawler.testing.blocks import address
from chaincrawler.testing.chaingen import FEE_RATE, ChainGenerator
from chaincrawler.testing.nodeproc import NodeHandle
from regtest.crawling import StoreFactory, client

TIMEOUT = 30.0
SHOP = address("shop")


@dataclass
class Running:
    """A crawler with the example model following the node, its mempool feed on."""

    model: PendingPayments
    store: EventStore
    crawler: Crawler

    def payment(self, txid: str) -> dict[str, Any]:
        return dict(self.model.run_query("payment", {"txid": txid}))

    async def until(self, txid: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The payment's status once ``check`` holds for it."""
        async with asyncio.timeout(TIMEOUT):
            while not check(status := self.payment(txid)):
                await asyncio.sleep(0.05)
        return status

    async def mempool_events(self, txid: str, count: int) -> list[StoredMempoolEvent]:
        """The stored mempool events about ``txid``, once there are ``count`` (the feed
        stores them just after the model took the change in)."""
        async with asyncio.timeout(TIMEOUT):
            while len(events := await self.store.read_mempool_events(
                    MempoolEventQuery(txid=txid))) < count:
                await asyncio.sleep(0.05)
        return events


@pytest.fixture
async def running(
    node: NodeHandle, gen: ChainGenerator, stores: StoreFactory
) -> AsyncIterator[Running]:
    settings = load_settings(
        network="regtest", node={"urls": [node.url_with_auth]},
        crawler={"poll_interval": 0.1}, mempool={"reconcile_interval": 1.0},
    )
    model = PendingPayments(addresses=[SHOP], settled_after=6)
    async with contextlib.AsyncExitStack() as stack:
        rpc = await stack.enter_async_context(client(node))
        store = await stores("shop").open()
        stack.push_async_callback(store.close)
        feed = await start_mempool(stack, rpc, store, settings, [model])
        options = CrawlerOptions(start_height=gen.height, poll_interval=0.1)
        follower = await tip_follower(rpc, {}, options.poll_interval)
        crawler = Crawler(rpc, store, [model], REGTEST, options, follower=follower,
                          mempool=feed)
        task = asyncio.create_task(crawler.run(follow=True))
        try:
            yield Running(model, store, crawler)
        finally:
            crawler.stop()
            await asyncio.wait_for(task, TIMEOUT)


def pending(status: dict[str, Any]) -> bool:
    return status["status"] == "pending"


def confirmations(n: int) -> Callable[[dict[str, Any]], bool]:
    return lambda s: s["status"] == "confirmed" and s["confirmations"] == n


async def test_a_payment_is_pending_then_counts_confirmations(running, gen, rpc):
    txid = await gen.send([(SHOP, 50_000)])
    status = await running.until(txid, pending)
    assert (status["amounts"], status["confirmations"]) == ({SHOP: 50_000}, 0)
    (listed,) = [p for p in running.model.run_query("payments", {"address": SHOP})
                 if p["txid"] == txid]
    assert (listed["value"], listed["confirmations"]) == (50_000, 0)
    (block_hash,) = await gen.mine(1)
    await running.until(txid, confirmations(1))
    await gen.mine(2)
    await running.until(txid, confirmations(3))
    height = (await rpc.get_block_header(block_hash))["height"]
    events = await running.mempool_events(txid, 2)
    assert [e.event_type for e in events] == ["PaymentSeen", "PaymentMined"]
    # The confirmation was committed with its block.
    assert (events[1].block_height, events[1].block_hash) == (height, block_hash)
    await gen.mine(3)
    await running.until(txid, lambda s: s["status"] == "unknown")  # settled: forgotten


async def test_full_rbf_replacement_names_the_replacing_transaction(running, gen):
    coin = gen.coins()[0]
    first = gen.create_transaction([coin], [(SHOP, 40_000)])
    await gen.send_transaction(first)
    await running.until(first.txid, pending)
    second = gen.create_transaction([coin], [(SHOP, 39_000)], fee_rate=FEE_RATE * 10)
    await gen.send_transaction(second)  # no BIP125 signal: full RBF
    replaced = await running.until(first.txid, lambda s: s["status"] == "replaced")
    assert replaced["replaced_by"] == second.txid
    assert (await running.until(second.txid, pending))["amounts"] == {SHOP: 39_000}
    assert [e.event_type for e in await running.mempool_events(first.txid, 2)] == [
        "PaymentSeen", "PaymentReplaced"]
    await gen.mine(1)
    await running.until(second.txid, confirmations(1))


async def test_a_reorg_returns_a_confirmed_payment_to_pending(running, gen, rpc):
    txid = await gen.send([(SHOP, 30_000)])
    await running.until(txid, pending)
    (block_hash,) = await gen.mine(1)
    await running.until(txid, confirmations(1))
    await rpc.call("invalidateblock", block_hash)
    await running.until(txid, pending)  # block state rolled back, the tx back in the mempool
    assert [p["confirmations"] for p in running.model.run_query("payments", {"address": SHOP})
            if p["txid"] == txid] == [0]
    await rpc.call("reconsiderblock", block_hash)
    await running.until(txid, confirmations(1))
    await gen.sync()
    kinds = [e.event_type for e in await running.mempool_events(txid, 4)]
    assert kinds == ["PaymentSeen", "PaymentMined", "PaymentSeen", "PaymentMined"]
