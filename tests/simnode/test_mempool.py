"""sendrawtransaction acceptance and rejection with Bitcoin Core's codes and messages."""

from __future__ import annotations

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import TxOut
from chaincrawler.testing.rawrpc import RawRpc
from tests.simnode.helpers import DESCRIPTOR, P2WSH_OP_TRUE, mature_coins, spend


async def test_missing_inputs_and_already_confirmed(rpc: RawRpc) -> None:
    (coin,) = await mature_coins(rpc, 1)
    err = await rpc.error("sendrawtransaction", spend("ab" * 32, 0, 10_000).hex())
    assert err == {"code": -25, "message": "bad-txns-inputs-missingorspent"}
    tx = spend(coin[0], 0, coin[1])
    assert await rpc("sendrawtransaction", tx.hex()) == tx.txid
    assert await rpc("sendrawtransaction", tx.hex()) == tx.txid  # already in mempool: fine
    await rpc("generatetodescriptor", 1, DESCRIPTOR)
    err = await rpc.error("sendrawtransaction", tx.hex())
    assert err == {"code": -27, "message": "Transaction outputs already in utxo set"}


async def test_double_spend_needs_more_fee_to_replace(rpc: RawRpc) -> None:
    (coin,) = await mature_coins(rpc, 1)
    first = spend(coin[0], 0, coin[1], fee=10_000)
    await rpc("sendrawtransaction", first.hex())
    same_fee = spend(coin[0], 0, coin[1], fee=10_000,
                     outputs=[TxOut(coin[1] - 10_000, bytes.fromhex("0014" + "33" * 20), REGTEST)])
    err = await rpc.error("sendrawtransaction", same_fee.hex())
    assert err["code"] == -26
    assert err["message"].startswith(f"insufficient fee, rejecting replacement {same_fee.txid}")
    better = spend(coin[0], 0, coin[1], fee=20_000)
    assert await rpc("sendrawtransaction", better.hex()) == better.txid
    assert await rpc("getrawmempool") == [better.txid]


async def test_policy_rejections(rpc: RawRpc) -> None:
    (coin,) = await mature_coins(rpc, 1)
    too_much = spend(coin[0], 0, coin[1], outputs=[TxOut(coin[1] + 1, P2WSH_OP_TRUE, REGTEST)])
    err = await rpc.error("sendrawtransaction", too_much.hex())
    assert err == {"code": -26, "message":
                   "bad-txns-in-belowout, value in (50.00) < value out (50.00000001)"}
    free = spend(coin[0], 0, coin[1], fee=0)
    err = await rpc.error("sendrawtransaction", free.hex())
    assert err == {"code": -26, "message": f"min relay fee not met, 0 < {-(-free.vsize // 10)}"}
    dust = spend(coin[0], 0, coin[1], outputs=[TxOut(100, P2WSH_OP_TRUE, REGTEST),
                                                TxOut(coin[1] - 10_000, P2WSH_OP_TRUE, REGTEST)])
    assert await rpc.error("sendrawtransaction", dust.hex()) == {"code": -26, "message": "dust"}
    pricey = spend(coin[0], 0, coin[1], fee=coin[1] // 2)
    err = await rpc.error("sendrawtransaction", pricey.hex())
    assert err == {"code": -25, "message":
                   "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)"}
    assert await rpc("sendrawtransaction", pricey.hex(), 0) == pricey.txid
    err = await rpc.error("sendrawtransaction", "00")
    assert err == {"code": -22,
                   "message": "TX decode failed. Make sure the tx has at least one input."}


async def test_immature_coinbase_spend_is_refused(rpc: RawRpc) -> None:
    hashes = await rpc("generatetodescriptor", 99, DESCRIPTOR)
    coinbase = (await rpc("getblock", hashes[0], 2))["tx"][0]["txid"]
    err = await rpc.error("sendrawtransaction", spend(coinbase, 0, 50 * 100_000_000).hex())
    assert err == {"code": -26, "message":
                   "bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth 99"}


async def test_chained_transactions_report_their_links(rpc: RawRpc) -> None:
    (coin,) = await mature_coins(rpc, 1)
    parent = spend(coin[0], 0, coin[1])
    child = spend(parent.txid, 0, parent.outputs[0].value)
    await rpc("sendrawtransaction", parent.hex())
    await rpc("sendrawtransaction", child.hex())
    entry = await rpc("getmempoolentry", child.txid)
    assert entry["depends"] == [parent.txid] and entry["ancestorcount"] == 2
    assert (await rpc("getmempoolentry", parent.txid))["spentby"] == [child.txid]
    assert (await rpc("getrawmempool", False, True))["mempool_sequence"] == 3
    assert await rpc.error("getmempoolentry", "00" * 32) == {
        "code": -5, "message": "Transaction not in mempool"}
    err = await rpc.error("getrawtransaction", "11" * 32)
    assert err == {"code": -5, "message": "No such mempool or blockchain transaction. "
                   "Use gettransaction for wallet transactions."}
