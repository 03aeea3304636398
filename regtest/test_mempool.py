"""Mempool acceptance and rejection as Core does it: codes of sendrawtransaction errors."""

from __future__ import annotations

import pytest

from chaincrawler.chain.types import OutPoint
from chaincrawler.node.errors import RPCError
from chaincrawler.testing.chaingen import Coin


async def test_resending_a_mempool_transaction_returns_its_txid(rpc, gen):
    coin = gen.coins()[0]
    tx = gen.create_transaction([coin], gen.random_payments(2))
    txid = await gen.send_transaction(tx)
    assert await rpc.call("sendrawtransaction", tx.hex()) == txid
    assert txid in await rpc.get_raw_mempool()


async def test_conflicting_spend_is_rejected_and_the_first_stays(rpc, gen):
    coin = gen.coins()[0]
    first = gen.create_transaction([coin], gen.random_payments(1))
    await gen.send_transaction(first)
    second = gen.create_transaction([coin], gen.random_payments(1))
    with pytest.raises(RPCError) as excinfo:
        await rpc.call("sendrawtransaction", second.hex())
    assert excinfo.value.code == -26
    mempool = await rpc.get_raw_mempool()
    assert first.txid in mempool and second.txid not in mempool


async def test_missing_inputs_are_rejected(rpc, gen):
    ghost = Coin(OutPoint(b"\x42" * 32, 0), 10_000_000, 1)
    tx = gen.create_transaction([ghost], gen.random_payments(1))
    with pytest.raises(RPCError) as excinfo:
        await rpc.call("sendrawtransaction", tx.hex())
    assert excinfo.value.code == -25
    assert "missingorspent" in excinfo.value.rpc_message


async def test_confirmed_transaction_cannot_be_sent_again(rpc, gen):
    coin = gen.coins()[0]
    tx = gen.create_transaction([coin], gen.random_payments(1))
    await gen.send_transaction(tx)
    await gen.mine(1)
    with pytest.raises(RPCError) as excinfo:
        await rpc.call("sendrawtransaction", tx.hex())
    assert excinfo.value.code == -27


async def test_invalid_hex_is_a_decode_error(rpc):
    with pytest.raises(RPCError) as excinfo:
        await rpc.call("sendrawtransaction", "00ff")
    assert excinfo.value.code == -22


async def test_mempool_sequence_grows_with_each_added_transaction(rpc, gen):
    before = await rpc.get_raw_mempool(mempool_sequence=True)
    txid = await gen.send()
    after = await rpc.get_raw_mempool(mempool_sequence=True)
    assert after.mempool_sequence == before.mempool_sequence + 1
    assert txid in after.txids
