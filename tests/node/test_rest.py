"""NodeClient REST helpers against an aiohttp server replaying real Bitcoin Core v31 replies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chaincrawler.node.client import NodeClient, RetryPolicy, SpentOutput
from chaincrawler.node.errors import NodeProtocolError, NodeUnreachableError, RESTError
from chaincrawler.node.rest import parse_spent_txouts
from chaincrawler.testing.recorded import CORE_REPLIES

REPLIES = CORE_REPLIES
FAST = RetryPolicy(attempts=3, initial_delay=0.001, max_delay=0.005)
TIP = "14d8298e0c805e8cd5534dd2d92a4ba4984616e47262f6a2252ea50b8d826c93"
PREV = "4ffd0602fd511a51b04d80d85b6d8995b4c3cb00ea4fb2475099009f7b05147d"


def recorded(prefix: str) -> dict[str, Any]:
    (path,) = REPLIES.glob(f"{prefix}*.json")
    return json.loads(path.read_text())


RAW_TIP = bytes.fromhex(recorded("14-")["reply"]["result"])
SPENT_BLOCK = recorded("43-")["request"].split("/")[-1][:64]  # a block spending 3 coins
SPENT_BIN = bytes.fromhex(recorded("44-")["reply"])


class FakeRest:
    """Core's REST handlers for the recorded chain, plus canned failures."""

    def __init__(self) -> None:
        self.failures: list[web.Response] = []
        self.paths: list[str] = []
        self.spent_txouts = True  # False: a Core < 30, which has no such endpoint

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.paths.append(request.path_qs)
        assert "Authorization" not in request.headers  # REST needs no credentials
        if self.failures:
            return self.failures.pop(0)
        path = request.path
        if path == "/rest/chaininfo.json":
            return web.json_response(recorded("36-")["reply"])
        if path == f"/rest/block/{TIP}.bin":
            return web.Response(body=RAW_TIP, content_type="application/octet-stream")
        if path.startswith("/rest/block/") and path.endswith(".bin"):
            return web.Response(status=404, text=f"{path[12:76]} not found\r\n")
        if path.startswith("/rest/spenttxouts/") and self.spent_txouts:
            if path == f"/rest/spenttxouts/{SPENT_BLOCK}.bin":
                return web.Response(body=SPENT_BIN, content_type="application/octet-stream")
            return web.Response(status=404, text=f"{path[18:82]} not found\r\n")
        return web.Response(status=404)


@pytest.fixture
async def rest() -> AsyncIterator[tuple[FakeRest, str]]:
    fake = FakeRest()
    app = web.Application()
    app.router.add_get("/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield fake, f"http://user:pw@127.0.0.1:{server.port}"
    await server.close()


async def test_raw_block_over_rest_is_the_serialized_block(rest):
    fake, url = rest
    async with NodeClient(url, rest=True, retry=FAST) as node:
        assert await node.get_raw_block(TIP) == RAW_TIP
        assert await node.get_raw_blocks([TIP, TIP.upper()]) == [RAW_TIP, RAW_TIP]
    assert fake.paths[0] == f"/rest/block/{TIP}.bin"
    assert RAW_TIP[4:36][::-1].hex() == PREV  # prev hash inside the header: right block


async def test_rest_chaininfo(rest):
    fake, url = rest
    async with NodeClient(url, retry=FAST) as node:
        info = await node.rest_chaininfo()
    assert (info["chain"], info["blocks"], info["bestblockhash"]) == ("regtest", 103, TIP)
    assert fake.paths == ["/rest/chaininfo.json"]


async def test_rest_404_names_path_node_and_reason(rest):
    _fake, url = rest
    async with NodeClient(url, rest=True, retry=FAST) as node:
        with pytest.raises(RESTError) as missing_block:
            await node.get_raw_block("00" * 32)
    assert missing_block.value.status == 404
    assert "not found" in str(missing_block.value) and "-rest" in str(missing_block.value)
    assert "127.0.0.1" in str(missing_block.value) and "pw" not in str(missing_block.value)


async def test_rest_400_is_a_clear_error(rest):
    fake, url = rest
    fake.failures.append(web.Response(status=400, text="Invalid hash: out of range"))
    async with NodeClient(url, rest=True, retry=FAST) as node:
        with pytest.raises(RESTError) as caught:
            await node.get_raw_block(TIP)
    assert caught.value.status == 400 and "out of range" in str(caught.value)


async def test_rest_503_is_retried_then_gives_up(rest):
    fake, url = rest
    fake.failures.append(web.Response(status=503, text="Service temporarily unavailable"))
    async with NodeClient(url, rest=True, retry=FAST) as node:
        assert await node.get_raw_block(TIP) == RAW_TIP
        fake.failures.extend(web.Response(status=503) for _ in range(FAST.attempts))
        with pytest.raises(NodeUnreachableError) as caught:
            await node.rest_chaininfo()
    assert "503" in str(caught.value)


async def test_rest_garbage_is_a_protocol_error(rest):
    fake, url = rest
    fake.failures.append(web.Response(text="<html>proxy</html>"))
    fake.failures.append(web.Response(body=b"\x00" * 10))
    async with NodeClient(url, rest=True, retry=FAST) as node:
        with pytest.raises(NodeProtocolError, match="not JSON"):
            await node.rest_chaininfo()
        with pytest.raises(NodeProtocolError, match="no block"):
            await node.get_raw_block(TIP)


async def test_rest_rejects_a_malformed_hash_before_sending(rest):
    fake, url = rest
    async with NodeClient(url, rest=True, retry=FAST) as node:
        with pytest.raises(ValueError, match="block hash"):
            await node.get_raw_block("../../etc/passwd")
    assert fake.paths == []


def test_spent_txouts_parse_as_core_serialises_them():
    p2wsh = bytes.fromhex(recorded("43-")["reply"][1][0]["scriptPubKey"]["hex"])
    assert parse_spent_txouts(SPENT_BIN) == [
        [],  # the coinbase
        [SpentOutput(5_000_000_000, p2wsh)],
        [SpentOutput(5_000_000_000, p2wsh)],
        [SpentOutput(4_899_990_000, p2wsh)],
    ]
    assert parse_spent_txouts(b"\x01\x00") == [[]]  # the genesis block
    long_script = b"\x51" * 300  # a compact size of three bytes
    big = b"\x02\x00\x01" + (7).to_bytes(8, "little") + b"\xfd\x2c\x01" + long_script
    assert parse_spent_txouts(big) == [[], [SpentOutput(7, long_script)]]


@pytest.mark.parametrize("cut", [1, 5, 30, len(SPENT_BIN) - 1])
def test_spent_txouts_cut_short_or_overlong_are_refused(cut):
    with pytest.raises(ValueError):
        parse_spent_txouts(SPENT_BIN[:cut])
    with pytest.raises(ValueError, match="1 bytes left"):
        parse_spent_txouts(SPENT_BIN + b"\x00")


async def test_rest_spent_txouts_and_detection_of_the_endpoint(rest):
    fake, url = rest
    async with NodeClient(url, rest=True, retry=FAST) as node:
        assert await node.serves_spent_txouts()
        assert await node.serves_spent_txouts()  # asked once, then remembered
        assert await node.rest_spent_txouts(SPENT_BLOCK) == parse_spent_txouts(SPENT_BIN)
        assert await node.get_raw_spent_txouts([SPENT_BLOCK, SPENT_BLOCK]) == [SPENT_BIN] * 2
        with pytest.raises(RESTError) as missing:
            await node.rest_spent_txouts("11" * 32)
    assert missing.value.status == 404 and "not found" in missing.value.body
    assert fake.paths.count(f"/rest/spenttxouts/{'0' * 64}.bin") == 1


async def test_a_node_without_the_endpoint_is_detected(rest):
    fake, url = rest
    fake.spent_txouts = False  # Core < 30 or -rest=0: 404 with an empty body
    async with NodeClient(url, rest=True, retry=FAST) as node:
        assert not await node.serves_spent_txouts()
    async with NodeClient(url, rest=False, retry=FAST) as node:
        fake.spent_txouts = True
        assert not await node.serves_spent_txouts()  # REST not asked for: not used
    assert fake.paths == [f"/rest/spenttxouts/{'0' * 64}.bin"]
    fake.failures.append(web.Response(status=403, text="Forbidden"))
    async with NodeClient(url, rest=True, retry=FAST) as node:
        assert not await node.serves_spent_txouts()  # very old Core with REST off


async def test_spent_txouts_garbage_is_a_protocol_error(rest):
    fake, url = rest
    fake.failures.append(web.Response(body=SPENT_BIN[:-1]))
    async with NodeClient(url, rest=True, retry=FAST) as node:
        with pytest.raises(NodeProtocolError, match=r"spenttxouts.*runs past the end"):
            await node.rest_spent_txouts(SPENT_BLOCK)
