"""Mempool models get the watcher's changes; one that raises is stopped, the others go on."""

from __future__ import annotations

import asyncio

import structlog

from chaincrawler.crawler.mempool import MempoolChange, MempoolLoaded, TxAdded
from chaincrawler.crawler.mempool_models import MempoolFeed, MempoolModel
from tests.crawler.test_mempool_watcher import Feed, Node, started, tx


class Pending(MempoolModel):
    """Counts what the mempool holds; its view is a plain attribute, never snapshotted."""

    name = "pending"

    def __init__(self) -> None:
        super().__init__()
        self.txids: set[str] = set()

    def process_mempool(self, change: MempoolChange) -> None:
        if isinstance(change, MempoolLoaded):
            self.txids = {t.txid for t in change.txs}
        elif isinstance(change, TxAdded):
            self.txids.add(change.txid)


class Broken(MempoolModel):
    name = "broken"

    def process_mempool(self, change: MempoolChange) -> None:
        if isinstance(change, TxAdded):
            raise KeyError("no such address")


async def test_a_failing_mempool_model_is_stopped_and_the_others_go_on():
    first, second = tx(1), tx(2)
    node, feed = Node(first), Feed()
    watcher = await started(node, feed)
    pending, broken = Pending(), Broken()
    mempool = MempoolFeed(watcher, [broken, pending])
    mempool.deliver(MempoolLoaded((TxAdded(first),), 10))
    with structlog.testing.capture_logs() as logs:
        run = asyncio.create_task(mempool.run())
        node.mempool[second.txid] = second
        feed.push("A", second.txid, 10)
        async with asyncio.timeout(5):
            while second.txid not in pending.txids:
                await asyncio.sleep(0.01)
        run.cancel()
    assert pending.txids == {first.txid, second.txid}
    assert mempool.failed == {"broken": "KeyError: 'no such address'"}
    assert [e["model"] for e in logs if e["event"] == "mempool.model_failed"] == ["broken"]
    assert first.txid not in pending.snapshot_state()  # mempool state is not block state
    await watcher.__aexit__()
