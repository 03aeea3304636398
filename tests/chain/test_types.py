"""Parsing and serialising blocks and transactions against real chain data."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from chaincrawler.chain.networks import MAINNET, REGTEST
from chaincrawler.chain.types import (
    Block,
    BlockHeader,
    OutPoint,
    Transaction,
    TxIn,
    TxOut,
    decode_script_number_push,
    encode_script_number,
)
from chaincrawler.errors import ChainDataError
from chaincrawler.testing.recorded import CORE_REPLIES
from tests.chain import vectors as v

REPLIES = CORE_REPLIES


def core_result(name: str) -> object:
    return json.loads((REPLIES / name).read_text())["reply"]["result"]


def test_mainnet_genesis_block() -> None:
    block = Block.from_hex(v.MAINNET_GENESIS_HEX, MAINNET)
    assert block.hash == v.MAINNET_GENESIS_HASH == MAINNET.genesis_hash
    assert block.prev_hash == "00" * 32
    assert [tx.txid for tx in block.transactions] == [v.GENESIS_COINBASE_TXID]
    assert block.header.merkle_root == v.GENESIS_COINBASE_TXID
    assert block.check_merkle_root()
    assert block.header.check_proof_of_work()
    assert block.coinbase is block.transactions[0]
    assert block.transactions[0].outputs[0].value == 50 * 100_000_000
    assert block.serialize().hex() == v.MAINNET_GENESIS_HEX


def test_regtest_genesis_block_hash() -> None:
    mainnet = Block.from_hex(v.MAINNET_GENESIS_HEX, MAINNET)
    h = mainnet.header
    regtest_header = BlockHeader(h.version, h.prev_hash_bytes, h.merkle_root_bytes,
                                 1296688602, 0x207FFFFF, 2)
    regtest = Block(regtest_header, mainnet.transactions, REGTEST)
    assert regtest.hash == REGTEST.genesis_hash
    assert regtest.header.check_proof_of_work()
    assert Block.from_bytes(regtest.serialize(), REGTEST) == regtest


def test_block_170_two_transactions() -> None:
    block = Block.from_hex(v.BLOCK_170_HEX, MAINNET)
    assert block.hash == v.BLOCK_170_HASH
    assert [tx.txid for tx in block.transactions] == v.BLOCK_170_TXIDS
    assert block.check_merkle_root()
    spend = block.transactions[1]
    assert not spend.is_coinbase and block.transactions[0].is_coinbase
    assert spend.inputs[0].prevout.txid == (
        "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9"
    )
    assert [o.value for o in spend.outputs] == [10 * 10**8, 40 * 10**8]
    assert block.serialize().hex() == v.BLOCK_170_HEX
    assert block.bip34_height is not None  # pre-BIP34 coinbase pushes bits, not a height


def test_mainnet_block_1() -> None:
    block = Block.from_hex(v.MAINNET_BLOCK_1_HEX, MAINNET)
    assert block.hash == v.MAINNET_BLOCK_1_HASH
    assert block.prev_hash == v.MAINNET_GENESIS_HASH


@pytest.mark.parametrize(
    ("raw", "txid", "segwit"),
    [
        (v.LEGACY_TX_HEX, v.LEGACY_TXID, False),
        (v.SEGWIT_TX_HEX, v.SEGWIT_TXID, True),
        (v.TAPROOT_TX_HEX, v.TAPROOT_TXID, True),
    ],
)
def test_real_transactions_ids_and_round_trip(raw: str, txid: str, segwit: bool) -> None:
    tx = Transaction.from_hex(raw, MAINNET)
    assert tx.txid == txid
    assert tx.has_witness is segwit
    assert (tx.wtxid != tx.txid) is segwit
    assert tx.hex() == raw
    rebuilt = Transaction(
        [TxIn(i.prevout, i.script_sig, i.sequence, i.witness) for i in tx.inputs],
        [TxOut(o.value, o.script_pubkey, MAINNET) for o in tx.outputs],
        version=tx.version,
        locktime=tx.locktime,
        network=MAINNET,
    )
    assert rebuilt.hex() == raw
    assert rebuilt.txid == txid


def test_taproot_transaction_fields() -> None:
    tx = Transaction.from_hex(v.TAPROOT_TX_HEX, MAINNET)
    assert tx.version == 1
    assert tx.locktime == 709_631
    assert tx.inputs[0].sequence == 0xFFFFFFFD
    assert len(tx.inputs[0].witness) == 1 and len(tx.inputs[0].witness[0]) == 64
    assert tx.outputs[0].value == 0
    assert tx.outputs[1].value == 67_230
    assert tx.outputs[1].script_pubkey.hex().startswith("5120")


def test_regtest_block_matches_core_getblock_verbose() -> None:
    raw = core_result("14-getblock-verbosity0.json")
    verbose = core_result("16-getblock-verbosity2.json")
    assert isinstance(raw, str) and isinstance(verbose, dict)
    block = Block.from_hex(raw, REGTEST)
    assert block.hash == verbose["hash"]
    assert block.prev_hash == verbose["previousblockhash"]
    assert block.header.merkle_root == verbose["merkleroot"]
    assert block.header.version == verbose["version"]
    assert block.header.time == verbose["time"]
    assert f"{block.header.bits:08x}" == verbose["bits"]
    assert block.header.nonce == verbose["nonce"]
    assert block.size == verbose["size"]
    assert block.weight == verbose["weight"]
    assert block.bip34_height == verbose["height"]
    assert block.check_merkle_root()
    assert block.witness_commitment() is not None
    assert block.check_witness_commitment()
    assert block.header.check_proof_of_work()
    for tx, jtx in zip(block.transactions, verbose["tx"], strict=True):
        assert tx.txid == jtx["txid"]
        assert tx.wtxid == jtx["hash"]
        assert (tx.size, tx.vsize, tx.weight) == (jtx["size"], jtx["vsize"], jtx["weight"])
        assert (tx.version, tx.locktime) == (jtx["version"], jtx["locktime"])
        for txout, jout in zip(tx.outputs, jtx["vout"], strict=True):
            assert txout.value == int(Decimal(str(jout["value"])) * 100_000_000)
            assert txout.script_pubkey.hex() == jout["scriptPubKey"]["hex"]
        for txin, jin in zip(tx.inputs, jtx["vin"], strict=True):
            assert txin.sequence == jin["sequence"]
            assert [w.hex() for w in txin.witness] == jin.get("txinwitness", [])
            if "coinbase" in jin:
                assert txin.is_coinbase and txin.script_sig.hex() == jin["coinbase"]
            else:
                assert (txin.prevout.txid, txin.prevout.vout) == (jin["txid"], jin["vout"])


def test_decoderawtransaction_reply_matches() -> None:
    reply = json.loads((REPLIES / "13-decoderawtransaction.json").read_text())
    tx = Transaction.from_hex(reply["request"]["params"][0], REGTEST)
    result = reply["reply"]["result"]
    assert (tx.txid, tx.wtxid) == (result["txid"], result["hash"])
    assert (tx.size, tx.vsize, tx.weight) == (result["size"], result["vsize"], result["weight"])


def test_tampered_block_fails_merkle_and_witness_checks() -> None:
    raw = bytearray(bytes.fromhex(str(core_result("14-getblock-verbosity0.json"))))
    raw[-5] ^= 0x01  # a witness byte of the last transaction: txids unchanged, wtxid changes
    block = Block.from_bytes(bytes(raw), REGTEST)
    assert block.check_merkle_root()
    assert not block.check_witness_commitment()
    raw[-1] ^= 0x01  # the locktime: the txid changes
    assert not Block.from_bytes(bytes(raw), REGTEST).check_merkle_root()


def test_outpoint_and_hash_orders() -> None:
    tx = Transaction.from_hex(v.LEGACY_TX_HEX, MAINNET)
    point = OutPoint(tx.txid_bytes, 1)
    assert point.txid == v.LEGACY_TXID
    assert point == OutPoint(bytes.fromhex(v.LEGACY_TXID)[::-1], 1)
    assert len({point, OutPoint(tx.txid_bytes, 1)}) == 1


@pytest.mark.parametrize("n", [0, 1, 16, 17, 103, 127, 128, 255, 256, 65535, 500_000, 8_388_608])
def test_script_number_round_trip(n: int) -> None:
    enc = encode_script_number(n)
    script = bytes([len(enc)]) + enc if n > 16 else bytes([0x50 + n if n else 0])
    assert decode_script_number_push(script) == n


# -- malformed input ------------------------------------------------------------


def test_truncated_transaction_names_offset() -> None:
    raw = bytes.fromhex(v.SEGWIT_TX_HEX)
    for cut in (0, 3, 5, 10, 50, len(raw) // 2, len(raw) - 1):
        with pytest.raises(ChainDataError, match="offset"):
            Transaction.from_bytes(raw[:cut], MAINNET)


def test_trailing_garbage_is_rejected() -> None:
    with pytest.raises(ChainDataError, match="trailing"):
        Transaction.from_bytes(bytes.fromhex(v.LEGACY_TX_HEX) + b"\x00", MAINNET)
    with pytest.raises(ChainDataError, match="trailing"):
        Block.from_bytes(bytes.fromhex(v.BLOCK_170_HEX) + b"\x00\x00", MAINNET)


def test_absurd_counts_are_rejected_fast() -> None:
    header = bytes.fromhex(v.BLOCK_170_HEX)[:80]
    with pytest.raises(ChainDataError, match="exceeds the remaining data"):
        Block.from_bytes(header + b"\xff" + b"\xff" * 8 + b"\x00" * 100, MAINNET)
    with pytest.raises(ChainDataError, match="absurd transaction count 256"):
        Block.from_bytes(header + b"\xfd\x00\x01" + b"\x00" * 1000, MAINNET)
    # an input count of 2**32-1 in a 20-byte transaction
    with pytest.raises(ChainDataError, match="exceeds the remaining data"):
        Transaction.from_bytes(b"\x01\x00\x00\x00\xfe\xff\xff\xff\xff" + b"\x00" * 11, MAINNET)
    with pytest.raises(ChainDataError):
        Block.from_bytes(header, MAINNET)
    with pytest.raises(ChainDataError):
        Block.from_bytes(b"", MAINNET)


def test_bad_hex_is_a_chain_data_error() -> None:
    with pytest.raises(ChainDataError, match="not hex"):
        Transaction.from_hex("zz", MAINNET)


def test_a_transaction_refuses_outputs_of_another_network() -> None:
    txin = TxIn(OutPoint(b"\x01" * 32, 0))
    with pytest.raises(ChainDataError, match="an output of mainnet in a transaction of regtest"):
        Transaction([txin], [TxOut(1, b"\x51", MAINNET)], network=REGTEST)
