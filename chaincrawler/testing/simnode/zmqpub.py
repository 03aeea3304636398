"""ZMQ publishers with Bitcoin Core's message layout (doc/zmq.md).

Each message has three frames: topic, body, and the publisher's 4-byte little-endian
message counter (one counter per topic, starting at 0). Hashes are sent in display
byte order. Topics sharing an address share one PUB socket, as in Core.
"""

from __future__ import annotations

import contextlib
import struct
from typing import Any

import zmq

from chaincrawler.chain.types import Block, Transaction
from chaincrawler.errors import ChaincrawlerError
from chaincrawler.node.zmq import ZMQ_TOPICS

HIGH_WATER_MARK = 1000
_u32 = struct.Struct("<I").pack
_u64 = struct.Struct("<Q").pack


class ZmqConfigError(ChaincrawlerError, ValueError):
    """A ``-zmqpub<topic>`` option names an unknown topic or an unusable address."""


class ZmqPublisher:
    """Publishes chain and mempool events on the configured topics.

    ``topics`` maps a topic name to a ``tcp://127.0.0.1:PORT`` address; port 0 binds a
    free port, reported in :attr:`endpoints`.
    """

    def __init__(self, topics: dict[str, str]) -> None:
        unknown = sorted(set(topics) - set(ZMQ_TOPICS))
        if unknown:
            raise ZmqConfigError(f"unknown ZMQ topic(s) {unknown}; known: {list(ZMQ_TOPICS)}")
        self._context: Any = zmq.Context()
        self._sockets: dict[str, Any] = {}
        self._bound: dict[str, str] = {}
        self._counters = dict.fromkeys(topics, 0)
        self.endpoints: dict[str, str] = {}
        for topic in ZMQ_TOPICS:  # Core's notifier order: alphabetical by option name
            if topic in topics:
                self.endpoints[topic] = self._bind(topics[topic])
        self._by_address = {topic: self._sockets[topics[topic]] for topic in self.endpoints}

    def _bind(self, address: str) -> str:
        if address in self._sockets:
            return self._bound[address]
        if not address.startswith("tcp://127.0.0.1:"):
            raise ZmqConfigError(f"ZMQ address {address!r} must be tcp://127.0.0.1:<port>")
        socket = self._context.socket(zmq.PUB)
        socket.setsockopt(zmq.SNDHWM, HIGH_WATER_MARK)
        socket.setsockopt(zmq.TCP_KEEPALIVE, 1)
        socket.setsockopt(zmq.LINGER, 0)
        try:
            if address.endswith(":0"):
                port = socket.bind_to_random_port("tcp://127.0.0.1")
                actual = f"tcp://127.0.0.1:{port}"
            else:
                socket.bind(address)
                actual = address
        except zmq.ZMQError as exc:
            socket.close()
            raise ZmqConfigError(f"cannot bind ZMQ address {address}: {exc}") from None
        self._sockets[address] = socket
        self._bound[address] = actual
        return actual

    def notifications(self) -> list[dict[str, object]]:
        """The ``getzmqnotifications`` result."""
        return [
            {"type": f"pub{topic}", "address": address, "hwm": HIGH_WATER_MARK}
            for topic, address in self.endpoints.items()
        ]

    def _send(self, topic: str, body: bytes) -> None:
        socket = self._by_address.get(topic)
        if socket is None:
            return
        count = self._counters[topic]
        self._counters[topic] = (count + 1) & 0xFFFFFFFF
        # At the high-water mark the message is dropped, as Core does.
        with contextlib.suppress(zmq.Again):
            socket.send_multipart([topic.encode(), body, _u32(count)], flags=zmq.DONTWAIT)

    def _transaction(self, tx: Transaction) -> None:
        self._send("hashtx", tx.txid_bytes[::-1])
        self._send("rawtx", tx.serialize())

    # -- the notification interface -------------------------------------------------

    def transaction_added(self, tx: Transaction, sequence: int) -> None:
        self._transaction(tx)
        self._send("sequence", tx.txid_bytes[::-1] + b"A" + _u64(sequence))

    def transaction_removed(self, tx: Transaction, sequence: int) -> None:
        self._send("sequence", tx.txid_bytes[::-1] + b"R" + _u64(sequence))

    def block_connected(self, block: Block) -> None:
        for tx in block.transactions:
            self._transaction(tx)
        self._send("sequence", block.hash_bytes[::-1] + b"C")

    def block_disconnected(self, block: Block) -> None:
        for tx in block.transactions:
            self._transaction(tx)
        self._send("sequence", block.hash_bytes[::-1] + b"D")

    def updated_tip(self, block: Block) -> None:
        self._send("hashblock", block.hash_bytes[::-1])
        self._send("rawblock", block.serialize())

    def close(self) -> None:
        for socket in self._sockets.values():
            socket.close(linger=0)
        self._sockets.clear()
        self._by_address.clear()
        self._context.term()
