"""REST interface: bin/hex/json formats of blocks, headers, hashes, transactions, mempool."""

from __future__ import annotations

import pytest

from chaincrawler.chain.consensus import COIN
from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.script import ScriptType
from chaincrawler.chain.types import Block, BlockHeader, Transaction
from chaincrawler.node.client import SpentOutput
from chaincrawler.node.rest import parse_spent_txouts
from chaincrawler.testing.recorded import recorded, recorded_result
from regtest.harness import assert_shape

pytestmark = pytest.mark.rest


@pytest.fixture
async def mined(gen):
    """A tip block holding one generator transaction: (block hash, txid)."""
    await gen.mine(1)
    txid = await gen.send([(gen.destination(ScriptType.P2WPKH, 1), 60_000)])
    (block_hash,) = await gen.mine(1)
    return block_hash, txid


async def test_block_in_three_formats(raw, rpc, node, mined):
    block_hash, txid = mined
    status, body = await raw.get(f"/rest/block/{block_hash}.bin")
    assert status == 200 and body == await rpc.get_raw_block(block_hash)
    block = Block.from_bytes(body, REGTEST)
    assert block.hash == block_hash and txid in [t.txid for t in block.transactions]
    status, text = await raw.get(f"/rest/block/{block_hash}.hex")
    assert status == 200 and text == body.hex().encode() + b"\n"
    as_json = await raw.get_json(f"/rest/block/{block_hash}.json")
    assert_shape(as_json, recorded_result("17-"), node)
    assert as_json == await raw.call("getblock", block_hash, 3)
    summary = await raw.get_json(f"/rest/block/notxdetails/{block_hash}.json")
    assert_shape(summary, recorded_result("37-"), node)
    assert summary["tx"] == [t.txid for t in block.transactions]


async def test_headers_in_three_formats(raw, rpc, node, mined):
    block_hash, _ = mined
    parent = (await rpc.get_block_header(block_hash))["previousblockhash"]
    status, body = await raw.get(f"/rest/headers/{parent}.bin?count=2")
    assert status == 200 and len(body) == 160
    assert BlockHeader.from_bytes(body, 80).hash == block_hash
    status, text = await raw.get(f"/rest/headers/{parent}.hex?count=2")
    assert text == body.hex().encode() + b"\n"
    headers = await raw.get_json(f"/rest/headers/{parent}.json?count=5")
    assert [h["hash"] for h in headers] == [parent, block_hash]  # stops at the tip
    assert_shape(headers, recorded_result("39-"), node)


async def test_blockhash_by_height_in_three_formats(raw, rpc, mined):
    block_hash, _ = mined
    height = (await rpc.get_block_header(block_hash))["height"]
    status, body = await raw.get(f"/rest/blockhashbyheight/{height}.bin")
    assert status == 200 and body == bytes.fromhex(block_hash)[::-1]
    status, text = await raw.get(f"/rest/blockhashbyheight/{height}.hex")
    assert text == block_hash.encode() + b"\n"
    assert await raw.get_json(f"/rest/blockhashbyheight/{height}.json") == {"blockhash": block_hash}
    assert recorded_result("38-").keys() == {"blockhash"}


async def test_transaction_in_three_formats(raw, rpc, mined):
    block_hash, txid = mined
    status, body = await raw.get(f"/rest/tx/{txid}.bin")
    assert status == 200 and Transaction.from_bytes(body, REGTEST).txid == txid
    status, text = await raw.get(f"/rest/tx/{txid}.hex")
    assert text == body.hex().encode() + b"\n"
    as_json = await raw.get_json(f"/rest/tx/{txid}.json")
    assert as_json["txid"] == txid and as_json["blockhash"] == block_hash
    assert as_json["hex"] == body.hex()


async def test_chain_and_mempool_json(raw, node, gen):
    chaininfo = await raw.get_json("/rest/chaininfo.json")
    assert_shape(chaininfo, recorded_result("36-"), node)
    assert chaininfo["bestblockhash"] == await raw.call("getbestblockhash")
    txid = await gen.send([(gen.destination(ScriptType.P2WPKH, 2), 70_000)])
    info = await raw.get_json("/rest/mempool/info.json")
    assert_shape(info, recorded_result("40-"), node)
    assert info["size"] >= 1
    contents = await raw.get_json("/rest/mempool/contents.json")
    assert txid in contents
    expected_entry = next(iter(recorded_result("08-").values()))
    assert_shape(contents[txid], expected_entry, node)
    assert contents[txid] == (await raw.call("getrawmempool", True))[txid]


async def test_rest_errors(raw):
    status, body = await raw.get(f"/rest/block/{'00' * 32}.bin")
    assert status == 404 and b"not found" in body
    status, _ = await raw.get("/rest/block/nothex.bin")
    assert status == 400
    status, _ = await raw.get("/rest/blockhashbyheight/999999999.json")
    assert status == 404
    status, _ = await raw.get(f"/rest/tx/{'00' * 32}.json")
    assert status == 404
    status, _ = await raw.get("/rest/chaininfo.bin")
    assert status == 404


SPENT_TXOUTS_SINCE = 300000  # Bitcoin Core 30.0 added /rest/spenttxouts/


@pytest.fixture
def spent_txouts_served(node) -> None:
    if node.version < SPENT_TXOUTS_SINCE:
        pytest.skip(f"{node.kind} {node.version} has no /rest/spenttxouts/ (Core >= 30 has)")


async def test_spent_txouts_are_getblock_3_prevouts(raw, rpc, gen, spent_txouts_served):
    await gen.mine(1)
    for n in range(3):
        await gen.send([(gen.destination(ScriptType.P2TR, n), 40_000 + n)])
    (block_hash,) = await gen.mine(1)
    verbose = await rpc.get_block_verbose(block_hash, 3)
    prevouts = [[vin["prevout"] for vin in tx["vin"] if "prevout" in vin] for tx in verbose["tx"]]
    assert prevouts[0] == [] and sum(len(p) for p in prevouts) >= 3
    status, body = await raw.get(f"/rest/spenttxouts/{block_hash}.bin")
    assert status == 200
    assert parse_spent_txouts(body) == [
        [SpentOutput(int(p["value"] * COIN), bytes.fromhex(p["scriptPubKey"]["hex"])) for p in tx]
        for tx in prevouts
    ]
    assert await rpc.rest_spent_txouts(block_hash) == parse_spent_txouts(body)
    assert await rpc.serves_spent_txouts()
    status, text = await raw.get(f"/rest/spenttxouts/{block_hash}.hex")
    assert (status, text) == (200, body.hex().encode() + b"\n")
    as_json = await raw.get_json(f"/rest/spenttxouts/{block_hash}.json")
    as_rpc = await raw.call("getblock", block_hash, 3)
    assert as_json == [
        [{"value": vin["prevout"]["value"], "scriptPubKey": vin["prevout"]["scriptPubKey"]}
         for vin in tx["vin"] if "prevout" in vin]
        for tx in as_rpc["tx"]
    ]


async def test_spent_txouts_of_genesis_and_errors(raw, rpc, spent_txouts_served):
    genesis = await rpc.get_block_hash(0)
    assert await raw.get_json(f"/rest/spenttxouts/{genesis}.json") == recorded_result("46-")
    assert await raw.get(f"/rest/spenttxouts/{genesis}.bin") == (200, b"\x01\x00")
    for name in ("47-", "48-"):
        exchange = recorded(name)
        assert await raw.get(exchange["request"][4:]) == (
            exchange["http_status"], exchange["reply"].encode())
