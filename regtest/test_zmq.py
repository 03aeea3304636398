"""ZMQ publishers: topics, bodies, per-topic counters, and D-then-C sequence on reorgs."""

from __future__ import annotations

import pytest

from chaincrawler.node.zmq import ZMQ_TOPICS
from chaincrawler.testing.recorded import recorded
from regtest.harness import ZmqListener

pytestmark = pytest.mark.zmq


@pytest.fixture
async def zmq_listener(node, gen):
    listener = ZmqListener(node.zmq_endpoints, ZMQ_TOPICS)
    await listener.connect(lambda: gen.mine(1))
    yield listener
    listener.close()


def _counters_consecutive(messages):
    counters = [c for _, c in messages]
    return counters == list(range(counters[0], counters[0] + len(counters)))


async def test_transaction_then_block_messages(rpc, gen, zmq_listener):
    txid = await gen.send()
    raw_tx = (await rpc.get_raw_transaction(txid)).hex()
    body, _ = await zmq_listener.recv("rawtx")
    assert body.hex() == raw_tx
    body, _ = await zmq_listener.recv("hashtx")
    assert body.hex() == txid  # hashes travel in display (RPC) byte order
    body, _ = await zmq_listener.recv("sequence")
    assert body[:32].hex() == txid and body[32:33] == b"A" and len(body) == 41
    snapshot = await rpc.get_raw_mempool(mempool_sequence=True)
    assert int.from_bytes(body[33:], "little") < snapshot.mempool_sequence

    (block_hash,) = await gen.mine(1)
    body, _ = await zmq_listener.recv("hashblock")
    assert body.hex() == block_hash
    body, _ = await zmq_listener.recv("rawblock")
    assert body == await rpc.get_raw_block(block_hash)
    sequence = await zmq_listener.drain("sequence")
    assert [b for b, _ in sequence] == [bytes.fromhex(block_hash) + b"C"]
    block_txs = await zmq_listener.drain("rawtx")
    assert len(block_txs) == len((await rpc.get_block_verbose(block_hash))["tx"])
    assert raw_tx in {b.hex() for b, _ in block_txs}


async def test_counters_increase_by_one_per_topic(gen, zmq_listener):
    await gen.send()
    await gen.mine(2)
    for topic in ZMQ_TOPICS:
        messages = await zmq_listener.drain(topic)
        assert messages, topic
        assert _counters_consecutive(messages), (topic, [c for _, c in messages])


async def test_reorg_publishes_disconnects_then_connects(gen, zmq_listener):
    await gen.send()
    await gen.mine(2)
    for topic in ZMQ_TOPICS:
        await zmq_listener.drain(topic)
    result = await gen.reorg(2, 3)
    messages = await zmq_listener.drain("sequence")
    assert _counters_consecutive(messages)
    blocks = [(b[32:33], b[:32].hex()) for b, _ in messages if b[32:33] in (b"C", b"D")]
    assert blocks == [
        *((b"D", h) for h in reversed(result.disconnected)),
        *((b"C", h) for h in result.connected),
    ]
    hashblocks = await zmq_listener.drain("hashblock")
    assert [b.hex() for b, _ in hashblocks] == result.connected


def test_recorded_frames_have_three_parts():
    # The recorded capture these tests mirror: [topic, body, 4-byte LE counter].
    for topic, _body, counter in recorded("42-")["frames"]:
        assert topic in ZMQ_TOPICS and len(bytes.fromhex(counter)) == 4


def _labels(messages):
    """``(label, hash, mempool sequence or None)`` of ``sequence`` messages."""
    return [
        (b[32:33].decode(), b[:32].hex(), int.from_bytes(b[33:], "little") if b[33:] else None)
        for b, _ in messages
    ]


async def test_replacement_publishes_r_of_the_replaced_then_a_of_the_replacement(
    gen, zmq_listener
):
    coin = gen.coins()[0]
    first = gen.create_transaction([coin], gen.random_payments(1))
    await gen.send_transaction(first)
    second = gen.create_transaction([coin], gen.random_payments(1), fee_rate=20)
    await gen.send_transaction(second)  # full RBF: Core 28+ needs no BIP125 signal
    events = _labels(await zmq_listener.drain("sequence"))
    assert [(label, txid) for label, txid, _ in events] == [
        ("A", first.txid), ("R", first.txid), ("A", second.txid)
    ]
    assert [seq for _, _, seq in events] == [events[0][2], events[0][2] + 1, events[0][2] + 2]
    await gen.mine(1)


async def test_double_spend_reorg_publishes_d_a_then_r_before_c(gen, zmq_listener):
    await gen.send()
    await gen.mine(1)
    await zmq_listener.drain("sequence")
    await zmq_listener.drain("hashblock")
    result = await gen.reorg(1, 1, double_spend=True)
    events = _labels(await zmq_listener.drain("sequence"))
    (old,), (new,) = result.disconnected, result.connected
    labels = [label for label, _, _ in events]
    # invalidateblock: D, then A for each transaction back in the mempool (the victim too);
    # the double-spending block: R for the victim (removed as a conflict) before its C.
    victim = result.double_spent_txid
    first_r = labels.index("R")
    assert labels[0] == "D" and events[0][1] == old
    assert set(labels[1:first_r]) == {"A"} and victim in {t for _, t, _ in events[1:first_r]}
    assert set(labels[first_r:-1]) == {"R"} and victim in {t for _, t, _ in events[first_r:-1]}
    assert events[-1][:2] == ("C", new)
    assert [b.hex() for b, _ in await zmq_listener.drain("hashblock")] == [new]


async def test_reorg_to_a_heavier_branch_announces_its_blocks_after_the_mempool_update(
    rpc, gen, zmq_listener
):
    # A branch of two empty blocks, set aside; then one block confirming a transaction.
    miner = gen.other_miner_address()
    c1 = (await rpc.call("generateblock", miner, []))["hash"]
    c2 = (await rpc.call("generateblock", miner, []))["hash"]
    await rpc.call("invalidateblock", c1)
    txid = await gen.send()
    (b1,) = await gen.mine(1)
    for topic in ("sequence", "hashblock"):
        await zmq_listener.drain(topic)
    await rpc.call("reconsiderblock", c1)  # the two-block branch wins: one activation step
    events = [(label, h) for label, h, _ in _labels(await zmq_listener.drain("sequence"))]
    # Core: D at once, the mempool update (A of the returned transaction), and only then
    # BlockConnected (C) for each block of the step; one hashblock for the new tip.
    assert events == [("D", b1), ("A", txid), ("C", c1), ("C", c2)]
    assert [b.hex() for b, _ in await zmq_listener.drain("hashblock")] == [c2]
    await gen.sync()


async def test_invalidateblock_disconnects_block_by_block_each_followed_by_its_returns(
    rpc, gen, zmq_listener
):
    first = await gen.send()
    (b1,) = await gen.mine(1)
    second = await gen.send()
    (b2,) = await gen.mine(1)
    await zmq_listener.drain("sequence")
    await rpc.call("invalidateblock", b1)  # Core's InvalidateBlock: one block at a time
    events = [(label, h) for label, h, _ in _labels(await zmq_listener.drain("sequence"))]
    assert events == [("D", b2), ("A", second), ("D", b1), ("A", first)]
    await rpc.call("reconsiderblock", b1)
    await gen.sync()
