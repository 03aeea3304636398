"""Mempool models get the watcher's changes; one that raises is stopped, the others go on;
what they emit is stored, a confirmation with its block's commit."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import structlog

from chaincrawler.app import start_mempool
from chaincrawler.chain.networks import REGTEST
from chaincrawler.config import load_settings
from chaincrawler.crawler.mempool import (
    MempoolChange,
    MempoolLoaded,
    MempoolWatcher,
    RemovalReason,
    TxAdded,
    TxRemoved,
)
from chaincrawler.crawler.mempool_models import MempoolFeed, MempoolModel
from chaincrawler.eventstore import BlockRecord, EventStore, SQLiteEventStore
from chaincrawler.models import Event
from chaincrawler.testing.blocks import block
from chaincrawler.testing.chaingen import ChainGenerator
from tests.crawler.registry_kit import simnode_client
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


class Seen(Event):
    txid: str


class Gone(Event):
    txid: str
    reason: str


class Recorder(MempoolModel):
    """Emits a mempool event for every transaction it sees come and go."""

    name = "recorder"

    def process_mempool(self, change: MempoolChange) -> None:
        if isinstance(change, MempoolLoaded):
            for added in change.txs:
                self.emit(Seen(txid=added.txid), txid=added.txid)
        elif isinstance(change, TxAdded):
            self.emit(Seen(txid=change.txid), txid=change.txid)
        else:
            self.emit(Gone(txid=change.txid, reason=str(change.reason)), txid=change.txid)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EventStore]:
    store = SQLiteEventStore(tmp_path / "store.db")
    await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    yield store
    await store.close()


async def watching(node: Node, zmq: Feed) -> MempoolWatcher:
    """A started watcher whose first change (the whole mempool) is still queued."""
    watcher = MempoolWatcher(node, REGTEST, zmq, reconcile_interval=600)  # type: ignore[arg-type]
    await watcher.__aenter__()
    return watcher


async def test_emitted_events_are_stored_and_a_failure_is_recorded(store: EventStore):
    first, second = tx(1), tx(2)
    node, zmq = Node(first), Feed()
    await store.set_mempool_failure("broken", "KeyError: from the previous run")
    watcher = await watching(node, zmq)
    feed = MempoolFeed(watcher, [Broken(), Recorder()], store, retention=timedelta(days=1))
    await feed.start()
    assert await store.mempool_failures() == []  # a new run: every model runs again
    run = asyncio.create_task(feed.run())
    node.mempool[second.txid] = second
    zmq.push("A", second.txid, 10)
    async with asyncio.timeout(5):
        while await store.max_mempool_position() < 2 or not await store.mempool_failures():
            await asyncio.sleep(0.01)
    run.cancel()
    events = await store.read_mempool_events()
    assert [(e.model, e.event_type, e.txid, json.loads(e.payload)) for e in events] == [
        ("recorder", "Seen", first.txid, {"txid": first.txid}),
        ("recorder", "Seen", second.txid, {"txid": second.txid}),
    ]
    assert all(e.block_height is None for e in events)
    assert await store.read_events() == []  # nothing in the block log
    (failure,) = await store.mempool_failures()
    assert (failure.model, failure.error) == ("broken", "KeyError: 'no such address'")
    await watcher.__aexit__()


async def test_a_confirmation_goes_into_the_blocks_commit_once(store: EventStore):
    held, late = tx(1), tx(2)
    node, zmq = Node(held), Feed()
    watcher = await watching(node, zmq)
    feed = MempoolFeed(watcher, [Recorder()], store, confirms_blocks=True)
    mined = block(1, [held, late])
    record = BlockRecord(1, mined.hash, mined.prev_hash, mined.header.time)
    await store.append_mempool_events(feed.deliver(await watcher.get()))  # the snapshot
    # The watcher reports the confirmation before the crawler processed the block: held
    # back, the crawler's confirm() delivers it.
    assert feed.deliver(TxRemoved(held.txid, RemovalReason.CONFIRMED, mined.hash, 1)) == []
    await feed.confirm(mined, 1, mined.hash)
    await store.commit([record], [], mempool_events=feed.take([record]))
    events = await store.read_mempool_events()
    assert [(e.event_type, e.txid, e.block_height, e.block_hash) for e in events] == [
        ("Seen", held.txid, None, None),
        ("Gone", held.txid, 1, mined.hash),
    ]
    assert json.loads(events[1].payload)["reason"] == "confirmed"
    # A transaction the models heard of only after the block was committed is confirmed
    # when the watcher reports it, on its own.
    assert [e.event_type for e in feed.deliver(TxAdded(late))] == ["Seen"]
    gone = feed.deliver(TxRemoved(late.txid, RemovalReason.CONFIRMED, mined.hash, 1))
    assert [(e.event_type, e.txid, e.block_height) for e in gone] == [("Gone", late.txid, None)]
    assert feed.deliver(TxAdded(held)) != []  # a reorg returning it: seen again
    await watcher.__aexit__()


async def test_run_reconciles_and_prunes_mempool_events_as_the_settings_say(
    tmp_path: Path, store: EventStore
) -> None:
    # No ZMQ: new transactions are found by reconciling, every reconcile_interval seconds
    # (the default, 30 s, would outlast the waits below).
    settings = load_settings(network="regtest",
                             mempool={"retention": 0.2, "reconcile_interval": 0.1},
                             crawler={"poll_interval": 0.05})
    async with simnode_client(tmp_path / "node", 0) as rpc, contextlib.AsyncExitStack() as stack:
        gen = ChainGenerator(rpc, seed="retention")
        await gen.mine_until_mature()
        await start_mempool(stack, rpc, store, settings, [Recorder()])
        first = await gen.send()

        async def stored(txid: str) -> None:
            async with asyncio.timeout(10):
                while txid not in {e.txid for e in await store.read_mempool_events()}:
                    await asyncio.sleep(0.02)

        await stored(first)
        await asyncio.sleep(0.3)  # the first event is now past the retention
        second = await gen.send()
        await stored(second)
        assert [e.txid for e in await store.read_mempool_events()] == [second]
