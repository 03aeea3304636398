"""Address derivation and script classification speed, per output type and on a mix.

Run: ``pip install -e '.[bench]' && python benchmarks/addresses.py``. Writes
``benchmarks/results/addresses.md``; python-bitcoinlib is the baseline when installed.

The mix section derives the addresses a balance model asks for -- per transaction the
spent output and three new outputs -- with and without the address cache, on a chain
where scripts repeat and on one where none does; the rates there are medians of
interleaved runs, since the machine this runs on is shared.
"""

from __future__ import annotations

import functools
import pickle
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import best_rate
from chaincrawler.chain.address_cache import MAX_ENTRIES, cached_address, clear_address_cache
from chaincrawler.chain.networks import MAINNET
from chaincrawler.chain.script import address_from_script, classify

RESULTS = Path(__file__).parent / "results" / "addresses.md"
N_SCRIPTS = 20_000
N_TX = 25_000  # transactions in the mix: one spent output and three new outputs each
REPEATS = 7
SHAPES = {
    "P2WPKH": (b"\x00\x14", 20, b""),
    "P2TR": (b"\x51\x20", 32, b""),
    "P2PKH": (b"\x76\xa9\x14", 20, b"\x88\xac"),
    "P2SH": (b"\xa9\x14", 20, b"\x87"),
    "P2WSH": (b"\x00\x20", 32, b""),
}
# Destinations of the mix: the chain issue 13 measured against a real node.
MIX_WEIGHTS = {"P2WPKH": 40, "P2PKH": 20, "P2SH": 15, "P2TR": 15, "P2WSH": 10}
HOT_SCRIPTS = 1_000  # recurring scripts (change, hot wallets) ...
HOT_SHARE = 0.3  # ... paid by this share of the outputs
SPEND_WINDOW = 1_000  # an input spends an output of one of the last this many transactions


def scripts_of_each_type(rng: random.Random) -> dict[str, list[bytes]]:
    """N_SCRIPTS random scripts of each common type (distinct, so nothing is cached)."""
    return {
        name: [head + rng.randbytes(size) + tail for _ in range(N_SCRIPTS)]
        for name, (head, size, tail) in SHAPES.items()
    }


def random_script(rng: random.Random) -> bytes:
    """A fresh script of a type drawn from MIX_WEIGHTS."""
    (name,) = rng.choices(list(MIX_WEIGHTS), weights=list(MIX_WEIGHTS.values()))
    head, size, tail = SHAPES[name]
    return head + rng.randbytes(size) + tail


def mix_scripts(rng: random.Random, repeating: bool) -> list[bytes]:
    """The scripts a balance model derives addresses for, in order, over N_TX transactions.

    With ``repeating``, HOT_SHARE of the outputs pay one of HOT_SCRIPTS recurring scripts
    and each input spends an output of a recent transaction; otherwise every script is
    new (the worst case: nothing can be reused).
    """
    hot = [random_script(rng) for _ in range(HOT_SCRIPTS)]
    created: list[bytes] = []
    order: list[bytes] = []
    for _ in range(N_TX):
        if repeating and created:
            order.append(rng.choice(created[-3 * SPEND_WINDOW :]))
        else:
            order.append(random_script(rng))
        for _ in range(3):
            if repeating and rng.random() < HOT_SHARE:
                script = rng.choice(hot)
            else:
                script = random_script(rng)
            created.append(script)
            order.append(script)
    # Distinct objects, as a parsed block gives: a lookup cannot rely on a cached hash.
    return [bytes(bytearray(s)) for s in order]


def median_rates(runs: dict[str, Callable[[], object]], count: int) -> dict[str, float]:
    """Median ``count``-per-second rate of each run, the runs interleaved REPEATS times."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(REPEATS):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: count / statistics.median(t) for name, t in times.items()}


def mix_lines() -> list[str]:
    """The mix section: uncached vs cached derivation, the cost of a hit, and shipping."""
    rng = random.Random(2)
    mixes = {
        "repeating (30% hot, inputs spend recent outputs)": mix_scripts(rng, repeating=True),
        "all distinct": mix_scripts(rng, repeating=False),
    }
    lines = [
        "",
        f"## Mix: {N_TX:,} transactions, {4 * N_TX:,} derivations",
        "",
        "Per transaction one spent output and three new outputs; destinations "
        + ", ".join(f"{w}% {name}" for name, w in MIX_WEIGHTS.items())
        + f". Cache bound {MAX_ENTRIES:,} entries, emptied before each run. "
        f"Median of {REPEATS} interleaved runs.",
        "",
        "| mix | distinct scripts | uncached/s | cache (clear when full)/s "
        "| cache (functools LRU)/s |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [mix_row(label, scripts) for label, scripts in mixes.items()]
    lines += hit_and_ship_lines(mixes["all distinct"][:4000])
    return lines


def mix_row(label: str, scripts: list[bytes]) -> str:
    """One table row: the mix derived without a cache, with ours, and with functools'."""

    def uncached() -> object:
        return [address_from_script(s, MAINNET) for s in scripts]

    def cached() -> object:
        clear_address_cache()
        return [cached_address(s, MAINNET) for s in scripts]

    def lru() -> object:
        derive = functools.lru_cache(maxsize=MAX_ENTRIES)(lambda s: address_from_script(s, MAINNET))
        return [derive(s) for s in scripts]

    rates = median_rates({"uncached": uncached, "cached": cached, "lru": lru}, len(scripts))
    return (
        f"| {label} | {len(set(scripts)):,} | {rates['uncached']:,.0f} "
        f"| {rates['cached']:,.0f} | {rates['lru']:,.0f} |"
    )


def hit_and_ship_lines(block_scripts: list[bytes]) -> list[str]:
    """Per-address cost of a hit, of a derivation, and of pickling addresses across."""
    warm = block_scripts[:HOT_SCRIPTS]
    lookups = [bytes(bytearray(s)) for s in warm] * 50
    derive_lru = functools.lru_cache(maxsize=MAX_ENTRIES)(lambda s: address_from_script(s, MAINNET))
    for s in warm:
        cached_address(s, MAINNET)
        derive_lru(s)
    addresses = [address_from_script(s, MAINNET) for s in block_scripts]
    n = len(block_scripts)
    hit_rates = median_rates(
        {
            "hit": lambda: [cached_address(s, MAINNET) for s in lookups],
            "lru hit": lambda: [derive_lru(s) for s in lookups],
        },
        len(lookups),
    )
    ship_rates = median_rates(
        {
            "derive": lambda: [address_from_script(s, MAINNET) for s in block_scripts],
            "pickle": lambda: pickle.loads(pickle.dumps(addresses, pickle.HIGHEST_PROTOCOL)),
        },
        n,
    )
    size = len(pickle.dumps(addresses, pickle.HIGHEST_PROTOCOL))
    return [
        "",
        "| per address | ns |",
        "| --- | ---: |",
        f"| cache hit (clear-when-full dict) | {1e9 / hit_rates['hit']:,.0f} |",
        f"| cache hit (functools LRU) | {1e9 / hit_rates['lru hit']:,.0f} |",
        f"| derivation, all distinct mix | {1e9 / ship_rates['derive']:,.0f} |",
        f"| pickle.dumps + loads of a block's address list ({n:,} addresses, "
        f"{size:,} bytes) | {1e9 / ship_rates['pickle']:,.0f} |",
    ]


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
    lines += mix_lines()
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
