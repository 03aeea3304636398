"""Tip following by ZMQ: the crawler wakes the moment the node announces a block.

:class:`ZmqFollower` listens to ``sequence`` (block connected ``C`` / disconnected
``D``), or to ``hashblock`` when the node publishes no ``sequence`` (a reorg that only
disconnects blocks, ``invalidateblock``, then shows up at the next poll). Any doubt --
a gap in a topic's counter (dropped messages, or a restarted node) -- wakes the crawler
too, which then asks the node for its tip by RPC, as after every wait. Polling stays the
floor: the follower wakes at least every ``interval`` seconds, and when the node's tip
moved and no notification of it came within one more interval it logs a warning (ZMQ is
dead or misconfigured) and the crawl goes on by polling.

:func:`tip_follower` picks the follower: ZMQ when the settings name endpoints or the node
advertises them (``getzmqnotifications``), else polling.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Mapping
from typing import Self

import structlog

from chaincrawler.crawler.follow import PollingFollower, TipFollower
from chaincrawler.node.client import NodeClient
from chaincrawler.node.errors import NodeConfigError, NodeError
from chaincrawler.node.zmq import ZmqMessage, ZmqSubscriber

log = structlog.get_logger(__name__)

BLOCK_TOPICS = ("sequence", "hashblock")
"""Topics announcing blocks, preferred first: ``sequence`` also tells disconnections."""


class ZmqFollower(TipFollower):
    """Wakes on every block notification or doubt, and at least every ``interval`` s."""

    def __init__(self, node: NodeClient, subscriber: ZmqSubscriber, interval: float) -> None:
        if interval <= 0:
            raise ValueError(f"poll interval must be > 0, not {interval}")
        self.node = node
        self.subscriber = subscriber
        self.interval = interval
        self.notifications = 0
        """Block notifications and doubts that woke the crawler."""
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._announced: deque[str | None] = deque(maxlen=64)  # block hashes ZMQ announced
        self._polled: str | None = None  # the node's tip at the last floor check
        self._unannounced: str | None = None  # a new tip that check found not announced
        self._silent = False  # ZMQ missed a block: warned, following by polling

    async def __aenter__(self) -> Self:
        self.subscriber.connect()
        self._task = asyncio.create_task(self._listen(), name="zmq-follower")
        with contextlib.suppress(NodeError):  # the baseline of the first floor check
            self._polled = await self.node.get_best_block_hash()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.subscriber.close()

    async def _listen(self) -> None:
        async for message in self.subscriber:
            if _announces_block(message):
                self._announced.append(message.hash)
            elif not message.gap:
                continue
            if self._silent:
                log.info("zmq.notifications_back", topic=message.topic)
                self._silent = False
            self.notifications += 1
            self._wake.set()

    async def wait(self, stopping: asyncio.Event) -> None:
        """Return at the next block notification or doubt, when ``stopping`` is set, or
        after ``interval`` seconds (then check that ZMQ did not miss the node's tip)."""
        if not self._wake.is_set() and not stopping.is_set():
            waiters = [asyncio.ensure_future(e.wait()) for e in (self._wake, stopping)]
            done, pending = await asyncio.wait(
                waiters, timeout=self.interval, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in pending:
                waiter.cancel()
            if not done and not stopping.is_set():
                await self._check_floor()
        self._wake.clear()

    async def _check_floor(self) -> None:
        try:
            tip = await self.node.get_best_block_hash()
        except NodeError:
            return  # an outage: the crawler's next poll deals with it
        # A new tip gets one floor interval for its notification to arrive.
        suspect = self._unannounced
        moved = self._polled is not None and tip != self._polled
        self._unannounced = tip if moved and tip not in self._announced else None
        self._polled = tip
        if suspect is not None and suspect not in self._announced and not self._silent:
            self._silent = True
            log.warning(
                "zmq.missed_block",
                tip=suspect,
                hint=f"the node's tip moved without a ZMQ notification; "
                f"following by polling every {self.interval:g}s",
            )


def _announces_block(message: ZmqMessage) -> bool:
    if message.topic == "hashblock":
        return True
    return message.event is not None and message.event.kind in ("C", "D")


async def tip_follower(
    node: NodeClient, topic_endpoints: Mapping[str, str], interval: float
) -> TipFollower:
    """A :class:`ZmqFollower` on the first of :data:`BLOCK_TOPICS` that ``topic_endpoints``
    (the settings) names or, when they name none, that the node advertises; else a
    :class:`PollingFollower`."""
    for topic in BLOCK_TOPICS:
        if topic in topic_endpoints:
            return ZmqFollower(node, ZmqSubscriber(topic_endpoints[topic], (topic,)), interval)
    try:
        notifications = await node.get_zmq_notifications()
    except NodeError as exc:
        log.info("zmq.not_advertised", reason=str(exc), following="polling")
        return PollingFollower(interval)
    for topic in BLOCK_TOPICS:
        try:
            subscriber = ZmqSubscriber.from_notifications(notifications, (topic,))
        except NodeConfigError:
            continue
        log.info("zmq.discovered", topic=topic, endpoints=subscriber.endpoints)
        return ZmqFollower(node, subscriber, interval)
    log.info("zmq.not_advertised", following="polling")
    return PollingFollower(interval)
