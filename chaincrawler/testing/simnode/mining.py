"""Block assembly as Bitcoin Core's ``BlockAssembler`` does it on regtest.

Coinbase: version 2, scriptSig ``<height>`` (BIP34; an ``OP_0`` pad for heights up to
16 so it reaches the 2-byte minimum), sequence 0xfffffffe, locktime height - 1, the
32-byte zero witness reserved value, outputs [payout, witness commitment]. Header:
version 0x20000000, time max(median time past + 1, now), bits 0x207fffff, the first
nonce that meets the target.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import (
    NULL_HASH,
    WITNESS_COMMITMENT_PREFIX,
    Block,
    BlockHeader,
    OutPoint,
    Transaction,
    TxIn,
    TxOut,
)
from chaincrawler.testing.simnode.chainstate import (
    MAX_BLOCK_WEIGHT,
    REGTEST_BITS,
    BlockIndex,
    block_subsidy,
    height_push,
    is_final,
)
from chaincrawler.testing.simnode.mempool import Mempool, MempoolEntry

BLOCK_VERSION = 0x20000000
COINBASE_RESERVED_WEIGHT = 4000
_sha256 = hashlib.sha256


def coinbase_transaction(height: int, script: bytes, value: int, commitment: bytes) -> Transaction:
    """The coinbase Core's miner builds for ``height`` paying ``value`` to ``script``."""
    script_sig = height_push(height)
    if height <= 16:
        script_sig += b"\x00"
    txin = TxIn(OutPoint(NULL_HASH, 0xFFFFFFFF), script_sig, 0xFFFFFFFE, [NULL_HASH])
    outputs = [
        TxOut(value, script),
        TxOut(0, WITNESS_COMMITMENT_PREFIX + commitment),
    ]
    return Transaction([txin], outputs, version=2, locktime=height - 1, network=REGTEST)


def build_block(
    prev: BlockIndex, script: bytes, txs: Sequence[Transaction], coinbase_value: int, time: int
) -> Block:
    """A solved block on ``prev`` holding ``txs`` after a fresh coinbase."""
    height = prev.height + 1
    placeholder = coinbase_transaction(height, script, coinbase_value, NULL_HASH)
    draft = Block(BlockHeader(0, b"", b"", 0, 0, 0), [placeholder, *txs], REGTEST)
    coinbase = coinbase_transaction(
        height, script, coinbase_value, draft.compute_witness_commitment()
    )
    block = Block(BlockHeader(0, b"", b"", 0, 0, 0), [coinbase, *txs], REGTEST)
    merkle = block.compute_merkle_root()
    header = solve_header(prev.hash, merkle, time)
    return Block(header, block.transactions, REGTEST)


def solve_header(prev_hash: bytes, merkle: bytes, time: int) -> BlockHeader:
    """Grind the nonce until the regtest target is met (about two tries)."""
    prefix = struct.pack("<i32s32sII", BLOCK_VERSION, prev_hash, merkle, time, REGTEST_BITS)
    target = BlockHeader(0, b"", b"", 0, REGTEST_BITS, 0).target
    nonce = 0
    while True:
        raw = prefix + struct.pack("<I", nonce)
        digest = _sha256(_sha256(raw).digest()).digest()
        if int.from_bytes(digest, "little") <= target:
            return BlockHeader.from_bytes(raw)
        nonce += 1


def select_transactions(mempool: Mempool, prev: BlockIndex) -> tuple[list[Transaction], int]:
    """Mempool transactions for the next block, best ancestor feerate first, parents
    before children, within the weight limit; returns them and their total fee."""
    height = prev.height + 1
    cutoff = prev.median_time
    scored: list[tuple[float, int, MempoolEntry]] = []
    for n, entry in enumerate(mempool.entries.values()):
        package = [entry, *mempool.ancestors(entry)] if entry.parents else [entry]
        fee = sum(e.fee for e in package)
        vsize = sum(e.vsize for e in package)
        scored.append((-fee / vsize, n, entry))
    scored.sort(key=lambda item: (item[0], item[1]))
    chosen: dict[bytes, MempoolEntry] = {}
    skipped: set[bytes] = set()
    weight = COINBASE_RESERVED_WEIGHT
    for _, _, entry in scored:
        if entry.txid in chosen or entry.txid in skipped:
            continue
        package = [e for e in mempool.ancestors(entry) if e.txid not in chosen] + [entry]
        package_weight = sum(e.weight for e in package)
        ok = all(is_final(e.tx, height, cutoff) and e.txid not in skipped for e in package)
        if not ok or weight + package_weight > MAX_BLOCK_WEIGHT - COINBASE_RESERVED_WEIGHT:
            skipped.add(entry.txid)
            continue
        weight += package_weight
        for e in mempool.topological(package):
            chosen[e.txid] = e
    return [e.tx for e in chosen.values()], sum(e.fee for e in chosen.values())


def template_time(prev: BlockIndex, now: int) -> int:
    """Core's ``UpdateTime``: max(median time past + 1, now)."""
    return max(prev.median_time + 1, now)


def mine_block(mempool: Mempool, prev: BlockIndex, script: bytes, now: int) -> Block:
    """The block ``generatetoaddress`` would mine on ``prev`` from the mempool."""
    txs, fees = select_transactions(mempool, prev)
    value = block_subsidy(prev.height + 1) + fees
    return build_block(prev, script, txs, value, template_time(prev, now))
