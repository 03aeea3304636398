"""Test helpers: recorded Core replies, OP_TRUE coins, a JSON-RPC client."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import aiohttp

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import OutPoint, Transaction, TxIn, TxOut

RECORDED = Path(__file__).resolve().parents[1] / "data" / "core_replies"
OP_TRUE = b"\x51"
P2WSH_OP_TRUE = b"\x00\x20" + hashlib.sha256(OP_TRUE).digest()
DESCRIPTOR = f"raw({P2WSH_OP_TRUE.hex()})"


def recorded(name: str) -> dict[str, Any]:
    """One recorded Core exchange (``request``, ``http_status``, ``reply``)."""
    (path,) = RECORDED.glob(f"{name}*")
    return json.loads(path.read_text())


def spend(
    txid: str, vout: int, value: int, fee: int = 1000, outputs: list[TxOut] | None = None
) -> Transaction:
    """A transaction spending a P2WSH(OP_TRUE) output back to P2WSH(OP_TRUE)."""
    txin = TxIn(OutPoint(bytes.fromhex(txid)[::-1], vout), b"", 0xFFFFFFFD, [OP_TRUE])
    outs = outputs if outputs is not None else [TxOut(value - fee, P2WSH_OP_TRUE)]
    return Transaction([txin], outs, version=2, network=REGTEST)


class Rpc:
    """Minimal JSON-RPC client that keeps the raw HTTP status and reply."""

    def __init__(self, session: aiohttp.ClientSession, url: str, auth: tuple[str, str]) -> None:
        self.session = session
        self.url = url
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    async def raw(self, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.session.post(
            self.url, data=payload, headers=self.headers if headers is None else headers
        ) as resp:
            text = await resp.text()
            return resp.status, json.loads(text) if text else None

    async def reply(self, method: str, *params: Any) -> dict[str, Any]:
        status, body = await self.raw(
            {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        )
        assert status == 200
        return body

    async def __call__(self, method: str, *params: Any) -> Any:
        body = await self.reply(method, *params)
        assert "error" not in body, body
        return body["result"]

    async def error(self, method: str, *params: Any) -> dict[str, Any]:
        body = await self.reply(method, *params)
        assert "result" not in body, body
        return body["error"]

    async def mature_coins(self, count: int) -> list[tuple[str, int]]:
        """Mine so that ``count`` coinbase outputs are spendable; (txid, value) each."""
        hashes = await self("generatetodescriptor", count + 100, DESCRIPTOR)
        coins = []
        for block_hash in hashes[:count]:
            block = await self("getblock", block_hash, 2)
            cb = block["tx"][0]
            coins.append((cb["txid"], round(cb["vout"][0]["value"] * 100_000_000)))
        return coins
