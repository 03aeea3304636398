"""How the crawler learns the node may have a new tip, and how it rides out a node outage.

A :class:`TipFollower` is the strategy: :class:`PollingFollower` (the floor: wait a fixed
interval) today; a ZMQ follower is another subclass. Whatever it says, the crawler asks
the node for its tip after every wait, so a follower that wakes too often costs a poll
and one that misses a notification delays a block until its next wake-up.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
from typing import Self

import structlog

from chaincrawler.node.errors import NodeError, NodeUnreachableError, RPCError, RpcErrorCode

log = structlog.get_logger(__name__)


class TipFollower(abc.ABC):
    """Waits until the node may have something new (a block, a reorg), or until stopped.

    Used as an async context manager around the whole crawl (catch-up included), so a
    follower that subscribes to notifications misses none while the crawler catches up.
    """

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    @abc.abstractmethod
    async def wait(self, stopping: asyncio.Event) -> None:
        """Return when the node may have a new tip, or as soon as ``stopping`` is set."""


class PollingFollower(TipFollower):
    """Wakes every ``interval`` seconds: the crawler then polls the node's tip."""

    def __init__(self, interval: float) -> None:
        if interval <= 0:
            raise ValueError(f"poll interval must be > 0, not {interval}")
        self.interval = interval

    async def wait(self, stopping: asyncio.Event) -> None:
        await pause(stopping, self.interval)


async def pause(stopping: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stopping`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the node is down or restarting (worth waiting for)."""
    if isinstance(exc, NodeUnreachableError):
        return True
    return isinstance(exc, RPCError) and exc.code == RpcErrorCode.IN_WARMUP


class NodeOutage:
    """A node outage while following: when it began, the next retry delay, its log lines.

    Logs a warning once when it begins and an info line with its duration when it ends;
    retries wait ``initial_delay * 2**n`` seconds, capped at ``max_delay``.
    """

    def __init__(self, initial_delay: float = 1.0, max_delay: float = 30.0) -> None:
        self.initial_delay = initial_delay
        self.max_delay = max_delay
        self.since: float | None = None
        self._started = 0.0
        self._failures = 0

    def failed(self, exc: NodeError) -> float:
        """Record a failed attempt; the seconds to wait before the next one."""
        if self.since is None:
            self.since = time.time()
            self._started = time.monotonic()
            log.warning("node outage: retrying until it is back", error=str(exc))
        delay = min(self.max_delay, self.initial_delay * 2.0**self._failures)
        self._failures += 1
        return delay

    def ended(self) -> None:
        """The node answered again (a no-op when there was no outage)."""
        if self.since is None:
            return
        log.info("node outage over", seconds=round(time.monotonic() - self._started, 1),
                 attempts=self._failures)
        self.since = None
        self._failures = 0
