"""Build small regtest blocks for model tests with the chain layer's own types."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import (
    NULL_HASH,
    Block,
    BlockHeader,
    OutPoint,
    Transaction,
    TxIn,
    TxOut,
    encode_script_number,
)


def p2wpkh(label: str) -> bytes:
    """A P2WPKH scriptPubKey for a deterministic key hash derived from ``label``."""
    return b"\x00\x14" + hashlib.sha256(label.encode()).digest()[:20]


def address(label: str) -> str:
    out = TxOut(0, p2wpkh(label), REGTEST)
    assert out.address is not None
    return out.address


def coinbase(height: int, pays: Sequence[tuple[str, int]]) -> Transaction:
    script = bytes([len(encode_script_number(height))]) + encode_script_number(height) + b"\x00"
    txin = TxIn(OutPoint(NULL_HASH, 0xFFFFFFFF), script_sig=script)
    return Transaction([txin], [TxOut(v, p2wpkh(a)) for a, v in pays], network=REGTEST)


def spend(spent: Sequence[tuple[Transaction, int]], pays: Sequence[tuple[str, int]],
          resolve: bool = True) -> Transaction:
    """A transaction spending ``(tx, vout)`` outputs; ``resolve`` fills ``prev_txout``."""
    inputs = [TxIn(OutPoint(tx.txid_bytes, vout)) for tx, vout in spent]
    tx = Transaction(inputs, [TxOut(v, p2wpkh(a)) for a, v in pays], network=REGTEST)
    if resolve:
        for txin, (prev, vout) in zip(tx.inputs, spent, strict=True):
            txin.prev_txout = prev.outputs[vout]
    return tx


def block(height: int, txs: Sequence[Transaction], prev_hash: bytes = NULL_HASH,
          time: int = 1_700_000_000, nonce: int = 0) -> Block:
    header = BlockHeader(0x20000000, prev_hash, b"\x11" * 32, time + height, 0x207FFFFF, nonce)
    return Block(header, txs, network=REGTEST, height=height)


def chain(length: int, start: int = 0, prev_hash: bytes = NULL_HASH, nonce: int = 0) -> list[Block]:
    """``length`` linked blocks from ``start``, each with only a coinbase paying "miner"."""
    blocks = []
    for height in range(start, start + length):
        b = block(height, [coinbase(height, [("miner", 50_0000_0000)])], prev_hash, nonce=nonce)
        blocks.append(b)
        prev_hash = b.hash_bytes
    return blocks
