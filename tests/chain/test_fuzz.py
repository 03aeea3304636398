"""Property tests: the parser never fails with anything but ChainDataError, and round-trips."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block, BlockHeader, OutPoint, Transaction, TxIn, TxOut
from chaincrawler.chain.wire import merkle_root
from chaincrawler.errors import ChainDataError
from tests.chain import vectors as v

REAL = [bytes.fromhex(h) for h in (v.LEGACY_TX_HEX, v.SEGWIT_TX_HEX, v.TAPROOT_TX_HEX)]

txins = st.builds(
    TxIn,
    st.builds(OutPoint, st.binary(min_size=32, max_size=32), st.integers(0, 2**32 - 1)),
    st.binary(max_size=300),
    st.integers(0, 2**32 - 1),
    st.lists(st.binary(max_size=80), max_size=4),
)
txouts = st.builds(TxOut, st.integers(0, 21 * 10**14), st.binary(max_size=300), st.just(REGTEST))
transactions = st.builds(
    Transaction,
    st.lists(txins, min_size=1, max_size=5),
    st.lists(txouts, max_size=5),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(0, 2**32 - 1),
    network=st.just(REGTEST),
)


def _parses_or_chain_data_error(parse: object, data: bytes) -> None:
    try:
        parse(data, REGTEST)  # type: ignore[operator]
    except ChainDataError as exc:
        assert exc.offset is None or 0 <= exc.offset <= len(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_never_crash_the_parsers(data: bytes) -> None:
    _parses_or_chain_data_error(Transaction.from_bytes, data)
    _parses_or_chain_data_error(Block.from_bytes, data)
    _parses_or_chain_data_error(Block.from_bytes, bytes.fromhex(v.BLOCK_170_HEX)[:80] + data)


@settings(max_examples=300)
@given(st.sampled_from(REAL), st.data())
def test_mutated_real_transactions_parse_or_fail_cleanly(raw: bytes, data: st.DataObject) -> None:
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    for candidate in (bytes(buf), bytes(buf[:cut])):
        try:
            tx = Transaction.from_bytes(candidate, REGTEST)
        except ChainDataError:
            continue
        # whatever parsed must serialise back to the very same bytes
        assert tx.serialize() == candidate
        assert len(tx.inputs) >= 1
        _ = tx.outputs, tx.txid, tx.wtxid


@given(transactions)
def test_generated_transactions_round_trip(tx: Transaction) -> None:
    parsed = Transaction.from_bytes(tx.serialize(), REGTEST)
    assert parsed == tx
    assert parsed.txid == tx.txid and parsed.wtxid == tx.wtxid
    assert parsed.inputs == tx.inputs
    assert parsed.outputs == tx.outputs
    assert parsed.has_witness == any(i.witness for i in tx.inputs)
    assert parsed.size == len(tx.serialize())


@settings(max_examples=50)
@given(st.lists(transactions, min_size=1, max_size=6), st.integers(0, 2**32 - 1))
def test_generated_blocks_round_trip(txs: list[Transaction], nonce: int) -> None:
    header = BlockHeader(0x20000000, b"\x11" * 32, merkle_root([t.txid_bytes for t in txs]),
                         1_700_000_000, 0x207FFFFF, nonce)
    block = Block(header, txs, REGTEST)
    parsed = Block.from_bytes(block.serialize(), REGTEST)
    assert parsed == block
    assert parsed.hash == block.hash
    assert parsed.check_merkle_root()
    assert [t.txid for t in parsed.transactions] == [t.txid for t in txs]
