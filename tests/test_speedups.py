"""The C extension derives exactly the addresses the pure-Python reference derives, and
chaincrawler works without it.

Where the extension was not built these tests skip, except under ``CI=true``: there a
missing extension fails them, so that CI cannot pass on the fallback unnoticed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaincrawler.chain import address_cache, types, wire
from chaincrawler.chain import script as script_module
from chaincrawler.chain.address_cache import clear_address_cache
from chaincrawler.chain.networks import NETWORKS, REGTEST, Network, get_network
from chaincrawler.chain.script import P2A_SCRIPT, _address_from_script_py
from chaincrawler.chain.types import Block, BlockHeader, OutPoint, Transaction, TxIn, TxOut
from chaincrawler.errors import ChainDataError
from tests.chain import vectors as v
from tests.chain.test_address_cache import scripts as standard_and_odd_scripts
from tests.chain.test_encoding import SEGWIT_VALID
from tests.chain.test_fuzz import transactions as fuzz_transactions
from tests.chain.test_script import CORE_KEY_IO_VALID

ALL_NETWORKS = list(NETWORKS.values())


@pytest.fixture(scope="module")
def speedups() -> ModuleType:
    try:
        from chaincrawler.chain import _speedups
    except ImportError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the C extension chaincrawler.chain._speedups is not built: {exc}")
        pytest.skip(f"the C extension is not built ({exc}); `python setup.py build_ext --inplace`")
    return _speedups


def _both(speedups: ModuleType, script: bytes, network: Network) -> tuple[object, object]:
    args = (network.bech32_hrp, network.p2pkh_prefix, network.p2sh_prefix)
    return speedups.address_from_script(script, *args), _address_from_script_py(script, *args)


def test_address_from_script_uses_the_extension_and_no_cache(speedups):
    assert script_module.derive_address is speedups.address_from_script
    clear_address_cache()
    out = TxOut(1, b"\x00\x14" + bytes(range(20)), get_network("regtest"))
    assert out.address == _address_from_script_py(out.script_pubkey, "bcrt", 0x6F, 0xC4)
    assert all(not entry[1] for entry in address_cache._TABLES.values())


# Every shape address_from_script tells apart, each also one byte off in length or in a
# fixed byte, so that every branch is taken both ways.
_body = st.binary(min_size=0, max_size=44)
near_misses = st.one_of(
    st.builds(lambda v, n, p: bytes((v, n)) + p, st.integers(0, 255), st.integers(0, 255), _body),
    st.builds(
        lambda head, body, tail, cut: (head + body + tail)[: len(head + body + tail) - cut],
        st.sampled_from([b"\x76\xa9\x14", b"\xa9\x14", b"\x76\xa9\x15", b"\x76\xa8\x14"]),
        st.binary(min_size=19, max_size=21),
        st.sampled_from([b"\x88\xac", b"\x87", b"\x88\xad", b"\x86", b""]),
        st.integers(0, 1),
    ),
)


@given(st.one_of(standard_and_odd_scripts, near_misses), st.sampled_from(ALL_NETWORKS))
def test_c_and_python_agree_on_every_kind_of_script(speedups, script, network):
    c_address, py_address = _both(speedups, script, network)
    assert c_address == py_address


@given(st.binary(max_size=200), st.sampled_from(ALL_NETWORKS))
def test_c_and_python_agree_on_arbitrary_bytes(speedups, script, network):
    c_address, py_address = _both(speedups, script, network)
    assert c_address == py_address


@given(
    st.one_of(standard_and_odd_scripts, near_misses),
    st.text(max_size=12),
    st.integers(0, 255),
    st.integers(0, 255),
)
def test_c_and_python_agree_on_any_hrp_and_prefixes(speedups, script, hrp, p2pkh, p2sh):
    args = (hrp, p2pkh, p2sh)
    assert speedups.address_from_script(script, *args) == _address_from_script_py(script, *args)


@pytest.mark.parametrize(("address", "script_hex", "chain"), CORE_KEY_IO_VALID)
def test_core_address_vectors(speedups, address, script_hex, chain):
    script = bytes.fromhex(script_hex)
    assert _both(speedups, script, get_network(chain)) == (address, address)


@pytest.mark.parametrize(("address", "script_hex"), SEGWIT_VALID)
def test_bip350_vectors(speedups, address, script_hex):
    address = address.lower()
    hrp = address[:2]
    script = bytes.fromhex(script_hex)
    assert speedups.address_from_script(script, hrp, 0, 5) == address


def test_pay_to_anchor_and_scripts_without_an_address(speedups):
    assert _both(speedups, P2A_SCRIPT, get_network("mainnet")) == ("bc1pfeessrawgf",) * 2
    for script in (b"", b"\x6a", b"\x00\x15" + bytes(21), b"\x51\x01\x00", b"\x00\x14" + bytes(19)):
        assert _both(speedups, script, get_network("mainnet")) == (None, None)


def test_a_bytes_like_script_gives_the_same_address(speedups):
    script = bytes.fromhex("76a914a31c06bd463e3923bc1aadbde48b16976c08071788ac")
    expected = "1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo"
    for form in (bytearray(script), memoryview(script)):
        assert speedups.address_from_script(form, "bc", 0, 5) == expected


def test_bad_arguments_raise_like_the_reference(speedups):
    p2pkh = bytes.fromhex("76a914a31c06bd463e3923bc1aadbde48b16976c08071788ac")
    p2wpkh = b"\x00\x14" + bytes(20)
    for fn in (speedups.address_from_script, _address_from_script_py):
        with pytest.raises(ValueError, match="range"):
            fn(p2pkh, "bc", 256, 5)
        with pytest.raises(ValueError, match="range"):
            fn(p2pkh, "bc", -1, 5)
        # A prefix only matters for the scripts that use it.
        assert fn(p2wpkh, "bc", 256, 256) == fn(p2wpkh, "bc", 0, 5)
    with pytest.raises(TypeError):
        speedups.address_from_script("76a9", "bc", 0, 5)
    with pytest.raises(TypeError):
        speedups.address_from_script(p2pkh, b"bc", 0, 5)
    with pytest.raises(TypeError):
        speedups.address_from_script(p2pkh, "bc", 0)


_FALLBACK = """
import sys
sys.modules["chaincrawler.chain._speedups"] = None  # as if it was never built
from chaincrawler.chain import address_cache, script
from chaincrawler.chain.networks import MAINNET
from chaincrawler.chain.types import TxOut
assert script.derive_address is script._address_from_script_py
assert address_cache.address_of is address_cache.cached_address
out = TxOut(1, bytes.fromhex("0014751e76e8199196d454941c45d1b3a323f1433bd6"), MAINNET)
print(out.address, script.address_from_script(bytes.fromhex(sys.argv[1]), MAINNET))
assert out.script_pubkey in address_cache._TABLES[id(MAINNET)][1]
from chaincrawler.chain import types, wire
from tests.chain import vectors
assert types._fast is None and wire._fast is None
block = types.Block.from_hex(vectors.BLOCK_170_HEX, MAINNET)
assert block.check_merkle_root() and len(block.transactions[1].outputs) == 2
"""


def test_without_the_extension_the_pure_python_code_is_used():
    p2sh = "a914373b819a068f32b7a6b38b6b38729647cfde01c287"
    done = subprocess.run(
        [sys.executable, "-c", _FALLBACK, p2sh], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == [
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        "36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm",
    ]


# -- block and transaction decoding -------------------------------------------------------


def _fields(block: Block) -> list[object]:
    """Everything a model can read of a block's transactions, decoded."""
    return [
        (
            tx.txid, tx.wtxid, tx.size, tx.base_size, tx.version, tx.locktime, tx.serialize(),
            [(i.prevout.txid_bytes, i.prevout.vout, i.script_sig, i.sequence, i.witness,
              i.prev_txout) for i in tx.inputs],
            [(o.value, o.script_pubkey, o.network, o.script_type, o.address)
             for o in tx.outputs],
        )
        for tx in block.transactions
    ]


def _parsed(data: bytes, fast: ModuleType | None) -> list[object] | tuple[str, int | None]:
    """The block's fields parsed with or without the extension, or its error."""
    saved = types._fast
    types._fast = fast  # type: ignore[assignment]
    try:
        block = Block.from_bytes(data, REGTEST)
        return _fields(block)
    except ChainDataError as exc:
        return str(exc), exc.offset
    finally:
        types._fast = saved


def _block_of(txs: list[Transaction]) -> bytes:
    root = wire.merkle_root([t.txid_bytes for t in txs])
    header = BlockHeader(1, b"\x00" * 32, root, 0, 0, 0)
    return Block(header, txs, REGTEST).serialize()


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fuzz_transactions, min_size=1, max_size=6))
def test_c_and_python_decode_the_same_transactions(speedups, txs):
    data = _block_of(txs)
    decoded = _parsed(data, speedups)
    assert decoded == _parsed(data, None)
    assert [d[6] for d in decoded] == [t.serialize() for t in txs]  # type: ignore[index]


def test_c_and_python_decode_real_transactions_alike(speedups):
    txs = [Transaction.from_hex(h, REGTEST)
           for h in (v.LEGACY_TX_HEX, v.SEGWIT_TX_HEX, v.TAPROOT_TX_HEX)]
    data = _block_of(txs)
    decoded = _parsed(data, speedups)
    assert decoded == _parsed(data, None)
    assert [d[0] for d in decoded] == [v.LEGACY_TXID, v.SEGWIT_TXID, v.TAPROOT_TXID]  # type: ignore[index]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_malformed_blocks_fail_with_the_same_error_with_or_without_c(speedups, data):
    block = bytearray(_block_of([Transaction.from_hex(v.SEGWIT_TX_HEX, REGTEST),
                                 Transaction.from_hex(v.TAPROOT_TX_HEX, REGTEST)]))
    for _ in range(data.draw(st.integers(1, 3))):
        block[data.draw(st.integers(80, len(block) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(81, len(block)))
    for candidate in (bytes(block), bytes(block[:cut])):
        assert _parsed(candidate, speedups) == _parsed(candidate, None)


def test_decoders_refuse_malformed_input_for_the_python_code_to_explain(speedups):
    tx = Transaction.from_hex(v.SEGWIT_TX_HEX, REGTEST)
    raw = tx.serialize()
    out_start = tx._out_start
    assert speedups.decode_outputs(raw[: out_start + 5], out_start, REGTEST, TxOut, None) is None
    assert speedups.decode_inputs(raw[: tx._io_start + 20], tx._io_start, -1, TxIn,
                                  OutPoint) is None
    assert speedups.parse_transactions(raw[:-1], 0, 1, REGTEST, Transaction) is None
    with pytest.raises(TypeError):
        speedups.decode_outputs(bytearray(raw), out_start, REGTEST, TxOut, None)


# -- SHA-256d and merkle roots ----------------------------------------------------------


def _sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


@pytest.mark.parametrize("portable", [False, True], ids=["sha-extensions-if-any", "portable"])
def test_sha256d_of_every_padding_case_matches_hashlib(speedups, portable):
    # lengths around each block boundary: the padding takes one block or two
    for n in [*range(0, 260), 1000, 4096, 65_543]:
        data = bytes((i * 7 + n) & 0xFF for i in range(n))
        assert speedups.sha256d(data, portable) == _sha256d(data), n


@given(st.binary(max_size=2000))
def test_sha256d_matches_hashlib(speedups, data):
    assert speedups.sha256d(data, False) == speedups.sha256d(data, True) == _sha256d(data)


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=70))
def test_c_and_python_merkle_roots_agree(speedups, hashes):
    assert speedups.merkle_root(hashes) == wire._merkle_root_py(hashes)
    assert wire.merkle_root(hashes) == wire._merkle_root_py(hashes)


def test_a_merkle_root_of_other_than_32_byte_hashes_is_left_to_python(speedups):
    hashes = [b"\x01" * 32, b"\x02" * 31]
    assert speedups.merkle_root(hashes) is None
    assert wire.merkle_root(hashes) == wire._merkle_root_py(hashes)


def test_block_170_txids_and_merkle_root_with_the_extension(speedups):
    block = Block.from_hex(v.BLOCK_170_HEX, get_network("mainnet"))
    assert block.transactions[0]._txid is not None  # computed while parsing
    assert block.check_merkle_root()
    assert [t.txid for t in block.transactions] == [
        _sha256d(t.serialize_without_witness())[::-1].hex() for t in block.transactions]
