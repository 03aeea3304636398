"""The chain generator: standard, realistic, deterministic transactions the node accepts."""

from __future__ import annotations

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.script import ScriptType, address_from_script, script_from_address
from chaincrawler.chain.types import Block, OutPoint, Transaction
from chaincrawler.testing.chaingen import (
    WALLET_ADDRESS,
    WALLET_SCRIPT_PUBKEY,
    ChainGenerator,
    Coin,
    GeneratorError,
    dust_threshold,
)
from regtest.crawling import client


class _NoRpc:
    async def call(self, method, *params):
        raise AssertionError(f"unexpected RPC {method}")

    async def batch(self, calls):
        raise AssertionError("unexpected RPC batch")


def test_wallet_script_is_p2wsh_of_op_true():
    assert WALLET_SCRIPT_PUBKEY.hex() == (
        "00204ae81572f06e1b88fd5ced7a1a000945432e83e1551e6f721ee9c00b8cc33260"
    )
    assert script_from_address(WALLET_ADDRESS, REGTEST) == WALLET_SCRIPT_PUBKEY


def test_dust_thresholds_are_cores():
    gen = ChainGenerator(_NoRpc(), seed=1)
    expected = {
        ScriptType.P2PKH: 546, ScriptType.P2SH: 540, ScriptType.P2WPKH: 294,
        ScriptType.P2WSH: 330, ScriptType.P2TR: 330,
    }  # fmt: skip
    assert {k: dust_threshold(gen.destination(k, 0)) for k in expected} == expected
    assert dust_threshold(b"\x6a\x04abcd") == 0


def test_payments_are_deterministic_for_a_seed_and_have_addresses():
    first = ChainGenerator(_NoRpc(), seed=7).random_payments(50)
    assert first == ChainGenerator(_NoRpc(), seed=7).random_payments(50)
    assert first != ChainGenerator(_NoRpc(), seed=8).random_payments(50)
    for script, value in first:
        assert isinstance(script, bytes)
        if script[0] == 0x6A:
            assert value == 0 and len(script) <= 83
        else:
            assert address_from_script(script, REGTEST) is not None
            assert value >= dust_threshold(script)


def test_create_transaction_refuses_dust_and_unaffordable_payments():
    gen = ChainGenerator(_NoRpc(), seed=1)
    coin = Coin(OutPoint(b"\x01" * 32, 0), 100_000, 5)
    with pytest.raises(GeneratorError, match="dust"):
        gen.create_transaction([coin], [(gen.destination(ScriptType.P2PKH, 0), 545)])
    with pytest.raises(GeneratorError, match="cannot pay"):
        gen.create_transaction([coin], [(gen.destination(ScriptType.P2PKH, 0), 100_000)])
    tx = gen.create_transaction([coin], [(gen.destination(ScriptType.P2TR, 0), 50_000)])
    fee = 100_000 - sum(o.value for o in tx.outputs)
    assert fee == tx.vsize * 2 and tx.version == 2
    assert tx.inputs[0].witness == [b"\x51"]


async def test_on_a_fresh_node_mine_until_mature_makes_a_coin_spendable(fresh_node):
    async with client(fresh_node()) as rpc:
        gen = ChainGenerator(rpc, seed="fresh")
        with pytest.raises(GeneratorError, match=r"call `await gen.ensure_funds\("):
            await gen.send([(WALLET_ADDRESS, 10_000)])
        await gen.mine_until_mature()
        assert gen.height == 100 and [c.height for c in gen.coins()] == [1]
        txid = await gen.send([(WALLET_ADDRESS, 10_000)])
        paid = gen.coin(txid, 0)
        assert (paid.value, paid.height) == (10_000, None)
        await gen.mine(1)
        spend = gen.create_transaction([gen.coin(txid, 0)], [(gen.other_miner_address(), 5000)])
        await gen.send_transaction(spend)
        with pytest.raises(GeneratorError, match="not an unspent coin"):
            gen.coin(txid, 0)
        assert spend.txid in await rpc.get_raw_mempool()


async def test_mined_blocks_pay_the_generator(rpc, gen):
    hashes = await gen.mine(3)
    assert len(hashes) == 3 and gen.tip == hashes[-1] == await rpc.get_best_block_hash()
    for block_hash in hashes:
        block = Block.from_bytes(await rpc.get_raw_block(block_hash), REGTEST)
        assert block.transactions[0].outputs[0].address == WALLET_ADDRESS


async def test_sent_transactions_pay_every_destination_type(rpc, gen):
    seen = set()
    for _ in range(12):
        txid = await gen.send(outputs=3)
        decoded = await rpc.get_raw_transaction(txid, 1)
        seen.update(out["scriptPubKey"]["type"] for out in decoded["vout"])
        entry = await rpc.call("getmempoolentry", txid)
        assert round(entry["fees"]["base"] * 100_000_000) == entry["vsize"] * 2
    kinds = {ScriptType.P2PKH, ScriptType.P2SH, ScriptType.P2WPKH, ScriptType.P2WSH}
    assert {k.value for k in (*kinds, ScriptType.P2TR)} <= seen


async def test_long_unconfirmed_chains_stay_within_mempool_limits(rpc, gen):
    # Keep spending unconfirmed change while coins() offers it: a chain past Core's
    # 25-transaction limits would be rejected by the node. 40 spends need two chains,
    # so two mature confirmed coins to start them, and an empty mempool (earlier tests'
    # unconfirmed coins would start other chains).
    await gen.mine(1)
    while sum(1 for c in gen.coins() if c.height is not None) < 2:
        await gen.mine(1)
    txids = []
    for _ in range(40):
        coins = gen.coins()
        unconfirmed = [c for c in coins if c.height is None]
        tx = gen.create_transaction([(unconfirmed or coins)[0]], gen.random_payments(1))
        txids.append(await gen.send_transaction(tx))
    assert set(txids) <= set(await rpc.get_raw_mempool())
    entries = [await rpc.call("getmempoolentry", t) for t in txids]
    assert max(e["ancestorcount"] for e in entries) == 25
    await gen.mine(1)
    assert not set(txids) & set(await rpc.get_raw_mempool())


async def test_fill_mines_blocks_full_of_standard_transactions(rpc, gen):
    hashes = await gen.fill(3, 60)
    assert len(hashes) == 3
    for block_hash in hashes:
        block = Block.from_bytes(await rpc.get_raw_block(block_hash), REGTEST)
        assert len(block.transactions) >= 61
        assert all(tx.version == 2 for tx in block.transactions[1:])
    assert await rpc.get_raw_mempool() == []


async def test_generator_follows_reorgs_made_by_others(rpc, gen):
    await gen.send()
    (block_hash,) = await gen.mine(1)
    await rpc.call("invalidateblock", block_hash)
    # The generator resyncs: coins of the invalidated block are not spent twice.
    for _ in range(3):
        await gen.send()
    await gen.mine(1)
    assert await rpc.get_raw_mempool() == []


async def test_a_fresh_generator_sees_the_coins_of_an_earlier_one(rpc, gen):
    txid = await gen.send()
    other = ChainGenerator(rpc, seed="other")
    await other.sync()
    spent = Transaction.from_bytes(await rpc.get_raw_transaction(txid), REGTEST)
    assert all(c.outpoint != spent.inputs[0].prevout for c in other.coins(spendable=False))
    await other.send()
    await other.mine(1)
