"""Bitcoin Core's JSON shapes for blocks, headers, transactions and the mempool.

Key order follows Core's ``blockheaderToJSON``, ``blockToJSON``, ``TxToUniv`` and
``entryToJSON`` (as recorded from Core 31), since clients and tests may compare them.
"""

from __future__ import annotations

from typing import Any

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.script import address_from_script, classify, script_to_asm
from chaincrawler.chain.types import Transaction
from chaincrawler.testing.simnode.chainstate import BlockIndex, ChainState, Coin
from chaincrawler.testing.simnode.descriptors import infer_descriptor
from chaincrawler.testing.simnode.jsonenc import Amount, core_float
from chaincrawler.testing.simnode.mempool import (
    INCREMENTAL_RELAY_FEERATE,
    MIN_RELAY_FEERATE,
    Mempool,
    MempoolEntry,
)

JSON = dict[str, Any]
TX_RATE = 0.001  # regtest's assumed transactions per second (GuessVerificationProgress)
MAX_MEMPOOL_BYTES = 300_000_000


def difficulty(bits: int) -> float | int:
    """Core's ``GetDifficulty``."""
    shift = (bits >> 24) & 0xFF
    diff = 0x0000FFFF / (bits & 0x00FFFFFF)
    while shift < 29:
        diff *= 256.0
        shift += 1
    while shift > 29:
        diff /= 256.0
        shift -= 1
    return core_float(diff)


def _target_hex(idx: BlockIndex) -> str:
    return f"{idx.header.target:064x}"


def header_json(chain: ChainState, idx: BlockIndex) -> JSON:
    """``getblockheader <hash> true``."""
    header = idx.header
    active = chain.contains(idx)
    result: JSON = {
        "hash": idx.hash_hex,
        "confirmations": chain.height - idx.height + 1 if active else -1,
        "height": idx.height,
        "version": header.version,
        "versionHex": f"{header.version & 0xFFFFFFFF:08x}",
        "merkleroot": header.merkle_root,
        "time": header.time,
        "mediantime": idx.median_time,
        "nonce": header.nonce,
        "bits": f"{header.bits:08x}",
        "target": _target_hex(idx),
        "difficulty": difficulty(header.bits),
        "chainwork": f"{idx.chainwork:064x}",
        "nTx": len(idx.block.transactions),
    }
    if idx.prev is not None:
        result["previousblockhash"] = idx.prev.hash_hex
    if active and idx.height < chain.height:
        result["nextblockhash"] = chain.active[idx.height + 1].hash_hex
    return result


def script_pubkey_json(script: bytes) -> JSON:
    """Core's ``ScriptToUniv`` with hex and address."""
    result: JSON = {
        "asm": script_to_asm(script),
        "desc": infer_descriptor(script),
        "hex": script.hex(),
    }
    address = address_from_script(script, REGTEST)
    if address is not None:
        result["address"] = address
    result["type"] = str(classify(script))
    return result


def _prevout_json(coin: Coin) -> JSON:
    return {
        "generated": coin.coinbase,
        "height": coin.height,
        "value": Amount(coin.value),
        "scriptPubKey": script_pubkey_json(coin.script),
    }


def tx_json(
    tx: Transaction,
    *,
    undo: list[Coin] | None = None,
    with_prevouts: bool = False,
    block_hash: str | None = None,
    include_hex: bool = True,
) -> JSON:
    """Core's ``TxToUniv``; ``undo`` (the spent coins) adds ``fee`` and, with
    ``with_prevouts``, each input's ``prevout``."""
    have_undo = undo is not None and not tx.is_coinbase
    vin = []
    value_in = 0
    for n, txin in enumerate(tx.inputs):
        entry: JSON
        if tx.is_coinbase:
            entry = {"coinbase": txin.script_sig.hex()}
        else:
            entry = {
                "txid": txin.prevout.txid,
                "vout": txin.prevout.vout,
                "scriptSig": {"asm": script_to_asm(txin.script_sig), "hex": txin.script_sig.hex()},
            }
        if txin.witness:
            entry["txinwitness"] = [item.hex() for item in txin.witness]
        if have_undo and undo is not None:
            coin = undo[n]
            value_in += coin.value
            if with_prevouts:
                entry["prevout"] = _prevout_json(coin)
        entry["sequence"] = txin.sequence
        vin.append(entry)
    vout = [
        {"value": Amount(o.value), "n": n, "scriptPubKey": script_pubkey_json(o.script_pubkey)}
        for n, o in enumerate(tx.outputs)
    ]
    result: JSON = {
        "txid": tx.txid,
        "hash": tx.wtxid,
        "version": tx.version & 0xFFFFFFFF,
        "size": tx.size,
        "vsize": tx.vsize,
        "weight": tx.weight,
        "locktime": tx.locktime,
        "vin": vin,
        "vout": vout,
    }
    if have_undo:
        result["fee"] = Amount(value_in - sum(o.value for o in tx.outputs))
    if block_hash is not None:
        result["blockhash"] = block_hash
    if include_hex:
        result["hex"] = tx.hex()
    return result


def block_json(chain: ChainState, idx: BlockIndex, verbosity: int) -> JSON:
    """``getblock`` at verbosity 1 (txids), 2 (transactions) or 3 (with prevouts)."""
    block = idx.block
    txs = block.transactions
    result = header_json(chain, idx)
    result["strippedsize"] = 80 + (block.size - 80 - sum(tx.size for tx in txs)) + sum(
        tx.base_size for tx in txs
    )
    result["size"] = block.size
    result["weight"] = block.weight
    coinbase = txs[0]
    cb_in = coinbase.inputs[0]
    cb: JSON = {
        "version": coinbase.version & 0xFFFFFFFF,
        "locktime": coinbase.locktime,
        "sequence": cb_in.sequence,
        "coinbase": cb_in.script_sig.hex(),
    }
    if cb_in.witness:
        cb["witness"] = cb_in.witness[0].hex()
    result["coinbase_tx"] = cb
    if verbosity <= 1:
        result["tx"] = [tx.txid for tx in txs]
        return result
    undo = idx.undo
    out = []
    pos = 0
    for tx in txs:
        tx_undo = None
        if undo is not None and not tx.is_coinbase:
            tx_undo = undo[pos : pos + len(tx.inputs)]
            pos += len(tx.inputs)
        out.append(tx_json(tx, undo=tx_undo, with_prevouts=verbosity >= 3))
    result["tx"] = out
    return result


def tx_undo(idx: BlockIndex, position: int) -> list[Coin] | None:
    """The coins transaction ``position`` of a connected block spent."""
    if idx.undo is None or position == 0:
        return None
    pos = sum(len(tx.inputs) for tx in idx.block.transactions[1:position])
    return idx.undo[pos : pos + len(idx.block.transactions[position].inputs)]


def verification_progress(chain: ChainState, now: int) -> float | int:
    """Core's ``GuessVerificationProgress`` with regtest's chain data."""
    tip = chain.tip
    tx_count = sum(len(idx.block.transactions) for idx in chain.active)
    total = tx_count + max(0, now - tip.header.time) * TX_RATE
    return core_float(min(tx_count / total, 1.0))


def chain_tips(chain: ChainState) -> list[JSON]:
    """``getchaintips``: every leaf of the tree plus the active tip, highest first."""
    tips = [idx for idx in chain.index.values() if not idx.children]
    if chain.tip not in tips:
        tips.append(chain.tip)
    tips.sort(key=lambda idx: (-idx.height, idx.sequence_id))
    result = []
    for idx in tips:
        fork = chain.fork_point(idx)
        if chain.contains(idx):
            status = "active"
        elif idx.is_invalid:
            status = "invalid"
        elif idx.connected_once:
            status = "valid-fork"
        else:
            status = "valid-headers"
        result.append({
            "height": idx.height,
            "hash": idx.hash_hex,
            "branchlen": idx.height - fork.height,
            "status": status,
        })
    return result


def mempool_entry_json(mempool: Mempool, entry: MempoolEntry) -> JSON:
    """``getmempoolentry`` (Core 31's cluster-mempool fields)."""
    ancestors = mempool.ancestors(entry)
    descendants = mempool.descendants(entry)
    anc_fee = entry.fee + sum(e.fee for e in ancestors)
    anc_size = entry.vsize + sum(e.vsize for e in ancestors)
    desc_fee = entry.fee + sum(e.fee for e in descendants)
    desc_size = entry.vsize + sum(e.vsize for e in descendants)
    # The chunk: the entry with its ancestors when they pay less than it (CPFP).
    if ancestors and anc_fee * entry.vsize < entry.fee * anc_size:
        chunk_fee, chunk_weight = anc_fee, entry.weight + sum(e.weight for e in ancestors)
    else:
        chunk_fee, chunk_weight = entry.fee, entry.weight
    return {
        "vsize_adjusted": entry.vsize,
        "vsize": entry.vsize,
        "vsize_bip141": entry.vsize,
        "weight": entry.weight,
        "time": entry.time,
        "height": entry.height,
        "descendantcount": len(descendants) + 1,
        "descendantsize": desc_size,
        "ancestorcount": len(ancestors) + 1,
        "ancestorsize": anc_size,
        "wtxid": entry.tx.wtxid,
        "chunkweight": chunk_weight,
        "fees": {
            "base": Amount(entry.fee),
            "modified": Amount(entry.fee),
            "ancestor": Amount(anc_fee),
            "descendant": Amount(desc_fee),
            "chunk": Amount(chunk_fee),
        },
        "depends": sorted(mempool.entries[p].tx.txid for p in entry.parents),
        "spentby": sorted(mempool.entries[c].tx.txid for c in entry.children),
        "unbroadcast": entry.unbroadcast,
    }


def mempool_info(mempool: Mempool) -> JSON:
    """``getmempoolinfo``."""
    entries = mempool.entries.values()
    return {
        "loaded": True,
        "size": len(mempool.entries),
        "bytes": sum(e.vsize for e in entries),
        "usage": 64 + sum(886 + e.tx.size for e in entries),
        "total_fee": Amount(sum(e.fee for e in entries)),
        "maxmempool": MAX_MEMPOOL_BYTES,
        "mempoolminfee": Amount(MIN_RELAY_FEERATE),
        "minrelaytxfee": Amount(MIN_RELAY_FEERATE),
        "incrementalrelayfee": Amount(INCREMENTAL_RELAY_FEERATE),
        "unbroadcastcount": sum(1 for e in entries if e.unbroadcast),
        "permitbaremultisig": True,
        "maxdatacarriersize": 100000,
        "limitclustercount": 64,
        "limitclustersize": 101000,
        "optimal": True,
    }


def raw_mempool(mempool: Mempool, verbose: bool) -> JSON | list[str]:
    """``getrawmempool`` without sequence: txids, or entries keyed by txid."""
    if not verbose:
        return [e.tx.txid for e in mempool.entries.values()]
    return {e.tx.txid: mempool_entry_json(mempool, e) for e in mempool.entries.values()}
