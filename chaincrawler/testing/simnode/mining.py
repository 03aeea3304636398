"""Block assembly as Bitcoin Core's ``BlockAssembler`` does it on regtest.

Transactions are chosen from the mempool by ancestor feerate; the block itself (coinbase,
witness commitment, header and nonce) is built by :mod:`chaincrawler.testing.blocks`,
at time max(median time past + 1, now).
"""

from __future__ import annotations

from collections.abc import Sequence

from chaincrawler.chain.consensus import MAX_BLOCK_WEIGHT, block_subsidy
from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block, Transaction
from chaincrawler.testing import blocks
from chaincrawler.testing.simnode.chainstate import BlockIndex, is_final
from chaincrawler.testing.simnode.mempool import Mempool, MempoolEntry

COINBASE_RESERVED_WEIGHT = 4000


def build_block(
    prev: BlockIndex, script: bytes, txs: Sequence[Transaction], coinbase_value: int, time: int
) -> Block:
    """A solved block on ``prev`` holding ``txs`` after a coinbase paying ``script``."""
    return blocks.block(
        prev.height + 1, txs, prev.hash, pays=[(script, coinbase_value)], time=time
    )


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
    value = block_subsidy(prev.height + 1, REGTEST) + fees
    return build_block(prev, script, txs, value, template_time(prev, now))
