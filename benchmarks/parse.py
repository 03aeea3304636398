"""Parse speed of the chain layer against python-bitcoinlib on the same block.

Run: ``pip install -e '.[bench]' && python benchmarks/parse.py``. Writes
``benchmarks/results/parse.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.blockgen import realistic_block
from benchmarks.timing import best_rate
from chaincrawler.chain.networks import MAINNET
from chaincrawler.chain.types import Block

RESULTS = Path(__file__).parent / "results" / "parse.md"


def main() -> None:
    raw = realistic_block()
    block = Block.from_bytes(raw, MAINNET)
    n = len(block.transactions)
    n_out = sum(len(tx.outputs) for tx in block.transactions)

    def parse() -> object:
        return Block.from_bytes(raw, MAINNET)

    def parse_txids() -> object:
        return [tx.txid_bytes for tx in Block.from_bytes(raw, MAINNET).transactions]

    def parse_txids_addresses() -> object:
        out = []
        for tx in Block.from_bytes(raw, MAINNET).transactions:
            out.append(tx.txid_bytes)
            out.extend(o.address for o in tx.outputs)
        return out

    def parse_txids_decode() -> object:
        out = []
        for tx in Block.from_bytes(raw, MAINNET).transactions:
            out.append((tx.txid_bytes, tx.inputs, tx.outputs))
        return out

    rows = [
        ("parse", best_rate(parse, n)),
        ("parse + txids", best_rate(parse_txids, n)),
        ("parse + txids + decode every input and output", best_rate(parse_txids_decode, n)),
        ("parse + txids + all output addresses", best_rate(parse_txids_addresses, n)),
    ]
    try:
        from bitcoin.core import CBlock  # python-bitcoinlib

        def bitcoinlib() -> object:
            return [tx.GetTxid() for tx in CBlock.deserialize(raw).vtx]

        baseline: float | None = best_rate(bitcoinlib, n)
    except ImportError:
        baseline = None

    lines = [
        "# Parse benchmark (`python benchmarks/parse.py`)",
        "",
        f"Block: {n} transactions, {n_out} outputs, {len(raw):,} bytes, mixed P2WPKH/P2TR/"
        "P2PKH/P2SH-P2WPKH inputs with witnesses; best of repeated runs on this machine.",
        "",
        "| what | tx/s |",
        "| --- | ---: |",
    ]
    lines += [f"| chaincrawler: {name} | {rate:,.0f} |" for name, rate in rows]
    if baseline is not None:
        lines.append(f"| python-bitcoinlib: CBlock.deserialize + GetTxid | {baseline:,.0f} |")
        lines += ["", f"parse + txids vs python-bitcoinlib: **{rows[1][1] / baseline:.1f}x**"]
    else:
        lines += ["", "python-bitcoinlib not installed: `pip install -e '.[bench]'`"]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
