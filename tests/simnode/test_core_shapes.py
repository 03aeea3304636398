"""Replies compared with the recorded Bitcoin Core 31 replies: same keys in the same
order, same JSON types, same error codes and messages."""

from __future__ import annotations

from typing import Any

from chaincrawler.testing.rawrpc import RawRpc
from chaincrawler.testing.recorded import recorded
from tests.simnode.helpers import DESCRIPTOR, spend

RECORDED_TX = recorded("13-decoderawtransaction")["request"]["params"][0]


def shape(value: Any) -> Any:
    """Keys (in order) and JSON types, recursively; lists by their first element
    (an empty list, like a release build's empty ``warnings``, matches any list)."""
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return "list" if not value or isinstance(value[0], str) else ["list", shape(value[0])]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


async def scenario(rpc: RawRpc) -> dict[str, str]:
    """Core's recorded scenario: 101 blocks, one spend of block 1's coinbase, a block."""
    hashes = await rpc("generatetodescriptor", 102, DESCRIPTOR)
    block1 = await rpc("getblock", hashes[0], 2)
    coinbase = block1["tx"][0]
    assert coinbase["txid"] == recorded("12-")["reply"]["result"]["vin"][0]["txid"]
    txid = await rpc("sendrawtransaction", RECORDED_TX)
    assert txid == recorded("06-")["reply"]["result"]
    (block,) = await rpc("generatetodescriptor", 1, DESCRIPTOR)
    return {"txid": txid, "block": block, "parent": hashes[-1]}


async def test_block_1_coinbase_is_byte_identical_to_core(rpc: RawRpc) -> None:
    (block_hash,) = await rpc("generatetodescriptor", 1, DESCRIPTOR)
    block = await rpc("getblock", block_hash, 2)
    # Core's recorded transaction spends exactly this coinbase (txid commits to it).
    core_spend = recorded("12-")["reply"]["result"]["vin"][0]["txid"]
    assert block["tx"][0]["txid"] == core_spend
    assert block["coinbase_tx"]["coinbase"] == "5100"


async def test_decoderawtransaction_equals_core_exactly(rpc: RawRpc) -> None:
    assert await rpc("decoderawtransaction", RECORDED_TX) == recorded(
        "13-decoderawtransaction"
    )["reply"]["result"]


async def test_mempool_transaction_replies_equal_core(rpc: RawRpc) -> None:
    await rpc("generatetodescriptor", 101, DESCRIPTOR)
    txid = await rpc("sendrawtransaction", RECORDED_TX)
    assert await rpc("getrawtransaction", txid, True) == recorded("12-")["reply"]["result"]
    entry = await rpc("getmempoolentry", txid)
    core = recorded("11-")["reply"]["result"]
    assert {**entry, "time": 0, "height": 0} == {**core, "time": 0, "height": 0}
    info = await rpc("getmempoolinfo")
    assert info == recorded("10-")["reply"]["result"]


async def test_getblock_verbosities_have_core_shapes(rpc: RawRpc) -> None:
    ids = await scenario(rpc)
    for verbosity, name in ((1, "15-"), (2, "16-"), (3, "17-")):
        mine = await rpc("getblock", ids["block"], verbosity)
        core = recorded(name)["reply"]["result"]
        assert shape(mine) == shape(core), verbosity
        assert mine["coinbase_tx"]["coinbase"] == "0167"
        assert mine["coinbase_tx"]["locktime"] == 102
    assert isinstance(await rpc("getblock", ids["block"], 0), str)
    tx = (await rpc("getblock", ids["block"], 3))["tx"][1]
    assert tx["fee"] == 0.0001
    assert tx["vin"][0]["prevout"]["generated"] is True
    assert tx["vin"][0]["prevout"]["height"] == 1


async def test_block_sizes_match_core_for_the_same_contents(rpc: RawRpc) -> None:
    ids = await scenario(rpc)
    mine = await rpc("getblock", ids["block"], 1)
    core = recorded("15-")["reply"]["result"]
    for key in ("height", "version", "versionHex", "bits", "target", "difficulty",
                "chainwork", "nTx", "strippedsize", "size", "weight", "confirmations"):
        assert mine[key] == core[key], key
    assert mine["tx"][1] == core["tx"][1] == ids["txid"]


async def test_header_and_chain_replies_have_core_shapes(rpc: RawRpc) -> None:
    ids = await scenario(rpc)
    pairs = [
        ("18-", await rpc("getblockheader", ids["block"], True)),
        ("01-", await rpc("getblockchaininfo")),
        ("02-", await rpc("getnetworkinfo")),
        ("24-", await rpc("getchaintips")),
        ("21-", await rpc("getblockcount")),
        ("22-", await rpc("getbestblockhash")),
        ("20-", await rpc("getblockhash", 1)),
        ("19-", await rpc("getblockheader", ids["block"], False)),
    ]
    for name, mine in pairs:
        assert shape(mine) == shape(recorded(name)["reply"]["result"]), name
    assert (await rpc("getblockheader", ids["block"], True))["chainwork"].endswith("d0")


async def test_mempool_replies_have_core_shapes(rpc: RawRpc) -> None:
    hashes = await rpc("generatetodescriptor", 101, DESCRIPTOR)
    coinbase = (await rpc("getblock", hashes[0], 2))["tx"][0]["txid"]
    tx = spend(coinbase, 0, 50 * 100_000_000, fee=10_000)
    txid = await rpc("sendrawtransaction", tx.hex())
    assert shape(await rpc("getrawmempool", False)) == shape(recorded("07-")["reply"]["result"])
    assert shape(await rpc("getrawmempool", True)) != []
    entry = (await rpc("getrawmempool", True))[txid]
    assert shape(entry) == shape(recorded("11-")["reply"]["result"])
    assert shape(await rpc("getmempoolentry", txid)) == shape(recorded("11-")["reply"]["result"])
    with_sequence = await rpc("getrawmempool", False, True)
    assert shape(with_sequence) == shape(recorded("09-")["reply"]["result"])
    assert (await rpc("getrawmempool", False, True))["mempool_sequence"] == 2
    assert shape(await rpc("getmempoolinfo")) == shape(recorded("10-")["reply"]["result"])
    mine = await rpc("getrawtransaction", txid, True)
    assert shape(mine) == shape(recorded("12-")["reply"]["result"])
    assert entry["fees"]["base"] == 0.0001 and entry["unbroadcast"] is True
    assert entry["height"] == 101 and entry["vsize"] == tx.vsize


async def test_getrawtransaction_in_block_has_core_shape(rpc: RawRpc) -> None:
    ids = await scenario(rpc)
    mine = await rpc("getrawtransaction", ids["txid"], 2, ids["block"])
    core = recorded("23-")["reply"]["result"]
    assert shape(mine) == shape(core)
    assert mine["in_active_chain"] is True and mine["confirmations"] == 1
    core_same = {k: v for k, v in core.items() if k not in ("blockhash", "time", "blocktime")}
    assert {k: v for k, v in mine.items() if k in core_same} == core_same
    # Without a block hash the node finds it as Core does with -txindex.
    found = await rpc("getrawtransaction", ids["txid"], 1)
    assert found["blockhash"] == ids["block"]


async def test_descriptor_replies_equal_core(rpc: RawRpc) -> None:
    core = recorded("04-")
    assert await rpc("getdescriptorinfo", *core["request"]["params"]) == core["reply"]["result"]
    with_checksum = core["request"]["params"][0] + "#evlldn9p"
    assert len(await rpc("generatetodescriptor", 1, with_checksum)) == 1


async def test_recorded_errors_are_reproduced(rpc: RawRpc) -> None:
    await rpc("generatetodescriptor", 1, DESCRIPTOR)
    for name in ("25-", "26-", "27-"):
        core = recorded(name)
        status, body = await rpc.post(core["request"])
        assert (status, body) == (core["http_status"], core["reply"]), name


async def test_legacy_and_batch_replies_equal_core_layout(rpc: RawRpc) -> None:
    await rpc("generatetodescriptor", 103, DESCRIPTOR)
    for name in ("28-", "29-", "30-"):
        core = recorded(name)
        status, body = await rpc.post(core["request"])
        assert status == core["http_status"], name
        assert shape(body) == shape(core["reply"]), name
        if name != "30-":
            assert body == core["reply"] or body["result"] == 103


async def test_named_params_reply_like_positional(rpc: RawRpc) -> None:
    ids = await scenario(rpc)
    core = recorded("31-")
    request = dict(core["request"])
    request["params"] = {"blockhash": ids["block"], "verbosity": 1}
    status, body = await rpc.post(request)
    assert status == 200
    assert body["result"] == await rpc("getblock", ids["block"], 1)
    assert shape(body) == shape(core["reply"])


async def test_invalidate_reconsider_replies_equal_core(rpc: RawRpc) -> None:
    ids = await scenario(rpc)
    assert await rpc("invalidateblock", ids["block"]) is None
    tips = await rpc("getchaintips")
    assert shape(tips) == shape(recorded("33-")["reply"]["result"])
    assert [(t["height"], t["branchlen"], t["status"]) for t in tips] == [
        (103, 1, "invalid"), (102, 0, "active")
    ]
    assert await rpc("getrawmempool") == [ids["txid"]]
    assert await rpc("reconsiderblock", ids["block"]) is None
    assert await rpc("getbestblockhash") == ids["block"]
    assert await rpc("getrawmempool") == []
