"""JSON-RPC framing: 2.0 vs legacy replies, batches, errors and HTTP statuses, as Core does."""

from __future__ import annotations

import pytest

from chaincrawler.node.errors import RPCError
from chaincrawler.testing.rawrpc import basic_auth
from chaincrawler.testing.recorded import recorded

WRONG_AUTH = {"Authorization": basic_auth("nobody", "wrong")}


def _request(method, params=(), *, version2=True, request_id=1):
    body = {"id": request_id, "method": method, "params": list(params)}
    if version2:
        body["jsonrpc"] = "2.0"
    return body


async def test_v2_success_has_result_and_no_error_key(raw):
    status, reply = await raw.post(_request("getblockcount"))
    assert status == 200
    assert set(reply) == {"jsonrpc", "result", "id"}
    assert reply["jsonrpc"] == "2.0" and reply["id"] == 1 and isinstance(reply["result"], int)


async def test_legacy_success_has_null_error(raw):
    status, reply = await raw.post(_request("getblockcount", version2=False))
    assert status == recorded("29-")["http_status"]
    assert set(reply) == set(recorded("29-")["reply"]) == {"result", "error", "id"}
    assert reply["error"] is None


@pytest.mark.parametrize(
    ("name", "method", "params"),
    [
        ("25-", "getblockhash", [99999]),
        ("26-", "getblock", ["00" * 32]),
        ("27-", "nosuchmethod", []),
    ],
)
async def test_v2_errors_match_core(raw, name, method, params):
    expected = recorded(name)
    status, reply = await raw.post(_request(method, params))
    assert status == expected["http_status"] == 200
    assert reply == expected["reply"]


async def test_legacy_errors_use_http_statuses(raw):
    expected = recorded("28-")
    status, reply = await raw.post(_request("nosuchmethod", version2=False))
    assert (status, reply) == (expected["http_status"], expected["reply"])
    status, reply = await raw.post(_request("getblockhash", [99999], version2=False))
    assert status == 500
    assert reply == {
        "result": None,
        "error": {"code": -8, "message": "Block height out of range"},
        "id": 1,
    }


async def test_batch_replies_match_by_id_with_each_requests_version(raw):
    expected = recorded("30-")
    status, reply = await raw.post(expected["request"])
    assert status == 200
    by_id = {item["id"]: item for item in reply}
    assert set(by_id) == {1, 2, 3}
    assert set(by_id[1]) == {"jsonrpc", "result", "id"}
    assert by_id[2] == expected["reply"][1]
    assert set(by_id[3]) == {"result", "error", "id"} and by_id[3]["error"] is None
    assert by_id[3]["result"] == await raw.call("getbestblockhash")
    assert by_id[1]["result"] == await raw.call("getblockcount")


async def test_batch_with_shuffled_ids_is_matched_by_the_client(rpc):
    # Regression: the client matches batch replies by id, never by position.
    tip = await rpc.get_block_count()
    heights = [tip, 0, max(0, tip - 1)]
    hashes = await rpc.get_block_hashes(heights)
    assert hashes == [await rpc.get_block_hash(h) for h in heights]
    items = await rpc.batch_results([("getblockhash", [0]), ("getblockhash", [10**6])])
    assert items[0].ok and items[1].error is not None and items[1].error.code == -8


async def test_parse_error_and_bad_credentials(raw):
    status, reply = await raw.post(b"{not json")
    assert status == 500
    assert reply["error"]["code"] == -32700 and reply["result"] is None
    status, reply = await raw.post(_request("getblockcount"), headers=WRONG_AUTH)
    assert status == 401 and reply is None


async def test_client_raises_core_error_codes(rpc):
    with pytest.raises(RPCError) as excinfo:
        await rpc.get_block_hash(10**6)
    assert excinfo.value.code == -8
    with pytest.raises(RPCError) as excinfo:
        await rpc.call("getblockheader", "11" * 32)
    assert excinfo.value.code == -5
    with pytest.raises(RPCError) as excinfo:
        await rpc.call("getrawtransaction", "22" * 32, 1)
    assert excinfo.value.code == -5
