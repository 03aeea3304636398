"""JSON-RPC over HTTP as Core 28+ answers it: auth, versions, batches, errors, params."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from chaincrawler.testing.rawrpc import RawRpc
from chaincrawler.testing.simnode import SimNode


async def test_requests_without_or_with_wrong_credentials_get_401(
    rpc: RawRpc, http: aiohttp.ClientSession
) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "getblockcount"}
    async with http.post(rpc.url, json=body) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"] == 'Basic realm="jsonrpc"'
    status, _ = await rpc.post(body, headers={"Authorization": "Basic X19jb29raWVfXzp3cm9uZw=="})
    assert status == 401
    async with http.get(rpc.url, headers=rpc.headers) as resp:
        assert resp.status == 405


async def test_cookie_file_holds_the_credentials_and_goes_away_on_stop(tmp_path: Path) -> None:
    node = SimNode(tmp_path / "d")
    await node.start()
    text = node.cookie_file.read_text()
    user, password = text.split(":")
    assert node.cookie_file == tmp_path / "d" / "regtest" / ".cookie"
    assert user == "__cookie__" and len(password) == 64 and node.auth == (user, password)
    await node.stop()
    assert not node.cookie_file.exists()


async def test_rpcuser_and_rpcpassword_replace_the_cookie(tmp_path: Path) -> None:
    async with SimNode(tmp_path / "d", rpcuser="alice", rpcpassword="pw") as node:
        assert node.auth == ("alice", "pw")
        assert not node.cookie_file.exists()


async def test_version_rules_for_replies_and_statuses(rpc: RawRpc) -> None:
    status, body = await rpc.post(b"{not json")
    assert (status, body) == (500, {"result": None, "error": {
        "code": -32700, "message": "Parse error"}, "id": None})
    status, body = await rpc.post({"id": 7, "params": []})
    assert (status, body) == (400, {"result": None, "error": {
        "code": -32600, "message": "Missing method"}, "id": 7})
    status, body = await rpc.post({"id": 7, "method": "getblockhash", "params": [5]})
    assert status == 500 and body["error"]["code"] == -8 and body["result"] is None
    status, body = await rpc.post({"jsonrpc": "2.0", "id": 7, "method": "getblockhash",
                                  "params": [5]})
    assert status == 200 and "result" not in body
    status, body = await rpc.post({"jsonrpc": "2.0", "method": "getblockcount"})
    assert (status, body) == (204, None)
    status, body = await rpc.post([{"jsonrpc": "2.0", "method": "getblockcount"}])
    assert (status, body) == (204, None)
    assert await rpc.post([]) == (200, [])
    status, body = await rpc.post({"method": "getblockcount"})
    assert (status, body) == (200, {"result": 0, "error": None})
    status, body = await rpc.post([1, {"jsonrpc": "3.0", "id": 2, "method": "x"}])
    assert status == 200
    assert [r["error"]["code"] for r in body] == [-32600, -32600]


async def test_parameter_errors_use_core_codes(rpc: RawRpc) -> None:
    err = await rpc.error("getblockhash", "1")
    assert err["code"] == -3
    assert err["message"] == ('Wrong type passed:\n{\n    "Position 1 (height)": '
                              '"JSON value of type string is not of expected type number"\n}')
    assert (await rpc.error("getblockhash"))["code"] == -1
    assert (await rpc.error("getblockcount", 1))["code"] == -1
    _, body = await rpc.post({"jsonrpc": "2.0", "id": 1, "method": "getblock",
                             "params": {"hash": "00"}})
    assert body["error"] == {"code": -8, "message": "Unknown named parameter hash"}
    assert await rpc.error("getblock", "zz") == {
        "code": -8, "message": "blockhash must be of length 64 (not 2, for 'zz')"}
    assert await rpc.error("getblock", "g" * 64) == {
        "code": -8, "message": f"blockhash must be hexadecimal string (not '{'g' * 64}')"}


async def test_node_info_methods(rpc: RawRpc, node: SimNode) -> None:
    notes = await rpc("getzmqnotifications")
    assert [n["type"] for n in notes] == [
        "pubhashblock", "pubhashtx", "pubrawblock", "pubrawtx", "pubsequence"]
    assert {n["address"] for n in notes} == set(node.zmq_endpoints.values())
    assert isinstance(await rpc("uptime"), int)
    assert await rpc("setmocktime", 2_000_000_000) is None
    address = "bcrt1qzyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3lgth6c"
    (h,) = await rpc("generatetodescriptor", 1, f"addr({address})")
    assert (await rpc("getblockheader", h))["time"] == 2_000_000_000
    err = await rpc.error("getdescriptorinfo", "raw(00)#aaaaaaaa")
    assert err["code"] == -5 and err["message"].startswith("Provided checksum 'aaaaaaaa'")


async def test_stop_rpc_shuts_the_node_down(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    node = SimNode(tmp_path / "d")
    await node.start()
    rpc = RawRpc(node.rpc_url + "/", node.auth, session=http)
    assert await rpc("stop") == "Bitcoin Core stopping"
    await node.wait_stopped()
    assert not node.cookie_file.exists()
