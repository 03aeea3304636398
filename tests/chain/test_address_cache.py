"""The address cache gives exactly what derivation gives, per network, within its bound."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaincrawler.chain import address_cache
from chaincrawler.chain.address_cache import cached_address, clear_address_cache
from chaincrawler.chain.networks import MAINNET, NETWORKS, REGTEST, Network
from chaincrawler.chain.script import P2A_SCRIPT, ScriptType, address_from_script, classify
from chaincrawler.chain.types import TxOut

ALL_NETWORKS = list(NETWORKS.values())


def _fixed(head: bytes, size: int, tail: bytes = b"") -> st.SearchStrategy[bytes]:
    return st.binary(min_size=size, max_size=size).map(lambda body: head + body + tail)


@st.composite
def _witness_programs(draw: st.DrawFn) -> bytes:
    version = draw(st.integers(0, 16))
    program = draw(st.binary(min_size=2, max_size=40))
    return bytes((0x50 + version if version else 0, len(program))) + program


_pubkey33 = st.tuples(st.sampled_from([2, 3]), st.binary(min_size=32, max_size=32)).map(
    lambda t: bytes((t[0],)) + t[1]
)
scripts = st.one_of(
    _fixed(b"\x76\xa9\x14", 20, b"\x88\xac"),  # P2PKH
    _fixed(b"\xa9\x14", 20, b"\x87"),  # P2SH
    _fixed(b"\x00\x14", 20),  # P2WPKH
    _fixed(b"\x00\x20", 32),  # P2WSH
    _fixed(b"\x51\x20", 32),  # P2TR
    st.just(P2A_SCRIPT),
    _witness_programs(),  # every version and length, valid or not
    _pubkey33.map(lambda key: b"\x21" + key + b"\xac"),  # P2PK
    st.lists(_pubkey33, min_size=1, max_size=3).map(  # 1-of-n multisig
        lambda keys: b"\x51" + b"".join(b"\x21" + k for k in keys) + bytes((0x50 + len(keys), 0xAE))
    ),
    st.binary(max_size=40).map(lambda data: b"\x6a" + bytes((len(data),)) + data),  # OP_RETURN
    st.binary(max_size=60),  # anything
)


@given(scripts, st.sampled_from(ALL_NETWORKS))
def test_cached_address_is_the_derived_address(script, network):
    expected = address_from_script(script, network)
    assert cached_address(script, network) == expected  # maybe a miss
    assert cached_address(bytes(bytearray(script)), network) == expected  # a hit


def test_the_strategy_reaches_every_script_type():
    seen: set[ScriptType] = set()

    @given(scripts)
    def collect(script: bytes) -> None:
        seen.add(classify(script))

    collect()
    assert seen == set(ScriptType)


def test_the_same_script_has_each_networks_address():
    script = b"\x00\x14" + bytes(range(20))
    clear_address_cache()
    assert cached_address(script, MAINNET).startswith("bc1q")  # type: ignore[union-attr]
    assert cached_address(script, REGTEST).startswith("bcrt1q")  # type: ignore[union-attr]
    custom = Network("custom", "xy", 0x30, 0x32, "00" * 32, 150, 1)
    assert cached_address(script, custom) == address_from_script(script, custom)
    assert cached_address(script, custom).startswith("xy1q")  # type: ignore[union-attr]


def test_a_full_table_is_emptied_and_stays_correct(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(address_cache, "MAX_ENTRIES", 8)
    clear_address_cache()
    outs = [TxOut(1, b"\x00\x14" + bytes([i]) * 20, REGTEST) for i in range(30)]
    for out in outs:
        assert cached_address(out.script_pubkey, REGTEST) == out.address
        assert len(address_cache._TABLES[id(REGTEST)][1]) <= 8
    # Scripts seen before the table was emptied are derived again, still exactly.
    again = [cached_address(out.script_pubkey, REGTEST) for out in outs]
    assert again == [out.address for out in outs]
