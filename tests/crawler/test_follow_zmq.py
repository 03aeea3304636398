"""ZmqFollower's decisions on a scripted feed: what wakes the crawler and what does not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import structlog

from chaincrawler.crawler.follow_zmq import ZmqFollower
from chaincrawler.node.zmq import SequenceEvent, ZmqMessage

NEVER = 600.0


class Feed:
    """A ZmqSubscriber stand-in yielding the messages put in ``queue``."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[ZmqMessage] = asyncio.Queue()
        self.closed = False

    def connect(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def __aiter__(self) -> AsyncIterator[ZmqMessage]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[ZmqMessage]:
        while True:
            yield await self.queue.get()


class Node:
    def __init__(self) -> None:
        self.tip = "00" * 32

    async def get_best_block_hash(self) -> str:
        return self.tip


def sequence(kind: str, counter: int, *, gap: bool = False, hash: str = "ab" * 32) -> ZmqMessage:
    event = SequenceEvent(hash, kind, 1 if kind in "AR" else None)  # type: ignore[arg-type]
    return ZmqMessage("sequence", b"", counter, "e", event.hash, event, gap, int(gap))


async def settled(feed: Feed) -> None:
    while not feed.queue.empty():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)


async def test_blocks_and_gaps_wake_the_crawler_mempool_traffic_does_not():
    feed = Feed()
    follower = ZmqFollower(Node(), feed, NEVER)  # type: ignore[arg-type]
    async with follower:
        for message in (sequence("A", 1), sequence("R", 2)):
            feed.queue.put_nowait(message)
        await settled(feed)
        assert follower.notifications == 0
        feed.queue.put_nowait(sequence("A", 5, gap=True))  # messages were lost: doubt
        feed.queue.put_nowait(sequence("C", 6))
        feed.queue.put_nowait(sequence("D", 7))
        await settled(feed)
        assert follower.notifications == 3
        await asyncio.wait_for(follower.wait(asyncio.Event()), 5)  # woken: returns at once
    assert feed.closed


async def test_stopping_ends_a_wait():
    follower = ZmqFollower(Node(), Feed(), NEVER)  # type: ignore[arg-type]
    stopping = asyncio.Event()
    async with follower:
        waiting = asyncio.create_task(follower.wait(stopping))
        stopping.set()
        await asyncio.wait_for(waiting, 5)


async def test_a_late_notification_is_no_missed_block_a_missing_one_is_warned_once():
    node, feed = Node(), Feed()
    follower = ZmqFollower(node, feed, 0.05)  # type: ignore[arg-type]
    never = asyncio.Event()
    with structlog.testing.capture_logs() as logs:
        async with follower:
            node.tip = "b1" * 32
            await follower.wait(never)  # the floor check sees the new tip before its C
            feed.queue.put_nowait(sequence("C", 1, hash=node.tip))
            await settled(feed)
            for _ in range(3):
                await follower.wait(never)
            assert not [e for e in logs if e["event"] == "zmq.missed_block"]
            node.tip = "c2" * 32  # never announced
            for _ in range(4):
                await follower.wait(never)
            node.tip = "d3" * 32
            for _ in range(4):
                await follower.wait(never)
    warned = [e for e in logs if e["event"] == "zmq.missed_block"]
    assert [(e["log_level"], e["tip"]) for e in warned] == [("warning", "c2" * 32)]
