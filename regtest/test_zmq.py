"""ZMQ publishers: topics, bodies, per-topic counters, and D-then-C sequence on reorgs."""

from __future__ import annotations

import pytest

from chaincrawler.node.zmq import ZMQ_TOPICS
from regtest.harness import ZmqListener, recorded

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
