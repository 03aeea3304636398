"""Deterministic realistic blocks for benchmarks: mixed input/output types with witnesses
(assembled by :mod:`chaincrawler.testing.blocks`), and the address-heavy chain generator
of the ingest benchmark."""

from __future__ import annotations

import hashlib
import random

from chaincrawler.chain.consensus import dust_threshold
from chaincrawler.chain.networks import MAINNET
from chaincrawler.chain.script import ScriptType, push_data
from chaincrawler.chain.types import OutPoint, Transaction, TxIn, TxOut
from chaincrawler.testing.blocks import block
from chaincrawler.testing.chaingen import ChainGenerator, Payment, RpcClient


def _rand(rng: random.Random, n: int) -> bytes:
    return rng.randbytes(n)


def _output(rng: random.Random) -> TxOut:
    kind = rng.choices(
        ["p2wpkh", "p2tr", "p2pkh", "p2sh", "p2wsh", "op_return"], [40, 20, 15, 12, 10, 3]
    )[0]
    value = rng.randrange(546, 5 * 10**8)
    if kind == "p2wpkh":
        script = b"\x00\x14" + _rand(rng, 20)
    elif kind == "p2tr":
        script = b"\x51\x20" + _rand(rng, 32)
    elif kind == "p2pkh":
        script = b"\x76\xa9\x14" + _rand(rng, 20) + b"\x88\xac"
    elif kind == "p2sh":
        script = b"\xa9\x14" + _rand(rng, 20) + b"\x87"
    elif kind == "p2wsh":
        script = b"\x00\x20" + _rand(rng, 32)
    else:
        script, value = b"\x6a" + push_data(_rand(rng, 40)), 0
    return TxOut(value, script, MAINNET)


def _input(rng: random.Random) -> TxIn:
    prevout = OutPoint(_rand(rng, 32), rng.randrange(4))
    kind = rng.choices(["p2wpkh", "p2tr", "p2pkh", "p2sh-p2wpkh"], [45, 25, 20, 10])[0]
    sig = b"\x30\x44" + _rand(rng, 69) + b"\x01"
    pubkey = b"\x02" + _rand(rng, 32)
    if kind == "p2wpkh":
        return TxIn(prevout, b"", 0xFFFFFFFD, [sig, pubkey])
    if kind == "p2tr":
        return TxIn(prevout, b"", 0xFFFFFFFD, [_rand(rng, 64)])
    if kind == "p2pkh":
        return TxIn(prevout, push_data(sig) + push_data(pubkey), 0xFFFFFFFF)
    redeem = b"\x00\x14" + _rand(rng, 20)
    return TxIn(prevout, push_data(redeem), 0xFFFFFFFE, [sig, pubkey])


def realistic_block(n_txs: int = 2500, seed: int = 7) -> bytes:
    """Serialised mainnet block of ``n_txs`` transactions (1-3 inputs, 1-4 outputs each)."""
    rng = random.Random(seed)
    payout = [(b"\x00\x14" + _rand(rng, 20), 625_000_000)]
    txs = []
    for _ in range(n_txs - 1):
        ins = [_input(rng) for _ in range(rng.choice([1, 1, 1, 2, 2, 3]))]
        outs = [_output(rng) for _ in range(rng.choice([1, 2, 2, 2, 3, 4]))]
        locktime = rng.randrange(800_000)
        txs.append(Transaction(ins, outs, version=2, locktime=locktime, network=MAINNET))
    prev = hashlib.sha256(b"prev").digest()
    return block(840_000, txs, prev, pays=payout, time=1_700_000_000, network=MAINNET).serialize()


# The address mix of the ingest benchmark's chain (issue 13): every transaction spends
# one coin to two destinations drawn with these weights, plus the P2WSH change.
INGEST_MIX: dict[ScriptType, int] = {
    ScriptType.P2WPKH: 40, ScriptType.P2PKH: 20, ScriptType.P2SH: 15, ScriptType.P2TR: 15,
    ScriptType.P2WSH: 10,
}  # fmt: skip
INGEST_POOL = 1_000_000
"""Destinations per type: 400k payments of a 100 x 2,000 chain rarely reuse one, so
nearly every output is an address to derive (as with the random destinations of the
real-node measurement in issue 13)."""


class AddressHeavyGenerator(ChainGenerator):
    """The chain generator paying :data:`INGEST_MIX` destinations, never an OP_RETURN: one
    input and three outputs per transaction with ``fill(..., outputs=2)``."""

    def __init__(self, rpc: RpcClient, seed: int | str = "ingest") -> None:
        super().__init__(rpc, seed, address_pool=INGEST_POOL)
        self._kinds = list(INGEST_MIX)
        self._weights = list(INGEST_MIX.values())

    def random_payments(self, n: int = 2, *, op_return: bool | None = None) -> list[Payment]:
        rng = self._rng
        payments: list[Payment] = []
        for kind in rng.choices(self._kinds, self._weights, k=n):
            script = self.destination(kind, rng.randrange(INGEST_POOL))
            payments.append((script, rng.randrange(dust_threshold(script), 50_000)))
        return payments
