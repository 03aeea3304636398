"""Helpers of the regtest tests: recorded Core replies and shape checks, a ZMQ listener."""

from __future__ import annotations

import asyncio
from typing import Any

import zmq
import zmq.asyncio

from chaincrawler.testing.nodeproc import NodeHandle

REGTEST_BITS = 0x207FFFFF
RECORDED_VERSION = 319900
# Keys that Core releases older than the recorded build (31.99) may lack or name otherwise;
# only tolerated when BITCOIND runs such a release.
VERSION_DEPENDENT = frozenset({
    "target", "coinbase_tx", "vsize_adjusted", "vsize_bip141", "chunkweight", "chunk",
    "limitclustercount", "limitclustersize", "optimal", "tx_send_rate", "inv_buckets",
    "bits", "ancestorcount", "ancestorsize", "descendantcount", "descendantsize",
    "bip125-replaceable", "maxdatacarriersize", "permitbaremultisig", "fullrbf",
})  # fmt: skip


# ------------------------------------------------------------------------- shapes


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


# Keys Core adds or drops by position: ``nextblockhash`` is absent only at the tip.
POSITIONAL = frozenset({"nextblockhash"})


def assert_shape(actual: Any, expected: Any, node: NodeHandle, path: str = "result") -> None:
    """Assert ``actual`` has the keys and value types of the recorded ``expected``
    (:data:`POSITIONAL` keys may come and go).

    Numbers are one type (Core prints ``1`` or ``2e-06`` for the same field); list
    item ``i`` is compared with recorded item ``i`` (or the last recorded one), so a
    block's coinbase is checked against the recorded coinbase.
    """
    tolerant = node.kind == "bitcoind" and node.version < RECORDED_VERSION
    assert _kind(actual) == _kind(expected), f"{path}: {_kind(actual)} != {_kind(expected)}"
    if isinstance(expected, dict):
        missing = set(expected) - set(actual) - POSITIONAL
        extra = set(actual) - set(expected) - POSITIONAL
        if tolerant:
            missing -= VERSION_DEPENDENT
            extra -= VERSION_DEPENDENT
        assert not missing, f"{path}: missing keys {sorted(missing)}"
        assert not extra, f"{path}: unexpected keys {sorted(extra)}"
        for key in set(expected) & set(actual):
            assert_shape(actual[key], expected[key], node, f"{path}.{key}")
    elif isinstance(expected, list) and expected:
        for i, item in enumerate(actual):
            assert_shape(item, expected[min(i, len(expected) - 1)], node, f"{path}[{i}]")


# ------------------------------------------------------------------------- ZMQ


class ZmqListener:
    """One SUB socket per topic; ``recv`` returns ``(body, counter)`` of the next message."""

    def __init__(self, endpoints: dict[str, str], topics: tuple[str, ...]) -> None:
        self._context = zmq.asyncio.Context()
        self.sockets: dict[str, zmq.asyncio.Socket] = {}
        for topic in topics:
            sock = self._context.socket(zmq.SUB)
            sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
            sock.setsockopt(zmq.RCVHWM, 0)
            sock.connect(endpoints[topic])
            self.sockets[topic] = sock

    async def recv(self, topic: str, timeout: float = 10.0) -> tuple[bytes, int]:
        frames = await asyncio.wait_for(self.sockets[topic].recv_multipart(), timeout)
        assert len(frames) == 3, frames
        assert frames[0] == topic.encode()
        assert len(frames[2]) == 4
        return frames[1], int.from_bytes(frames[2], "little")

    async def drain(self, topic: str, quiet: float = 0.3) -> list[tuple[bytes, int]]:
        """Every message that arrives until none has come for ``quiet`` seconds."""
        got = []
        while True:
            try:
                got.append(await self.recv(topic, quiet))
            except TimeoutError:
                return got

    async def connect(self, mine: Any) -> None:
        """Beat ZMQ's slow-joiner problem: call ``mine()`` (which must mine a block) until
        every socket received something, then drop whatever is queued."""
        waiting = set(self.sockets)
        for _ in range(30):
            await mine()
            for topic in list(waiting):
                try:
                    await self.recv(topic, 0.5)
                    waiting.discard(topic)
                except TimeoutError:
                    pass
            if not waiting:
                break
        assert not waiting, f"no ZMQ message on {sorted(waiting)}"
        for topic in self.sockets:
            await self.drain(topic)

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close(linger=0)
        self._context.term()
