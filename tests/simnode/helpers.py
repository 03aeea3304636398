"""Test helpers: recorded Core replies, OP_TRUE coins, mature coinbases."""

from __future__ import annotations

import hashlib

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import OutPoint, Transaction, TxIn, TxOut
from chaincrawler.testing.rawrpc import RawRpc

OP_TRUE = b"\x51"
P2WSH_OP_TRUE = b"\x00\x20" + hashlib.sha256(OP_TRUE).digest()
DESCRIPTOR = f"raw({P2WSH_OP_TRUE.hex()})"


def spend(
    txid: str, vout: int, value: int, fee: int = 1000, outputs: list[TxOut] | None = None
) -> Transaction:
    """A transaction spending a P2WSH(OP_TRUE) output back to P2WSH(OP_TRUE)."""
    txin = TxIn(OutPoint(bytes.fromhex(txid)[::-1], vout), b"", 0xFFFFFFFD, [OP_TRUE])
    outs = outputs if outputs is not None else [TxOut(value - fee, P2WSH_OP_TRUE, REGTEST)]
    return Transaction([txin], outs, version=2, network=REGTEST)


async def mature_coins(rpc: RawRpc, count: int) -> list[tuple[str, int]]:
    """Mine so that ``count`` coinbase outputs are spendable; (txid, value) each."""
    hashes = await rpc("generatetodescriptor", count + 100, DESCRIPTOR)
    coins = []
    for block_hash in hashes[:count]:
        block = await rpc("getblock", block_hash, 2)
        cb = block["tx"][0]
        coins.append((cb["txid"], round(cb["vout"][0]["value"] * 100_000_000)))
    return coins
