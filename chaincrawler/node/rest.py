"""Bitcoin Core's unauthenticated REST interface (``bitcoind -rest``).

Paths follow Core's doc/REST-interface.md: ``/rest/block/<hash>.bin``,
``/rest/spenttxouts/<hash>.bin`` (Core >= 30) and ``/rest/chaininfo.json``. HTTP 400,
404 and other refusals become :class:`RESTError`; 503 (node warming up or busy) is
retried like any transient failure.
"""

from __future__ import annotations

import json
import re
import struct
from decimal import Decimal
from typing import Any, NamedTuple

from chaincrawler.node.errors import NodeProtocolError, RESTError
from chaincrawler.node.http import HttpReply, NodeConnection, body_excerpt

_HASH = re.compile(r"[0-9a-fA-F]{64}")
_NO_BLOCK = "0" * 64
"""The hash :meth:`RestApi.serves_spent_txouts` asks for: no block has it."""


class SpentOutput(NamedTuple):
    """An output a block's transaction spends: its value in satoshis and its scriptPubKey."""

    value: int
    script_pubkey: bytes


def parse_spent_txouts(data: bytes) -> list[list[SpentOutput]]:
    """Parse a ``/rest/spenttxouts/<hash>.bin`` body: per transaction of the block (the
    coinbase first, with an empty list), the outputs its inputs spend, in input order.

    The format (Core's ``SerializeBlockUndo``): a compact-size count of transactions,
    then per transaction a compact-size count and that many ``CTxOut`` (8-byte
    little-endian value, compact-size script length, script). Raises ValueError when
    ``data`` is not exactly that.
    """
    try:
        count, pos = _compact_size(data, 0)
        spent: list[list[SpentOutput]] = []
        for _ in range(count):
            inputs, pos = _compact_size(data, pos)
            outputs: list[SpentOutput] = []
            for _ in range(inputs):
                (value,) = _VALUE.unpack_from(data, pos)
                size, pos = _compact_size(data, pos + 8)
                end = pos + size
                if end > len(data):
                    raise ValueError(f"script of {size} bytes at offset {pos} runs past the end")
                outputs.append(SpentOutput(value, data[pos:end]))
                pos = end
            spent.append(outputs)
    except (struct.error, IndexError):
        raise ValueError(f"truncated after {len(data)} bytes") from None
    if pos != len(data):
        raise ValueError(f"{len(data) - pos} bytes left after the last transaction")
    return spent


_VALUE = struct.Struct("<q")
_COMPACT = {0xFD: struct.Struct("<H"), 0xFE: struct.Struct("<I"), 0xFF: struct.Struct("<Q")}


def _compact_size(data: bytes, pos: int) -> tuple[int, int]:
    """Bitcoin's compact size at ``pos``: (value, offset after it)."""
    first = data[pos]
    if first < 0xFD:
        return first, pos + 1
    unpack = _COMPACT[first]
    (value,) = unpack.unpack_from(data, pos + 1)
    return value, pos + 1 + unpack.size


def _check_hash(block_hash: str) -> str:
    if not _HASH.fullmatch(block_hash):
        raise ValueError(f"not a 64-hex-digit block hash: {block_hash!r}")
    return block_hash.lower()


class RestApi:
    """Typed REST requests over a :class:`NodeConnection`."""

    def __init__(self, connection: NodeConnection) -> None:
        self._connection = connection

    async def get(self, path: str) -> HttpReply:
        """GET ``path``; return the HTTP 200 reply or raise :class:`RESTError`."""
        reply = await self._connection.get(f"GET {path}", path)
        if reply.status != 200:
            body = reply.body[:300].decode("utf-8", errors="replace")
            raise RESTError(reply.node, path, reply.status, body)
        return reply

    async def get_json(self, path: str) -> tuple[str, Any]:
        """GET ``path``; return the answering node and the decoded JSON (fractions as Decimal)."""
        reply = await self.get(path)
        try:
            return reply.node, json.loads(reply.body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise NodeProtocolError(
                reply.node, f"GET {path}", f"body is not JSON: {body_excerpt(reply.body)!r}"
            ) from None

    async def chaininfo(self) -> dict[str, Any]:
        """``/rest/chaininfo.json``: the same object as ``getblockchaininfo``."""
        path = "/rest/chaininfo.json"
        node, value = await self.get_json(path)
        return _expect_dict(value, node, path)

    async def block_bin(self, block_hash: str) -> bytes:
        """``/rest/block/<hash>.bin``: the serialized block."""
        path = f"/rest/block/{_check_hash(block_hash)}.bin"
        reply = await self.get(path)
        if len(reply.body) < 80:
            raise NodeProtocolError(
                reply.node, f"GET {path}", f"{len(reply.body)} bytes is no block"
            )
        return reply.body

    async def spent_txouts_bin(self, block_hash: str) -> bytes:
        """``/rest/spenttxouts/<hash>.bin``: the outputs the block spends, serialized
        (:func:`parse_spent_txouts` reads them). Core answers 404 ``<hash> not found`` for
        an unknown block and ``<hash> undo not available`` when its undo data is gone."""
        return (await self.get(_spent_path(block_hash))).body

    async def spent_txouts(self, block_hash: str) -> list[list[SpentOutput]]:
        """``/rest/spenttxouts/<hash>.bin``, parsed."""
        path = _spent_path(block_hash)
        reply = await self.get(path)
        try:
            return parse_spent_txouts(reply.body)
        except ValueError as exc:
            raise NodeProtocolError(reply.node, f"GET {path}", str(exc)) from None

    async def serves_spent_txouts(self) -> bool:
        """Whether the node serves ``/rest/spenttxouts/`` (Bitcoin Core >= 30 with -rest).

        Asks for a block no chain has: a node that serves the endpoint answers Core's
        ``404 <hash> not found``; one that does not (older Core, or REST off) answers a
        404 with an empty body, as Core's HTTP server does for every unknown path (very
        old releases answer 403 with REST off). Any other reply means "no" as well.
        """
        path = f"/rest/spenttxouts/{_NO_BLOCK}.bin"
        reply = await self._connection.get(f"GET {path}", path)
        return reply.status == 404 and reply.body.strip() == f"{_NO_BLOCK} not found".encode()


def _spent_path(block_hash: str) -> str:
    return f"/rest/spenttxouts/{_check_hash(block_hash)}.bin"


def _expect_dict(value: Any, node: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise NodeProtocolError(
            node, f"GET {path}", f"expected a JSON object, got {type(value).__name__}"
        )
    return value
