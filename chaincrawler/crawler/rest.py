"""Bitcoin Core's unauthenticated REST interface (``bitcoind -rest``).

Paths follow Core's doc/REST-interface.md (v24+ forms): ``/rest/block/<hash>.bin``,
``/rest/headers/<hash>.json?count=N``, ``/rest/blockhashbyheight/<h>.json``,
``/rest/chaininfo.json``. HTTP 400, 404 and other refusals become :class:`RESTError`;
503 (node warming up or busy) is retried like any transient failure.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from chaincrawler.crawler.errors import NodeProtocolError, RESTError
from chaincrawler.crawler.rpc import HttpReply, NodeTransport, body_excerpt

_HASH = re.compile(r"[0-9a-fA-F]{64}")


def _check_hash(block_hash: str) -> str:
    if not _HASH.fullmatch(block_hash):
        raise ValueError(f"not a 64-hex-digit block hash: {block_hash!r}")
    return block_hash.lower()


class RestApi:
    """Typed REST requests over a :class:`NodeTransport`."""

    def __init__(self, transport: NodeTransport) -> None:
        self._transport = transport

    async def get(self, path: str) -> HttpReply:
        """GET ``path``; return the HTTP 200 reply or raise :class:`RESTError`."""
        reply = await self._transport.get(f"GET {path}", path)
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

    async def headers(self, block_hash: str, count: int) -> list[dict[str, Any]]:
        """``/rest/headers/<hash>.json?count=N``: up to ``count`` headers from ``block_hash`` up."""
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        path = f"/rest/headers/{_check_hash(block_hash)}.json?count={count}"
        node, value = await self.get_json(path)
        if not isinstance(value, list) or not all(isinstance(h, dict) for h in value):
            raise NodeProtocolError(node, f"GET {path}", "expected a JSON array of headers")
        return value

    async def blockhash_by_height(self, height: int) -> str:
        """``/rest/blockhashbyheight/<height>.json``: the active chain's hash at ``height``."""
        if height < 0:
            raise ValueError(f"height must be >= 0, got {height}")
        path = f"/rest/blockhashbyheight/{height}.json"
        node, value = await self.get_json(path)
        block_hash = _expect_dict(value, node, path).get("blockhash")
        if not isinstance(block_hash, str) or not _HASH.fullmatch(block_hash):
            raise NodeProtocolError(node, f"GET {path}", f"no blockhash in {value!r}")
        return block_hash


def _expect_dict(value: Any, node: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise NodeProtocolError(
            node, f"GET {path}", f"expected a JSON object, got {type(value).__name__}"
        )
    return value
