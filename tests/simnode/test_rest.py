"""REST endpoints: formats, content types, Core's JSON shapes and error texts."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block
from chaincrawler.testing.rawrpc import RawRpc
from chaincrawler.testing.recorded import recorded
from chaincrawler.testing.simnode import SimNode
from chaincrawler.testing.simnode.mining import build_block
from tests.simnode.helpers import DESCRIPTOR, P2WSH_OP_TRUE, mature_coins, spend
from tests.simnode.test_core_shapes import shape


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, str, bytes]:
    async with http.get(url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


async def test_block_formats(rpc: RawRpc, node: SimNode, http: aiohttp.ClientSession) -> None:
    (h,) = await rpc("generatetodescriptor", 1, DESCRIPTOR)
    raw = bytes.fromhex(await rpc("getblock", h, 0))
    assert await get(http, f"{node.rest_url}/block/{h}.bin") == (
        200, "application/octet-stream", raw)
    assert await get(http, f"{node.rest_url}/block/{h}.hex") == (
        200, "text/plain", raw.hex().encode() + b"\n")
    status, ctype, body = await get(http, f"{node.rest_url}/block/notxdetails/{h}.json")
    assert (status, ctype) == (200, "application/json")
    assert json.loads(body) == await rpc("getblock", h, 1)
    status, _, body = await get(http, f"{node.rest_url}/block/{h}.json")
    assert json.loads(body) == await rpc("getblock", h, 3)


async def test_rest_errors_are_plain_text(node: SimNode, http: aiohttp.ClientSession) -> None:
    missing = "00" * 32
    assert await get(http, f"{node.rest_url}/block/{missing}.json") == (
        404, "text/plain", f"{missing} not found\r\n".encode())
    assert await get(http, f"{node.rest_url}/block/xyz.json") == (
        400, "text/plain", b"Invalid hash: xyz\r\n")
    assert await get(http, f"{node.rest_url}/tx/{missing}.hex") == (
        404, "text/plain", f"{missing} not found\r\n".encode())
    status, _, body = await get(http, f"{node.rest_url}/block/{missing}.txt")
    assert status == 400  # ".txt" is no format: the whole "<hash>.txt" is a bad hash
    status, _, body = await get(http, f"{node.rest_url}/chaininfo.bin")
    assert (status, body) == (404, b"output format not found (available: json)\r\n")
    assert (await get(http, f"{node.rest_url}/blockhashbyheight/5.json"))[0] == 404
    status, _, body = await get(http, f"{node.rest_url}/blockhashbyheight/-1.json")
    assert (status, body) == (400, b"Invalid height: -1\r\n")


async def test_headers_chaininfo_mempool_and_tx(
    rpc: RawRpc, node: SimNode, http: aiohttp.ClientSession
) -> None:
    coins = await mature_coins(rpc, 1)
    tx = spend(coins[0][0], 0, coins[0][1])
    await rpc("sendrawtransaction", tx.hex())
    h1 = await rpc("getblockhash", 1)
    status, _, body = await get(http, f"{node.rest_url}/headers/{h1}.json?count=2")
    headers = json.loads(body)
    assert status == 200 and [x["height"] for x in headers] == [1, 2]
    tip = await rpc("getbestblockhash")
    _, _, body = await get(http, f"{node.rest_url}/headers/{tip}.json?count=2")
    assert shape(json.loads(body)) == shape(recorded("39-")["reply"])  # the tip alone
    status, _, body = await get(http, f"{node.rest_url}/headers/{h1}.bin?count=3")
    assert len(body) == 240
    status, _, body = await get(http, f"{node.rest_url}/headers/{h1}.json?count=0")
    assert body == b"Header count is invalid or out of acceptable range (1-2000): 0\r\n"
    by_height = f"{node.rest_url}/blockhashbyheight/1"
    assert (await get(http, f"{by_height}.hex"))[2] == (h1 + "\n").encode()
    assert (await get(http, f"{by_height}.bin"))[2] == bytes.fromhex(h1)[::-1]
    _, _, body = await get(http, f"{node.rest_url}/blockhashbyheight/1.json")
    assert json.loads(body) == {"blockhash": h1}
    _, _, body = await get(http, f"{node.rest_url}/chaininfo.json")
    assert shape(json.loads(body)) == shape(recorded("36-")["reply"])
    _, _, body = await get(http, f"{node.rest_url}/mempool/info.json")
    assert json.loads(body)["size"] == 1
    _, _, body = await get(http, f"{node.rest_url}/mempool/contents.json")
    assert list(json.loads(body)) == [tx.txid]
    _, _, body = await get(http, f"{node.rest_url}/tx/{tx.txid}.bin")
    assert body == tx.serialize()
    _, _, body = await get(http, f"{node.rest_url}/tx/{tx.txid}.json")
    assert json.loads(body)["hex"] == tx.hex()


async def test_rest_is_off_unless_asked(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    async with SimNode(tmp_path / "d", rest=False) as node:
        assert (await get(http, f"{node.rest_url}/chaininfo.json"))[0] == 404


async def test_spent_txouts_are_core_s_bytes_for_the_recorded_block(
    rpc: RawRpc, node: SimNode, http: aiohttp.ClientSession
) -> None:
    # The recorded chain: 101 blocks to P2WSH(OP_TRUE) (coinbases, so txids, as Core's),
    # then a block with the recorded block's three transactions in the recorded order.
    await rpc("generatetodescriptor", 101, DESCRIPTOR)
    recorded_block = Block.from_hex(recorded("45-")["reply"].strip(), REGTEST)
    mined = await rpc("generateblock", DESCRIPTOR,
                      [tx.hex() for tx in recorded_block.transactions[1:]])
    url = f"{node.rest_url}/spenttxouts/{mined['hash']}"
    hex_reply = recorded("44-")["reply"]
    assert await get(http, f"{url}.hex") == (200, "text/plain", hex_reply.encode())
    assert await get(http, f"{url}.bin") == (
        200, "application/octet-stream", bytes.fromhex(hex_reply))
    status, ctype, body = await get(http, f"{url}.json")
    assert (status, ctype) == (200, "application/json") and body.endswith(b"\n")
    assert json.loads(body) == recorded("43-")["reply"]


async def test_spent_txouts_of_genesis_and_errors_as_core(
    rpc: RawRpc, node: SimNode, http: aiohttp.ClientSession
) -> None:
    genesis = await rpc("getblockhash", 0)
    status, _, body = await get(http, f"{node.rest_url}/spenttxouts/{genesis}.json")
    assert (status, json.loads(body)) == (200, recorded("46-")["reply"])
    assert (await get(http, f"{node.rest_url}/spenttxouts/{genesis}.bin"))[2] == b"\x01\x00"
    unknown, bad = recorded("47-"), recorded("48-")
    assert await get(http, f"{node.rest_url}{unknown['request'][9:]}") == (
        unknown["http_status"], "text/plain", unknown["reply"].encode())
    assert await get(http, f"{node.rest_url}{bad['request'][9:]}") == (
        bad["http_status"], "text/plain", bad["reply"].encode())
    status, _, body = await get(http, f"{node.rest_url}/spenttxouts/{genesis}.txt")
    assert (status, body) == (400, f"Invalid hash: {genesis}.txt\r\n".encode())
    status, _, body = await get(http, f"{node.rest_url}/spenttxouts/a/{genesis}.bin")
    assert (status, body) == (
        400, b"Invalid URI format. Expected /rest/spenttxouts/<hash>.<ext>\r\n")


async def test_spent_txouts_of_a_block_never_connected_are_not_available(
    rpc: RawRpc, node: SimNode, http: aiohttp.ClientSession
) -> None:
    await rpc("generatetodescriptor", 2, DESCRIPTOR)
    tip = node.engine.chain.tip
    assert tip.prev is not None
    # As much work as the tip but seen later: stored, never connected, so no undo data.
    rival = build_block(tip.prev, P2WSH_OP_TRUE, [], 50 * 100_000_000, tip.header.time + 1)
    assert await rpc("submitblock", rival.serialize().hex()) == "inconclusive"
    assert await rpc("getbestblockhash") == tip.hash_hex
    assert await get(http, f"{node.rest_url}/spenttxouts/{rival.hash}.bin") == (
        404, "text/plain", f"{rival.hash} undo not available\r\n".encode())
