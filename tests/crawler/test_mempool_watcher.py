"""MempoolWatcher against a scripted node and ZMQ feed: the cases a real node cannot be
made to produce on demand (stale events after a snapshot, a replacement whose A comes
in a later burst, a removal nothing explains, a node error)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import OutPoint, Transaction, TxIn, TxOut
from chaincrawler.crawler.mempool import (
    MempoolLoaded,
    MempoolWatcher,
    MempoolWatcherError,
    RemovalReason,
    TxAdded,
    TxRemoved,
)
from chaincrawler.node.client import MempoolSnapshot
from chaincrawler.node.errors import NodeProtocolError
from chaincrawler.node.zmq import SequenceEvent, ZmqMessage

TIP = "11" * 32


def tx(prev: int, vout: int = 0, value: int = 10_000) -> Transaction:
    txin = TxIn(OutPoint(bytes([prev]) * 32, vout), b"", 0xFFFFFFFD, [b"\x51"])
    return Transaction([txin], [TxOut(value, b"\x00\x14" + bytes(20), REGTEST)], network=REGTEST)


class Node:
    """The node calls the watcher makes, answered from ``mempool``."""

    def __init__(self, *txs: Transaction) -> None:
        self.mempool = {t.txid: t for t in txs}
        self.sequence = 10
        self.fail: Exception | None = None

    async def get_best_block_hash(self) -> str:
        return TIP

    async def get_raw_mempool(self, *, mempool_sequence: bool) -> MempoolSnapshot:
        if self.fail is not None:
            raise self.fail
        return MempoolSnapshot(list(self.mempool), self.sequence)

    async def get_raw_transactions(self, txids: list[str]) -> list[bytes | None]:
        return [self.mempool[t].serialize() if t in self.mempool else None for t in txids]

    async def get_block_header(self, block_hash: str) -> dict[str, Any]:
        raise AssertionError("no block in these tests")


class Feed:
    """A ZmqSubscriber stand-in: ``push`` a burst, the watcher receives it."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[ZmqMessage] = asyncio.Queue()
        self.counter = 0

    def connect(self) -> None:
        pass

    def push(self, kind: str, txid: str, mempool_sequence: int) -> None:
        event = SequenceEvent(txid, kind, mempool_sequence)  # type: ignore[arg-type]
        self.queue.put_nowait(ZmqMessage("sequence", b"", self.counter, "e", txid, event))
        self.counter += 1

    async def receive(self, timeout: float | None) -> ZmqMessage | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


async def started(node: Node, feed: Feed) -> MempoolWatcher:
    watcher = MempoolWatcher(node, REGTEST, feed, reconcile_interval=600)  # type: ignore[arg-type]
    await watcher.__aenter__()
    assert isinstance(await asyncio.wait_for(watcher.get(), 5), MempoolLoaded)
    return watcher


async def test_events_older_than_the_snapshot_are_ignored():
    first = tx(1)
    node, feed = Node(first), Feed()
    watcher = await started(node, feed)
    feed.push("R", first.txid, 5)  # sent before the snapshot (sequence 10) was taken
    second = tx(2)
    node.mempool[second.txid] = second
    feed.push("A", second.txid, 10)
    change = await asyncio.wait_for(watcher.get(), 5)
    assert isinstance(change, TxAdded) and change.txid == second.txid
    assert first.txid in watcher
    await watcher.__aexit__(None, None, None)


async def test_a_replacement_arriving_in_a_later_burst_is_still_a_replacement():
    old = tx(1, value=10_000)
    node, feed = Node(old), Feed()
    watcher = await started(node, feed)
    del node.mempool[old.txid]
    feed.push("R", old.txid, 10)
    await asyncio.sleep(0.05)  # the R is received alone
    new = tx(1, value=9_000)  # spends the same output
    node.mempool[new.txid] = new
    feed.push("A", new.txid, 11)
    removed = await asyncio.wait_for(watcher.get(), 5)
    assert removed == TxRemoved(old.txid, RemovalReason.REPLACED, replaced_by=new.txid)
    added = await asyncio.wait_for(watcher.get(), 5)
    assert isinstance(added, TxAdded) and added.txid == new.txid
    await watcher.__aexit__(None, None, None)


async def test_a_removal_nothing_explains_is_an_eviction():
    gone = tx(3)
    node, feed = Node(gone), Feed()
    watcher = await started(node, feed)
    del node.mempool[gone.txid]
    feed.push("R", gone.txid, 10)
    change = await asyncio.wait_for(watcher.get(), 5)
    assert change == TxRemoved(gone.txid, RemovalReason.EVICTED)
    assert len(watcher) == 0
    await watcher.__aexit__(None, None, None)


async def test_a_child_gets_its_mempool_parents_output_as_prevout():
    parent = tx(4, value=50_000)
    child_in = TxIn(OutPoint(parent.txid_bytes, 0), b"", 0xFFFFFFFD, [b"\x51"])
    child = Transaction([child_in], [TxOut(40_000, b"\x51\x20" + bytes(32), REGTEST)],
                        network=REGTEST)
    node, feed = Node(parent), Feed()
    watcher = await started(node, feed)
    node.mempool[child.txid] = child
    feed.push("A", child.txid, 10)
    change = await asyncio.wait_for(watcher.get(), 5)
    assert isinstance(change, TxAdded)
    assert change.tx.inputs[0].prev_txout == parent.outputs[0]
    await watcher.__aexit__(None, None, None)


async def test_a_failure_that_is_not_the_node_being_away_stops_the_watcher_clearly():
    node, feed = Node(), Feed()
    node.fail = NodeProtocolError("http://node", "getrawmempool", "not a list")
    watcher = MempoolWatcher(node, REGTEST, feed)  # type: ignore[arg-type]
    async with watcher:
        with pytest.raises(MempoolWatcherError, match="not a list"):
            await asyncio.wait_for(watcher.get(), 5)
