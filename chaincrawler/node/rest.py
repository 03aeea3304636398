"""Bitcoin Core's unauthenticated REST interface (``bitcoind -rest``).

Paths follow Core's doc/REST-interface.md: ``/rest/block/<hash>.bin`` and
``/rest/chaininfo.json``. HTTP 400, 404 and other refusals become :class:`RESTError`;
503 (node warming up or busy) is retried like any transient failure.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from chaincrawler.node.errors import NodeProtocolError, RESTError
from chaincrawler.node.http import HttpReply, NodeConnection, body_excerpt

_HASH = re.compile(r"[0-9a-fA-F]{64}")


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


def _expect_dict(value: Any, node: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise NodeProtocolError(
            node, f"GET {path}", f"expected a JSON object, got {type(value).__name__}"
        )
    return value
