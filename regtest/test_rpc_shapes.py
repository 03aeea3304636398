"""Every RPC a crawler relies on answers with the fields and types Bitcoin Core sends."""

from __future__ import annotations

from chaincrawler.chain.script import ScriptType
from chaincrawler.testing.chaingen import WALLET_SCRIPT_PUBKEY
from chaincrawler.testing.recorded import recorded_result
from regtest.harness import assert_shape


async def _send_like_recorded(gen):
    """Empty the mempool, then send what the recording sent: one P2WPKH payment + change."""
    await gen.mine(1)
    return await gen.send([(gen.destination(ScriptType.P2WPKH, 0), 50_000)])


async def test_chain_state_rpcs_have_core_shapes(raw, node, gen):
    await gen.mine(1)
    info = await raw.call("getblockchaininfo")
    assert_shape(info, recorded_result("01-"), node)
    assert info["chain"] == "regtest"
    assert info["blocks"] == await raw.call("getblockcount")
    assert info["bestblockhash"] == await raw.call("getbestblockhash")
    assert await raw.call("getblockhash", info["blocks"]) == info["bestblockhash"]
    assert_shape(await raw.call("getnetworkinfo"), recorded_result("02-"), node)
    tips = await raw.call("getchaintips")
    assert_shape(tips, recorded_result("24-"), node)
    active = [t for t in tips if t["status"] == "active"]
    tip = {"height": info["blocks"], "hash": info["bestblockhash"]}
    assert active == [{**tip, "branchlen": 0, "status": "active"}]


async def test_zmq_notifications_list_every_publisher(raw, node):
    notifications = await raw.call("getzmqnotifications")
    assert_shape(notifications, recorded_result("03-"), node)
    published = {n["type"]: n["address"] for n in notifications}
    assert published == {f"pub{t}": a for t, a in node.zmq_endpoints.items()}


async def test_getdescriptorinfo_gives_cores_checksum(raw, node):
    spk = WALLET_SCRIPT_PUBKEY.hex()
    info = await raw.call("getdescriptorinfo", f"raw({spk})")
    assert info == recorded_result("04-")


async def test_mempool_rpcs_have_core_shapes(raw, node, gen):
    txid = await _send_like_recorded(gen)
    assert txid in await raw.call("getrawmempool", False)
    assert_shape(await raw.call("getrawmempool", False), recorded_result("07-"), node)
    verbose = await raw.call("getrawmempool", True)
    assert_shape({"x": verbose[txid]}, {"x": next(iter(recorded_result("08-").values()))}, node)
    snapshot = await raw.call("getrawmempool", False, True)
    assert_shape(snapshot, recorded_result("09-"), node)
    assert txid in snapshot["txids"]
    info = await raw.call("getmempoolinfo")
    assert_shape(info, recorded_result("10-"), node)
    assert info["size"] == len(snapshot["txids"])
    entry = await raw.call("getmempoolentry", txid)
    assert_shape(entry, recorded_result("11-"), node)
    assert round(entry["fees"]["base"] * 1e8) == entry["vsize"] * 2  # 2 sat/vB


async def test_transaction_rpcs_have_core_shapes(raw, node, gen):
    txid = await _send_like_recorded(gen)
    tx = await raw.call("getrawtransaction", txid, True)
    assert_shape(tx, recorded_result("12-"), node)
    assert tx["txid"] == txid and tx["version"] == 2
    decoded = await raw.call("decoderawtransaction", tx["hex"])
    assert_shape(decoded, recorded_result("13-"), node)
    assert decoded["txid"] == txid
    (block_hash,) = await gen.mine(1)
    confirmed = await raw.call("getrawtransaction", txid, 2, block_hash)
    assert_shape(confirmed, recorded_result("23-"), node)
    assert confirmed["blockhash"] == block_hash and confirmed["confirmations"] == 1
    assert await raw.call("getrawtransaction", txid, False) == tx["hex"]


async def test_block_rpcs_have_core_shapes(raw, node, gen):
    txid = await _send_like_recorded(gen)
    (block_hash,) = await gen.mine(1)
    raw_hex = await raw.call("getblock", block_hash, 0)
    assert isinstance(raw_hex, str) and int(raw_hex, 16) >= 0
    for verbosity, name in ((1, "15-"), (2, "16-"), (3, "17-")):
        block = await raw.call("getblock", block_hash, verbosity)
        assert_shape(block, recorded_result(name), node)
        assert block["hash"] == block_hash and block["confirmations"] == 1
    block = await raw.call("getblock", block_hash, 1)
    assert txid in block["tx"] and block["nTx"] == len(block["tx"])
    header = await raw.call("getblockheader", block_hash, True)
    assert_shape(header, recorded_result("18-"), node)
    header_hex = await raw.call("getblockheader", block_hash, False)
    assert header_hex == raw_hex[:160]
    assert await raw.call("getblockhash", block["height"]) == block_hash


async def test_named_parameters_work_like_positional_ones(raw, node, gen):
    (block_hash,) = await gen.mine(1)
    status, reply = await raw.post(
        {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "getblock",
            "params": {"blockhash": block_hash, "verbosity": 1},
        }
    )
    assert status == 200
    assert reply["result"] == await raw.call("getblock", block_hash, 1)
    assert_shape(reply["result"], recorded_result("31-"), node)
