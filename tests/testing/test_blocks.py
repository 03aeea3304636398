"""The public block builder: blocks a node accepts, coinbases, spends with prevouts."""

from __future__ import annotations

import pytest

from chaincrawler.chain.consensus import COIN
from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block, OutPoint, Transaction, TxIn, TxOut
from chaincrawler.testing.blocks import (
    BlockBuildError,
    address,
    block,
    chain,
    coinbase,
    p2wpkh,
    spend,
)
from chaincrawler.testing.simnode import SimNode


def _witness_spend(prev: Transaction) -> Transaction:
    txin = TxIn(OutPoint(prev.txid_bytes, 0), b"", 0xFFFFFFFD, [b"\x51"])
    return Transaction([txin], [TxOut(1000, p2wpkh("bob"), REGTEST)], network=REGTEST)


def test_blocks_are_valid_and_linked():
    blocks = chain(3)
    for b, height in zip(blocks, range(3), strict=True):
        assert b.height == b.bip34_height == height
        assert b.check_merkle_root() and b.check_witness_commitment()
        assert b.header.check_proof_of_work()
        assert Block.from_bytes(b.serialize(), REGTEST) == b
    assert [b.prev_hash for b in blocks[1:]] == [b.hash for b in blocks[:-1]]
    assert chain(1, tag=b"other")[0].hash != blocks[0].hash


def test_a_built_coinbase_commits_to_witnesses():
    funding = block(1, pays=[(address("alice"), 10 * COIN)])
    b = block(2, [_witness_spend(funding.coinbase)], funding.hash_bytes)
    assert b.witness_commitment() is not None and b.check_witness_commitment()
    given = coinbase(2, [(address("alice"), COIN)])
    with pytest.raises(BlockBuildError, match="does not commit"):
        block(2, [given, _witness_spend(funding.coinbase)])


def test_spend_resolves_prevouts_and_pays_addresses():
    b0 = block(0, pays=[(address("alice"), 50_000)])
    pay = spend([(b0.coinbase, 0)], [(address("bob"), 20_000), (p2wpkh("carol"), 29_000)])
    assert pay.inputs[0].prev_txout is b0.coinbase.outputs[0]
    assert [o.address for o in pay.outputs] == [address("bob"), address("carol")]
    assert spend([(b0.coinbase, 0)], [], resolve=False).inputs[0].prev_txout is None


async def test_the_simulated_node_accepts_built_blocks(tmp_path):
    async with SimNode(tmp_path, rpc_port=0) as node:
        tip = node.engine.chain.tip
        b = block(1, (), tip.hash, time=tip.block.header.time + 1, tag=b"test")
        node.engine.process_block(b)
        assert node.engine.chain.tip.hash_hex == b.hash
