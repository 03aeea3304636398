"""Address derivation and script classification speed, per output type.

Run: ``pip install -e '.[bench]' && python benchmarks/addresses.py``. Writes
``benchmarks/results/addresses.md``; python-bitcoinlib is the baseline when installed.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import best_rate
from chaincrawler.chain.networks import MAINNET
from chaincrawler.chain.script import address_from_script, classify

RESULTS = Path(__file__).parent / "results" / "addresses.md"
N_SCRIPTS = 20_000


def scripts_of_each_type(rng: random.Random) -> dict[str, list[bytes]]:
    """N_SCRIPTS random scripts of each common type (distinct, so nothing is cached)."""
    shapes = {
        "P2WPKH": (b"\x00\x14", 20, b""),
        "P2TR": (b"\x51\x20", 32, b""),
        "P2PKH": (b"\x76\xa9\x14", 20, b"\x88\xac"),
        "P2SH": (b"\xa9\x14", 20, b"\x87"),
        "P2WSH": (b"\x00\x20", 32, b""),
    }
    return {
        name: [head + rng.randbytes(size) + tail for _ in range(N_SCRIPTS)]
        for name, (head, size, tail) in shapes.items()
    }


def bitcoinlib_rate(scripts: list[bytes]) -> float | None:
    """python-bitcoinlib's CBitcoinAddress.from_scriptPubKey on the same scripts, if it can."""
    try:
        import bitcoin
        from bitcoin.core.script import CScript
        from bitcoin.wallet import CBitcoinAddress
    except ImportError:
        return None
    bitcoin.SelectParams("mainnet")
    wrapped = [CScript(s) for s in scripts]
    try:
        str(CBitcoinAddress.from_scriptPubKey(wrapped[0]))
    except Exception:  # a type this python-bitcoinlib version has no address class for
        return None
    from_script = CBitcoinAddress.from_scriptPubKey
    return best_rate(lambda: [str(from_script(s)) for s in wrapped], N_SCRIPTS)


def main() -> None:
    by_type = scripts_of_each_type(random.Random(1))
    lines = [
        "# Address benchmark (`python benchmarks/addresses.py`)",
        "",
        f"{N_SCRIPTS:,} distinct random scripts per type, mainnet; best of repeated runs.",
        "",
        "| type | classify/s | address_from_script/s | python-bitcoinlib/s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, scripts in by_type.items():
        classify_rate = best_rate(lambda s=scripts: [classify(x) for x in s], N_SCRIPTS)
        address_rate = best_rate(
            lambda s=scripts: [address_from_script(x, MAINNET) for x in s], N_SCRIPTS
        )
        baseline = bitcoinlib_rate(scripts)
        shown = f"{baseline:,.0f}" if baseline is not None else "n/a"
        lines.append(f"| {name} | {classify_rate:,.0f} | {address_rate:,.0f} | {shown} |")
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
