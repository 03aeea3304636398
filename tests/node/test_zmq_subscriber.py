"""ZmqSubscriber against a real pyzmq publisher on 127.0.0.1 sending recorded Core frames."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import structlog
import zmq
import zmq.asyncio

from chaincrawler.node.errors import MalformedZmqMessage, NodeConfigError
from chaincrawler.node.zmq import (
    MalformedFrames,
    SequenceEvent,
    ZmqMessage,
    ZmqSubscriber,
    parse_frames,
    parse_sequence_body,
)
from chaincrawler.testing.recorded import CORE_REPLIES

REPLIES = CORE_REPLIES
RECORDED = json.loads((REPLIES / "42-ZMQ-tx-then-block.json").read_text())["frames"]
FRAMES = [[t.encode(), bytes.fromhex(b), bytes.fromhex(c)] for t, b, c in RECORDED]
TOPICS = ("rawtx", "sequence", "hashblock")
TXID = "866a43e0452fcb87b732ad32b00ee77390072c04405abaa96293d30dc01c518e"
BLOCK = "29e090b0c9d8e54cffd2cba983833d31531c20d9ac7bab51460574dd55cbc526"


class Publisher:
    """An XPUB socket: it sees subscriptions arrive, so tests never race the slow joiner."""

    def __init__(self, context: zmq.asyncio.Context) -> None:
        self.socket = context.socket(zmq.XPUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"

    async def wait_subscribed(self, topics: tuple[str, ...]) -> None:
        pending = {b"\x01" + t.encode() for t in topics}
        while pending:
            pending.discard(await asyncio.wait_for(self.socket.recv(), 5))

    async def send(self, frames: list[list[bytes]]) -> None:
        for message in frames:
            await self.socket.send_multipart(message)


@pytest.fixture
async def context() -> AsyncIterator[zmq.asyncio.Context]:
    ctx = zmq.asyncio.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def publisher(context: zmq.asyncio.Context) -> Iterator[Callable[[], Publisher]]:
    """Make publishers; each is closed at teardown (an unclosed one would block ctx.term)."""
    made: list[Publisher] = []

    def make() -> Publisher:
        made.append(Publisher(context))
        return made[-1]

    yield make
    for pub in made:
        pub.socket.close(linger=0)


async def subscribed(
    context: zmq.asyncio.Context, publishers: list[Publisher], topics: tuple[str, ...] = TOPICS
) -> ZmqSubscriber:
    sub = ZmqSubscriber([p.endpoint for p in publishers], topics, context=context)
    sub.connect()
    for pub in publishers:
        await pub.wait_subscribed(topics)
    return sub


async def receive(sub: ZmqSubscriber, count: int) -> list[ZmqMessage]:
    return [await asyncio.wait_for(sub.recv(), 5) for _ in range(count)]


async def test_recorded_core_frames_are_parsed_without_gaps(context, publisher):
    pub = publisher()
    async with await subscribed(context, [pub]) as sub:
        await pub.send(FRAMES)
        messages = await receive(sub, len(FRAMES))
    assert [m.topic for m in messages] == [t for t, _, _ in RECORDED]
    assert not any(m.gap for m in messages)
    assert [m.sequence for m in messages] == [0x6F, 0x6C, 0x70, 0x71, 0x6D, 0x68]
    added, connected = messages[1].event, messages[4].event
    # the txid as RPC prints it (display order), with the mempool sequence from the body
    assert added == SequenceEvent(TXID, "A", 5)
    assert connected == SequenceEvent(BLOCK, "C", None)
    assert messages[5].hash == BLOCK
    assert messages[0].body == FRAMES[0][1] and messages[0].hash is None
    assert all(m.endpoint == pub.endpoint for m in messages)


async def test_a_dropped_message_is_reported_as_a_gap(context, publisher):
    pub = publisher()
    async with await subscribed(context, [pub]) as sub:
        with structlog.testing.capture_logs() as logs:
            await pub.send([FRAMES[0], FRAMES[3]])  # rawtx 0x6f, then 0x71: 0x70 was lost
            first, second = await receive(sub, 2)
    assert not first.gap
    assert second.gap and second.missed == 1
    assert any(entry["event"] == "zmq.gap" for entry in logs)


async def test_malformed_messages_are_logged_skipped_and_count_as_missed(context, publisher):
    pub = publisher()
    good_tx, bad_counter, good_tx2 = FRAMES[0], [b"rawtx", FRAMES[2][1], b"\x70\x00"], FRAMES[3]
    async with await subscribed(context, [pub]) as sub:
        with structlog.testing.capture_logs() as logs:
            await pub.send(
                [
                    good_tx,
                    [b"hashblock", bytes(32)],  # two frames
                    [b"hashblock", bytes(31), b"\x00\x00\x00\x00"],  # short hash
                    [b"sequence", bytes(32) + b"X", b"\x00\x00\x00\x00"],  # unknown label
                    [b"sequence", bytes(32) + b"A", b"\x00\x00\x00\x00"],  # A without seq
                    bad_counter,
                    good_tx2,
                ]
            )
            first, second = await receive(sub, 2)
    assert first.sequence == 0x6F and second.sequence == 0x71
    assert second.gap and second.missed == 1  # the bad-counter rawtx was never delivered
    malformed = [entry for entry in logs if entry["event"] == "zmq.malformed_message"]
    assert len(malformed) == 5


async def test_counters_are_tracked_per_endpoint(context, publisher):
    pubs = [publisher(), publisher()]
    async with await subscribed(context, pubs, ("hashblock",)) as sub:
        await pubs[0].send([[b"hashblock", bytes(32), (7).to_bytes(4, "little")]])
        (a,) = await receive(sub, 1)
        await pubs[1].send([[b"hashblock", bytes(32), (500).to_bytes(4, "little")]])
        (b,) = await receive(sub, 1)
        await pubs[0].send([[b"hashblock", bytes(32), (8).to_bytes(4, "little")]])
        (c,) = await receive(sub, 1)
    assert (a.endpoint, b.endpoint, c.endpoint) == (
        pubs[0].endpoint,
        pubs[1].endpoint,
        pubs[0].endpoint,
    )
    assert not (a.gap or b.gap or c.gap)


async def test_async_iteration(context, publisher):
    pub = publisher()
    async with await subscribed(context, [pub], ("hashblock",)) as sub:
        await pub.send([FRAMES[5]])
        async for message in sub:
            assert message.hash == BLOCK
            break


def test_counter_wraps_around_without_a_gap():
    sub = ZmqSubscriber("tcp://127.0.0.1:1", ("hashblock",))
    last = sub._accept([b"hashblock", bytes(32), b"\xff\xff\xff\xff"], "e")
    wrapped = sub._accept([b"hashblock", bytes(32), b"\x00\x00\x00\x00"], "e")
    assert last is not None and wrapped is not None and not wrapped.gap


def test_parse_frames_rejects_unknown_topics():
    with pytest.raises(MalformedZmqMessage, match="unknown topic"):
        parse_frames([b"pubhashblock", bytes(32), bytes(4)], "e")
    disconnected = parse_frames([b"sequence", bytes(32) + b"D", bytes(4)], "e")
    assert disconnected.event == SequenceEvent("00" * 32, "D", None)


def test_from_notifications_uses_the_nodes_endpoints():
    notes = json.loads((REPLIES / "03-getzmqnotifications.json").read_text())["reply"]["result"]
    notes.append({"type": "pubhashtx", "address": "tcp://0.0.0.0:28333", "hwm": 1000})
    sub = ZmqSubscriber.from_notifications(notes, ("hashblock", "sequence", "hashtx"))
    assert sub.subscriptions == {
        "tcp://127.0.0.1:53233": {"hashblock", "sequence"},
        "tcp://127.0.0.1:28333": {"hashtx"},
    }
    with pytest.raises(NodeConfigError, match="rawblock"):
        ZmqSubscriber.from_notifications(notes, ("rawblock",))
    with pytest.raises(NodeConfigError, match="unknown ZMQ topics"):
        ZmqSubscriber("tcp://127.0.0.1:1", ("blocks",))


async def test_topic_map_subscribes_each_endpoint_to_its_own_topics(context, publisher):
    blocks, mempool = publisher(), publisher()
    topic_map = {"hashblock": blocks.endpoint, "sequence": mempool.endpoint}
    async with ZmqSubscriber.from_topic_map(topic_map, context=context) as sub:
        await blocks.wait_subscribed(("hashblock",))
        await mempool.wait_subscribed(("sequence",))
        await blocks.send([FRAMES[1], FRAMES[5]])  # its sequence frame is not subscribed
        (block,) = await receive(sub, 1)
        await mempool.send([FRAMES[1]])
        (added,) = await receive(sub, 1)
    assert (block.topic, block.endpoint) == ("hashblock", blocks.endpoint)
    assert (added.topic, added.endpoint) == ("sequence", mempool.endpoint)


def test_malformed_messages_are_counted_and_logged_once_per_kind():
    sub = ZmqSubscriber("tcp://127.0.0.1:1", ("hashblock", "sequence"))
    short_hash = [b"hashblock", bytes(31), bytes(4)]
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            assert sub._accept(short_hash, "e") is None
        assert sub._accept([b"sequence", bytes(32) + b"Z", bytes(4)], "e") is None
        assert sub._accept([b"hashblock", bytes(32)], "e") is None
        good = sub._accept([b"hashblock", bytes(32), bytes(4)], "e")
    assert good is not None and good.hash == "00" * 32  # the subscriber keeps going
    assert sub.malformed == {"hashblock body": 3, "sequence label": 1, "frames": 1}
    logged = [e["kind"] for e in logs if e["event"] == "zmq.malformed_message"]
    assert logged == ["hashblock body", "sequence label", "frames"]


def test_sequence_bodies_decode_to_typed_events():
    body = bytes.fromhex("e58b6f43cc629ee2a7574e103e16ee54255525cb56d1c8f327b00270bd397a0c")
    assert parse_sequence_body(body + b"R" + (2).to_bytes(8, "little")) == SequenceEvent(
        body.hex(), "R", 2
    )
    assert parse_sequence_body(body + b"C") == SequenceEvent(body.hex(), "C", None)
    with pytest.raises(MalformedFrames) as excinfo:
        parse_sequence_body(body + b"D" + bytes(8))  # D carries no mempool sequence
    assert excinfo.value.kind == "sequence body"
