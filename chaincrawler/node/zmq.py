"""ZMQ subscriber for Bitcoin Core's notifications (``-zmqpub<topic>=<address>``).

Core publishes three-frame messages ``[topic, body, counter]`` (doc/zmq.md), where
``counter`` is a 4-byte little-endian number incremented per topic and per publisher.
A jump in it means messages were dropped (ZMQ's high-water mark), so every
:class:`ZmqMessage` carries ``gap``/``missed`` for the mempool to reconcile.

Hashes in ``hashblock``, ``hashtx`` and ``sequence`` bodies are already in display
(RPC) byte order, so ``body.hex()`` is the hash exactly as ``getblockhash`` prints it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Literal, cast

import structlog
import yarl
import zmq
import zmq.asyncio

from chaincrawler.node.errors import MalformedZmqMessage, NodeConfigError

log = structlog.get_logger(__name__)

ZMQ_TOPICS: tuple[str, ...] = ("hashblock", "hashtx", "rawblock", "rawtx", "sequence")
"""Every topic Bitcoin Core publishes (``-zmqpub<topic>``), in Core's (alphabetical) order."""

SequenceKind = Literal["C", "D", "A", "R"]
_KINDS: dict[int, SequenceKind] = {ord("C"): "C", ord("D"): "D", ord("A"): "A", ord("R"): "R"}
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "*", "::", "[::]"})


@dataclasses.dataclass(frozen=True, slots=True)
class SequenceEvent:
    """A parsed ``sequence`` body.

    ``kind``: ``C`` block connected, ``D`` block disconnected, ``A`` tx added to the
    mempool, ``R`` tx removed for a reason other than block inclusion.
    ``mempool_sequence`` is set for ``A``/``R`` only; it matches
    ``getrawmempool(mempool_sequence=True)``.
    """

    hash: str
    kind: SequenceKind
    mempool_sequence: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class ZmqMessage:
    """One notification.

    ``sequence`` is the publisher's per-topic counter. ``gap`` is True when ``missed``
    (> 0) earlier messages of this topic from this endpoint never arrived (or were
    malformed); the first message seen on a topic never has a gap. ``hash`` is set for
    ``hashblock``, ``hashtx`` and ``sequence``; ``event`` for ``sequence``.
    """

    topic: str
    body: bytes
    sequence: int
    endpoint: str
    hash: str | None = None
    event: SequenceEvent | None = None
    gap: bool = False
    missed: int = 0


class MalformedFrames(MalformedZmqMessage):
    """A malformed notification; ``kind`` names the defect (``frames``, ``topic``,
    ``<topic> counter``, ``<topic> body``, ``sequence label``) so each is logged once."""

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        super().__init__(reason)


def parse_frames(frames: Sequence[bytes], endpoint: str) -> ZmqMessage:
    """Parse Core's ``[topic, body, 4-byte LE counter]``; raise :class:`MalformedFrames`."""
    if len(frames) != 3:
        raise MalformedFrames("frames", f"expected 3 frames, got {len(frames)}")
    raw_topic, body, counter = frames
    try:
        topic = raw_topic.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedFrames("topic", f"topic is not ASCII: {raw_topic[:32]!r}") from None
    if topic not in ZMQ_TOPICS:
        raise MalformedFrames("topic", f"unknown topic {topic[:32]!r}")
    if len(counter) != 4:
        raise MalformedFrames(
            f"{topic} counter", f"{topic}: counter is {len(counter)} bytes, expected 4"
        )
    sequence = int.from_bytes(counter, "little")
    if topic in ("hashblock", "hashtx"):
        if len(body) != 32:
            raise MalformedFrames(
                f"{topic} body", f"{topic}: body is {len(body)} bytes, expected 32"
            )
        return ZmqMessage(topic, body, sequence, endpoint, hash=body.hex())
    if topic == "sequence":
        event = parse_sequence_body(body)
        return ZmqMessage(topic, body, sequence, endpoint, hash=event.hash, event=event)
    if not body:
        raise MalformedFrames(f"{topic} body", f"{topic}: empty body")
    return ZmqMessage(topic, body, sequence, endpoint)


def parse_sequence_body(body: bytes) -> SequenceEvent:
    """Decode a ``sequence`` body: 32-byte hash, label ``C``/``D``/``A``/``R``, and for
    ``A``/``R`` the 8-byte little-endian mempool sequence."""
    kind = _KINDS.get(body[32]) if len(body) > 32 else None
    if kind is None:
        raise MalformedFrames(
            "sequence label", f"sequence: no C/D/A/R label in a {len(body)}-byte body"
        )
    expected = 41 if kind in ("A", "R") else 33
    if len(body) != expected:
        raise MalformedFrames(
            "sequence body", f"sequence {kind}: body is {len(body)} bytes, expected {expected}"
        )
    mempool_sequence = int.from_bytes(body[33:41], "little") if expected == 41 else None
    return SequenceEvent(body[:32].hex(), kind, mempool_sequence)


DEFAULT_TOPICS = ("hashblock", "sequence")
"""New blocks, and the mempool's adds and removes (with block connects/disconnects)."""


class ZmqSubscriber:
    """Subscribe to one or more Core ZMQ endpoints and yield :class:`ZmqMessage` s.

    ``endpoints`` is one endpoint, several (each subscribed to ``topics``), or a
    mapping of endpoint -> its topics. One SUB socket per endpoint, so counters (and
    gaps) are tracked per publisher. Malformed messages are skipped, counted in
    :attr:`malformed` and logged once per kind of defect. Use as
    an async context manager and iterate with ``async for``, or call :meth:`recv`.
    """

    def __init__(
        self,
        endpoints: str | Sequence[str] | Mapping[str, Iterable[str]],
        topics: Iterable[str] = DEFAULT_TOPICS,
        *,
        rcvhwm: int = 100_000,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        if isinstance(endpoints, Mapping):
            pairs = [(ep, frozenset(ts)) for ep, ts in endpoints.items()]
        else:
            listed = [endpoints] if isinstance(endpoints, str) else list(endpoints)
            pairs = [(ep, frozenset(topics)) for ep in listed]
        self.subscriptions: dict[str, frozenset[str]] = dict(pairs)
        if not self.subscriptions:
            raise NodeConfigError("ZmqSubscriber needs at least one endpoint")
        for endpoint, wanted in self.subscriptions.items():
            unknown = wanted.difference(ZMQ_TOPICS)
            if unknown or not wanted:
                raise NodeConfigError(
                    f"{endpoint}: unknown ZMQ topics {sorted(unknown)}; "
                    f"choose from {list(ZMQ_TOPICS)}"
                )
        self._rcvhwm = rcvhwm
        self._context = context or zmq.asyncio.Context.instance()
        self._sockets: dict[zmq.asyncio.Socket, str] = {}
        self._poller = zmq.asyncio.Poller()
        self._ready: deque[zmq.asyncio.Socket] = deque()
        self._last: dict[tuple[str, str], int] = {}
        self.malformed: Counter[str] = Counter()
        """Malformed messages skipped, by kind of defect (see :class:`MalformedFrames`)."""

    @property
    def endpoints(self) -> list[str]:
        """The endpoints, in subscription order."""
        return list(self.subscriptions)

    @property
    def topics(self) -> frozenset[str]:
        """Every topic subscribed to, on any endpoint."""
        return frozenset().union(*self.subscriptions.values())

    @classmethod
    def from_topic_map(
        cls,
        topic_endpoints: Mapping[str, str],
        *,
        rcvhwm: int = 100_000,
        context: zmq.asyncio.Context | None = None,
    ) -> ZmqSubscriber:
        """Build from ``{topic: endpoint}`` (as ``NodeSettings.zmq_subscriptions`` gives)."""
        by_endpoint: dict[str, set[str]] = {}
        for topic, endpoint in topic_endpoints.items():
            by_endpoint.setdefault(endpoint, set()).add(topic)
        return cls(by_endpoint, rcvhwm=rcvhwm, context=context)

    @classmethod
    def from_notifications(
        cls,
        notifications: Iterable[Mapping[str, Any]],
        topics: Iterable[str] = DEFAULT_TOPICS,
        *,
        wildcard_host: str = "127.0.0.1",
        rcvhwm: int = 100_000,
        context: zmq.asyncio.Context | None = None,
    ) -> ZmqSubscriber:
        """Build from ``getzmqnotifications``, subscribing to those of ``topics`` the node has.

        Addresses bound to a wildcard (``tcp://0.0.0.0:28332``) are reached through
        ``wildcard_host``. Raises :class:`NodeConfigError` if the node publishes none
        of ``topics``.
        """
        wanted = frozenset(topics)
        topic_endpoints: dict[str, str] = {}
        for note in notifications:
            topic = str(note.get("type", "")).removeprefix("pub")
            address = str(note.get("address", ""))
            if topic not in wanted or not address or topic in topic_endpoints:
                continue
            url = yarl.URL(address)
            if url.host in _WILDCARD_HOSTS:
                address = str(url.with_host(wildcard_host))
            topic_endpoints[topic] = address
        if not topic_endpoints:
            raise NodeConfigError(
                f"the node publishes none of the ZMQ topics {sorted(wanted)} "
                f"(start it with -zmqpub<topic>=tcp://127.0.0.1:28332)"
            )
        return cls.from_topic_map(topic_endpoints, rcvhwm=rcvhwm, context=context)

    def connect(self) -> None:
        """Open the sockets (idempotent; :meth:`recv` calls it)."""
        if self._sockets:
            return
        for endpoint, wanted in self.subscriptions.items():
            sock = self._context.socket(zmq.SUB)
            sock.setsockopt(zmq.RCVHWM, self._rcvhwm)
            sock.setsockopt(zmq.TCP_KEEPALIVE, 1)
            sock.setsockopt(zmq.LINGER, 0)
            for topic in sorted(wanted):
                sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
            try:
                sock.connect(endpoint)
            except zmq.ZMQError as exc:
                sock.close()
                self.close()
                raise NodeConfigError(f"cannot connect to ZMQ endpoint {endpoint}: {exc}") from None
            self._sockets[sock] = endpoint
            self._poller.register(sock, zmq.POLLIN)
        log.info(
            "zmq.subscribed",
            subscriptions={ep: sorted(ts) for ep, ts in self.subscriptions.items()},
        )

    def close(self) -> None:
        """Close the sockets (the shared context stays open)."""
        for sock in self._sockets:
            self._poller.unregister(sock)
            sock.close(linger=0)
        self._sockets.clear()
        self._ready.clear()

    async def __aenter__(self) -> ZmqSubscriber:
        self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def __aiter__(self) -> AsyncIterator[ZmqMessage]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[ZmqMessage]:
        while True:
            yield await self.recv()

    async def recv(self) -> ZmqMessage:
        """Wait for the next well-formed message from any endpoint."""
        while True:
            message = await self.receive(None)
            if message is not None:
                return message

    async def receive(self, timeout: float | None) -> ZmqMessage | None:
        """The next well-formed message, or None when none came within ``timeout``
        seconds (``None``: wait for ever; ``0``: only what is already queued)."""
        self.connect()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if not self._ready:
                wait_ms = None if deadline is None else max(0, (deadline - loop.time()) * 1000)
                events = await self._poller.poll(wait_ms)
                self._ready.extend(
                    cast(zmq.asyncio.Socket, sock) for sock, flags in events if flags & zmq.POLLIN
                )
                if not self._ready:
                    return None
            sock = self._ready.popleft()
            endpoint = self._sockets.get(sock)
            if endpoint is None:  # closed meanwhile
                continue
            try:
                frames = await sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:  # another reader took it
                continue
            message = self._accept(frames, endpoint)
            if message is not None:
                return message
            await asyncio.sleep(0)  # a flood of bad frames must not starve the loop

    def _accept(self, frames: Sequence[bytes], endpoint: str) -> ZmqMessage | None:
        try:
            message = parse_frames(frames, endpoint)
        except MalformedFrames as exc:
            self.malformed[exc.kind] += 1
            if self.malformed[exc.kind] == 1:  # once per kind: a bad node must not flood
                log.warning(
                    "zmq.malformed_message",
                    endpoint=endpoint,
                    kind=exc.kind,
                    frames=len(frames),
                    reason=str(exc),
                )
            return None
        key = (endpoint, message.topic)
        previous = self._last.get(key)
        self._last[key] = message.sequence
        if previous is None:
            return message
        missed = (message.sequence - previous - 1) % 2**32
        if missed == 0:
            return message
        log.warning(
            "zmq.gap",
            endpoint=endpoint,
            topic=message.topic,
            expected=(previous + 1) % 2**32,
            got=message.sequence,
            missed=missed,
        )
        return dataclasses.replace(message, gap=True, missed=missed)
