"""Address derivation and script classification speed, per output type and on a mix.

Run: ``pip install -e '.[bench]' && python benchmarks/addresses.py``. Writes
``benchmarks/results/addresses.md``; python-bitcoinlib is the baseline when installed.

Each derivation is measured with the C extension (``chaincrawler.chain._speedups``, when
built) and with the pure-Python reference, both through ``address_from_script`` and the
address cache. The mix section derives the addresses a balance model asks for -- per
transaction the spent output and three new outputs -- with and without the cache, on a
chain where scripts repeat and on one where none does. Every rate is a median of
interleaved runs in CPU time, since the machine this runs on is shared.
"""

from __future__ import annotations

import functools
import os
import pickle
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chaincrawler.chain import address_cache, script
from chaincrawler.chain.address_cache import MAX_ENTRIES, cached_address, clear_address_cache
from chaincrawler.chain.networks import MAINNET
from chaincrawler.chain.script import _address_from_script_py, address_from_script, classify

Derive = Callable[[bytes, str, int, int], str | None]

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


def implementations() -> dict[str, Derive]:
    """The derivations to compare: the C extension's (if built) and the pure-Python one."""
    found: dict[str, Derive] = {}
    try:
        from chaincrawler.chain._speedups import address_from_script as c_derive
    except ImportError:
        print("the C extension is not built: pure Python only", file=sys.stderr)
    else:
        found["C"] = c_derive
    found["pure Python"] = _address_from_script_py
    return found


IMPLEMENTATIONS = implementations()


@contextmanager
def using(derive: Derive) -> Iterator[None]:
    """Make ``address_from_script`` and the address cache derive with ``derive``."""
    saved = script.derive_address
    script.derive_address = address_cache.derive_address = derive
    try:
        yield
    finally:
        script.derive_address = address_cache.derive_address = saved


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
    """Median ``count``-per-CPU-second rate of each run, the runs interleaved REPEATS times."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(REPEATS):
        for name, fn in runs.items():
            t0 = time.process_time()
            fn()
            times[name].append(time.process_time() - t0)
    return {name: count / statistics.median(t) for name, t in times.items()}


def per_implementation(
    runs: dict[str, Callable[[], object]], count: int
) -> dict[tuple[str, str], float]:
    """:func:`median_rates` of each run under each implementation, keyed (run, impl)."""

    def bound(fn: Callable[[], object], derive: Derive) -> Callable[[], object]:
        def run() -> object:
            with using(derive):
                return fn()

        return run

    keys = [(name, impl) for name in runs for impl in IMPLEMENTATIONS]
    rates = median_rates(
        {f"{name}/{impl}": bound(runs[name], IMPLEMENTATIONS[impl]) for name, impl in keys},
        count,
    )
    return {(name, impl): rates[f"{name}/{impl}"] for name, impl in keys}


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
        "`TxOut.address` derives uncached with the C extension, through the "
        "clear-when-full cache in pure Python.",
        "",
        "| mix | distinct scripts | derivation | uncached/s | cache (clear when full)/s "
        "| cache (functools LRU)/s |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for label, scripts in mixes.items():
        lines += mix_rows(label, scripts)
    lines += hit_and_ship_lines(mixes["all distinct"][:4000])
    return lines


def mix_rows(label: str, scripts: list[bytes]) -> list[str]:
    """A row per implementation: the mix derived without a cache, with ours, with functools'."""

    def uncached() -> object:
        return [address_from_script(s, MAINNET) for s in scripts]

    def cached() -> object:
        clear_address_cache()
        return [cached_address(s, MAINNET) for s in scripts]

    def lru() -> object:
        derive = functools.lru_cache(maxsize=MAX_ENTRIES)(lambda s: address_from_script(s, MAINNET))
        return [derive(s) for s in scripts]

    rates = per_implementation({"uncached": uncached, "cached": cached, "lru": lru}, len(scripts))
    return [
        f"| {label} | {len(set(scripts)):,} | {impl} | {rates['uncached', impl]:,.0f} "
        f"| {rates['cached', impl]:,.0f} | {rates['lru', impl]:,.0f} |"
        for impl in IMPLEMENTATIONS
    ]


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
    derive_rates = per_implementation(
        {"derive": lambda: [address_from_script(s, MAINNET) for s in block_scripts]}, n
    )
    pickle_rate = median_rates(
        {"pickle": lambda: pickle.loads(pickle.dumps(addresses, pickle.HIGHEST_PROTOCOL))}, n
    )["pickle"]
    size = len(pickle.dumps(addresses, pickle.HIGHEST_PROTOCOL))
    return [
        "",
        "| per address | ns |",
        "| --- | ---: |",
        f"| cache hit (clear-when-full dict) | {1e9 / hit_rates['hit']:,.0f} |",
        f"| cache hit (functools LRU) | {1e9 / hit_rates['lru hit']:,.0f} |",
        *(
            f"| derivation ({impl}), all distinct mix | {1e9 / derive_rates['derive', impl]:,.0f} |"
            for impl in IMPLEMENTATIONS
        ),
        f"| pickle.dumps + loads of a block's address list ({n:,} addresses, "
        f"{size:,} bytes) | {1e9 / pickle_rate:,.0f} |",
    ]


def bitcoinlib_rates(by_type: dict[str, list[bytes]]) -> dict[str, float]:
    """python-bitcoinlib's CBitcoinAddress.from_scriptPubKey on the same scripts, where it can."""
    try:
        import bitcoin
        from bitcoin.core.script import CScript
        from bitcoin.wallet import CBitcoinAddress
    except ImportError:
        return {}
    bitcoin.SelectParams("mainnet")
    from_script = CBitcoinAddress.from_scriptPubKey
    runs: dict[str, Callable[[], object]] = {}
    for name, scripts in by_type.items():
        wrapped = [CScript(s) for s in scripts]
        try:
            str(from_script(wrapped[0]))
        except Exception:  # a type this python-bitcoinlib version has no address class for
            continue
        runs[name] = lambda w=wrapped: [str(from_script(s)) for s in w]
    return median_rates(runs, N_SCRIPTS)


def type_lines() -> list[str]:
    """The per-type table: classification, derivation in C and in Python, the baseline."""
    by_type = scripts_of_each_type(random.Random(1))
    classify_rates = median_rates(
        {name: lambda s=scripts: [classify(x) for x in s] for name, scripts in by_type.items()},
        N_SCRIPTS,
    )
    derive_rates = per_implementation(
        {
            name: lambda s=scripts: [address_from_script(x, MAINNET) for x in s]
            for name, scripts in by_type.items()
        },
        N_SCRIPTS,
    )
    baseline = bitcoinlib_rates(by_type)
    impls = list(IMPLEMENTATIONS)
    lines = [
        f"{N_SCRIPTS:,} distinct random scripts per type, mainnet, through `address_from_script`.",
        "",
        "| type | classify/s | "
        + " | ".join(f"address_from_script ({impl})/s" for impl in impls)
        + (" | C / pure Python" if "C" in IMPLEMENTATIONS else "")
        + " | python-bitcoinlib/s |",
        "| --- | ---: | "
        + " | ".join("---:" for _ in impls)
        + (" | ---:" if "C" in IMPLEMENTATIONS else "")
        + " | ---: |",
    ]
    for name in by_type:
        cells = [f"{classify_rates[name]:,.0f}"]
        cells += [f"{derive_rates[name, impl]:,.0f}" for impl in impls]
        if "C" in IMPLEMENTATIONS:
            cells.append(f"{derive_rates[name, 'C'] / derive_rates[name, 'pure Python']:.1f}x")
        cells.append(f"{baseline[name]:,.0f}" if name in baseline else "n/a")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    load = os.getloadavg()
    lines = [
        "# Address benchmark (`python benchmarks/addresses.py`)",
        "",
        f"Rates are medians of {REPEATS} interleaved runs, per CPU second (process time); "
        f"1-minute load average {load[0]:.1f} at the start.",
        "",
        *type_lines(),
        *mix_lines(),
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
