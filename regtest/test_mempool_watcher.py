"""The mempool watcher against the node: snapshot, adds, confirmations, replacements,
conflicts, reorgs, restarts, lost ZMQ messages, and polling without ZMQ."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Transaction
from chaincrawler.crawler.mempool import (
    MEMPOOL_TOPICS,
    MempoolChange,
    MempoolLoaded,
    MempoolWatcher,
    RemovalReason,
    TxAdded,
    TxRemoved,
)
from chaincrawler.node.client import NodeClient, RetryPolicy
from chaincrawler.node.zmq import ZmqSubscriber
from chaincrawler.testing.chaingen import FEE_RATE, ChainGenerator

TIMEOUT = 15.0

WatcherFactory = Callable[..., Awaitable[MempoolWatcher]]


async def empty_mempool(gen: ChainGenerator) -> None:
    """Earlier tests may leave transactions; confirm them so snapshots are predictable."""
    if await gen.rpc.call("getrawmempool"):
        await gen.mine(1)


async def live_subscriber(node, rpc: NodeClient, gen: ChainGenerator) -> ZmqSubscriber:
    """A subscriber to the watcher's topics that is known to receive (slow joiner)."""
    sub = ZmqSubscriber.from_notifications(await rpc.get_zmq_notifications(), MEMPOOL_TOPICS)
    sub.connect()
    for _ in range(30):
        await gen.mine(1)
        if await sub.receive(1.0) is not None:
            break
    else:
        raise AssertionError("no ZMQ message from the node")
    while await sub.receive(0.3) is not None:
        pass
    return sub


@pytest.fixture
async def watchers(node, rpc, gen) -> AsyncIterator[WatcherFactory]:
    """Start watchers (ZMQ unless ``zmq=False``); each has its own retrying client."""
    stack: list[tuple[MempoolWatcher, NodeClient, ZmqSubscriber | None]] = []

    async def make(*, zmq: bool = True, **options: float) -> MempoolWatcher:
        sub = await live_subscriber(node, rpc, gen) if zmq else None
        client = NodeClient(node.url_with_auth, retry=RetryPolicy(attempts=2, initial_delay=0.2))
        watcher = MempoolWatcher(client, REGTEST, sub, poll_interval=0.2, **options)
        await watcher.__aenter__()
        stack.append((watcher, client, sub))
        return watcher

    yield make
    for watcher, client, sub in reversed(stack):
        await watcher.__aexit__(None, None, None)
        await client.close()
        if sub is not None:
            sub.close()


async def until(
    watcher: MempoolWatcher, done: Callable[[MempoolChange], bool], timeout: float = TIMEOUT
) -> list[MempoolChange]:
    """Changes up to and including the first for which ``done`` is true."""
    seen: list[MempoolChange] = []
    async with asyncio.timeout(timeout):
        while True:
            seen.append(await watcher.get())
            if done(seen[-1]):
                return seen


async def until_removed(watcher: MempoolWatcher, txids: set[str]) -> list[MempoolChange]:
    """Changes until every one of ``txids`` was reported removed."""
    left = set(txids)

    def done(change: MempoolChange) -> bool:
        if isinstance(change, TxRemoved):
            left.discard(change.txid)
        return not left

    return await until(watcher, done)


def added(txid: str) -> Callable[[MempoolChange], bool]:
    return lambda c: isinstance(c, TxAdded) and c.txid == txid


def removed(txid: str) -> Callable[[MempoolChange], bool]:
    return lambda c: isinstance(c, TxRemoved) and c.txid == txid


def removal(changes: list[MempoolChange], txid: str) -> TxRemoved:
    (found,) = [c for c in changes if isinstance(c, TxRemoved) and c.txid == txid]
    return found


async def send_child(gen: ChainGenerator, parent: Transaction) -> Transaction:
    """A transaction spending ``parent``'s change output (unconfirmed)."""
    (coin,) = [c for c in gen.coins() if c.outpoint.txid == parent.txid]
    child = gen.create_transaction([coin], gen.random_payments(1))
    await gen.send_transaction(child)
    return child


async def send_tx(gen: ChainGenerator) -> Transaction:
    coin = gen.coins()[0]
    tx = gen.create_transaction([coin], gen.random_payments(2))
    await gen.send_transaction(tx)
    return tx


# ---------------------------------------------------------------------------- tests


async def test_start_reports_the_whole_mempool_parents_first_with_prevouts(gen, watchers):
    await empty_mempool(gen)
    parent = await send_tx(gen)
    child = await send_child(gen, parent)
    watcher = await watchers(zmq=False)
    snapshot = await asyncio.wait_for(watcher.get(), TIMEOUT)
    assert isinstance(snapshot, MempoolLoaded)
    assert [c.txid for c in snapshot.txs] == [parent.txid, child.txid]
    (child_in,) = snapshot.txs[1].tx.inputs
    assert child_in.prev_txout == parent.outputs[child_in.prevout.vout]  # mempool parent
    (parent_in,) = snapshot.txs[0].tx.inputs
    assert parent_in.prev_txout is not None and parent_in.prev_txout.value > 0  # confirmed
    assert snapshot.mempool_sequence == (await gen.rpc.call("getrawmempool", False, True))[
        "mempool_sequence"
    ]


async def test_added_then_confirmed_in_a_block(gen, rpc, watchers):
    watcher = await watchers()
    assert isinstance(await watcher.get(), MempoolLoaded)
    tx = await send_tx(gen)
    (change,) = (await until(watcher, added(tx.txid)))[-1:]
    assert isinstance(change, TxAdded) and change.mempool_sequence is not None  # from ZMQ A
    assert all(i.prev_txout is not None for i in change.tx.inputs)
    (block_hash,) = await gen.mine(1)
    gone = (await until(watcher, removed(tx.txid)))[-1]
    height = (await rpc.get_block_header(block_hash))["height"]
    assert gone == TxRemoved(tx.txid, RemovalReason.CONFIRMED, block_hash, height)
    assert tx.txid not in watcher


async def test_full_rbf_replacement_names_the_replacing_transaction(gen, watchers):
    watcher = await watchers()
    assert isinstance(await watcher.get(), MempoolLoaded)
    coin = gen.coins()[0]
    first = gen.create_transaction([coin], gen.random_payments(1))
    await gen.send_transaction(first)
    await until(watcher, added(first.txid))
    child = await send_child(gen, first)
    await until(watcher, added(child.txid))
    second = gen.create_transaction([coin], gen.random_payments(1), fee_rate=FEE_RATE * 10)
    await gen.send_transaction(second)  # no BIP125 signal needed: full RBF
    changes = await until_removed(watcher, {first.txid, child.txid})
    changes += await until(watcher, added(second.txid))
    for txid in (first.txid, child.txid):
        assert removal(changes, txid).reason is RemovalReason.REPLACED
        assert removal(changes, txid).replaced_by == second.txid
    assert first.txid not in watcher and second.txid in watcher


async def test_conflicted_by_a_block(gen, rpc, watchers):
    watcher = await watchers()
    assert isinstance(await watcher.get(), MempoolLoaded)
    coin = gen.coins()[0]
    victim = gen.create_transaction([coin], gen.random_payments(1))
    await gen.send_transaction(victim)
    child = await send_child(gen, victim)
    await until(watcher, added(child.txid))
    double = gen.create_transaction([coin], gen.random_payments(1))
    reply = await rpc.call("generateblock", gen.other_miner_address(), [double.hex()])
    block_hash = str(reply["hash"])
    height = (await rpc.get_block_header(block_hash))["height"]
    changes = await until_removed(watcher, {victim.txid, child.txid})
    for txid in (victim.txid, child.txid):
        assert removal(changes, txid) == TxRemoved(
            txid, RemovalReason.CONFLICTED, block_hash, height
        )
    await gen.sync()


async def test_reorg_returns_confirmed_transactions_as_added(gen, rpc, watchers):
    watcher = await watchers()
    assert isinstance(await watcher.get(), MempoolLoaded)
    tx = await send_tx(gen)
    (block_hash,) = await gen.mine(1)
    await until(watcher, removed(tx.txid))
    await rpc.call("invalidateblock", block_hash)
    back = (await until(watcher, added(tx.txid)))[-1]
    assert isinstance(back, TxAdded) and back.tx.serialize() == tx.serialize()
    await rpc.call("reconsiderblock", block_hash)
    again = (await until(watcher, removed(tx.txid)))[-1]
    assert isinstance(again, TxRemoved) and again.reason is RemovalReason.CONFIRMED
    assert again.block_hash == block_hash
    await gen.sync()


async def test_without_zmq_polling_finds_adds_confirmations_and_replacements(gen, watchers):
    watcher = await watchers(zmq=False, reconcile_interval=0.3)
    assert isinstance(await watcher.get(), MempoolLoaded)
    tx = await send_tx(gen)
    change = (await until(watcher, added(tx.txid)))[-1]
    assert isinstance(change, TxAdded) and change.mempool_sequence is None
    (block_hash,) = await gen.mine(1)
    gone = (await until(watcher, removed(tx.txid)))[-1]
    assert isinstance(gone, TxRemoved) and gone.reason is RemovalReason.CONFIRMED
    assert gone.block_hash == block_hash
    coin = gen.coins()[0]
    first = gen.create_transaction([coin], gen.random_payments(1))
    await gen.send_transaction(first)
    await until(watcher, added(first.txid))
    second = gen.create_transaction([coin], gen.random_payments(1), fee_rate=FEE_RATE * 10)
    await gen.send_transaction(second)
    changes = await until(watcher, added(second.txid))
    assert removal(changes, first.txid).replaced_by == second.txid


async def test_lost_zmq_messages_are_healed_after_the_counter_gap(gen, watchers):
    # a long timer: only the gap in the sequence topic's counter can trigger the healing
    watcher = await watchers(reconcile_interval=600)
    assert isinstance(await watcher.get(), MempoolLoaded)
    sub = watcher._subscriber
    assert sub is not None
    endpoints = list(sub.endpoints)
    sockets = list(sub._sockets)
    for sock, endpoint in zip(sockets, endpoints, strict=True):
        sock.disconnect(endpoint)
    await asyncio.sleep(0.3)
    lost = await send_tx(gen)
    await asyncio.sleep(0.3)
    for sock, endpoint in zip(sockets, endpoints, strict=True):
        sock.connect(endpoint)
    healed: list[MempoolChange] = []
    for _ in range(20):  # until the subscription is back and a message shows the gap
        await send_tx(gen)
        try:
            healed = await until(watcher, added(lost.txid), timeout=0.5)
            break
        except TimeoutError:
            continue
    change = healed[-1]
    assert isinstance(change, TxAdded) and change.mempool_sequence is None  # by reconciling
    assert watcher.healed >= 1


async def test_node_restart_with_a_full_mempool(node, gen, watchers):
    watcher = await watchers(reconcile_interval=1.0)
    assert isinstance(await watcher.get(), MempoolLoaded)
    txs = [await send_tx(gen) for _ in range(3)]
    await until(watcher, added(txs[-1].txid))
    await asyncio.to_thread(node.restart)
    async with asyncio.timeout(TIMEOUT):  # Core loads mempool.dat after RPC is up
        while not {t.txid for t in txs} <= set(await gen.rpc.call("getrawmempool")):
            await asyncio.sleep(0.2)
    after = await send_tx(gen)
    await until(watcher, added(after.txid), timeout=30)
    async with asyncio.timeout(TIMEOUT):
        while watcher.txids() != set(await gen.rpc.call("getrawmempool")):
            await asyncio.sleep(0.2)
    assert {t.txid for t in txs} <= watcher.txids()
