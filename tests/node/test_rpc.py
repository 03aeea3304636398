"""NodeClient JSON-RPC against an aiohttp server replaying real Bitcoin Core v31 replies."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer

from chaincrawler.config import NodeSettings
from chaincrawler.node.client import (
    DEFAULT_TIMEOUT,
    MempoolSnapshot,
    NodeClient,
    NodeEndpoint,
    RetryPolicy,
)
from chaincrawler.node.errors import (
    CookieFileMissingError,
    NodeAuthError,
    NodeConfigError,
    NodeProtocolError,
    NodeUnreachableError,
    NoTxIndexError,
    RPCError,
)
from chaincrawler.testing.recorded import CORE_REPLIES

REPLIES = CORE_REPLIES
FAST = RetryPolicy(attempts=3, initial_delay=0.001, max_delay=0.005)
TIP = "14d8298e0c805e8cd5534dd2d92a4ba4984616e47262f6a2252ea50b8d826c93"
SECRET = "s3cr3t-Pa55word"


def recorded(name: str) -> dict[str, Any]:
    return json.loads((REPLIES / name).read_text())


def key(method: str, params: Any) -> str:
    return json.dumps([method, params if params is not None else []], sort_keys=True)


class FakeCore:
    """Answers JSON-RPC like Bitcoin Core, from recorded request/reply pairs.

    A recorded reply is sent verbatim except for its id. Batch replies come back in
    reverse order, as Core is free to do. ``script`` holds raw responses served first.
    """

    def __init__(self, auth: tuple[str, str] | None = ("user", SECRET)) -> None:
        self.auth = auth
        self.script: list[web.Response] = []
        self.requests: list[Any] = []
        self.table: dict[str, tuple[int, dict[str, Any]]] = {}
        for path in sorted(REPLIES.glob("*.json")):
            data = json.loads(path.read_text())
            request = data.get("request")
            if isinstance(request, dict) and request.get("jsonrpc") == "2.0":
                self.table[key(request["method"], request.get("params"))] = (
                    data["http_status"],
                    data["reply"],
                )

    def authorized(self, request: web.Request) -> bool:
        if self.auth is None:
            return True
        token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {token}"

    def answer(self, call: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        found = self.table.get(key(call["method"], call.get("params")))
        if found is None:
            if call["method"] == "getblockhash":  # synthetic hashes for any height
                return 200, {
                    "jsonrpc": "2.0",
                    "result": f"{call['params'][0]:064x}",
                    "id": call["id"],
                }
            raise AssertionError(f"no recorded reply for {call}")
        status, reply = found
        return status, {**reply, "id": call["id"]}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self.authorized(request):
            return web.Response(status=401)  # Core: no body, WWW-Authenticate header
        body = await request.json()
        self.requests.append(body)
        if self.script:
            return self.script.pop(0)
        if isinstance(body, list):
            replies = [self.answer(call)[1] for call in body]
            return web.json_response(list(reversed(replies)))
        status, reply = self.answer(body)
        return web.json_response(reply, status=status)


Serve = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[TestServer] = []

    async def start(app: web.Application) -> str:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        await server.close()


async def start_core(serve: Serve, core: FakeCore) -> str:
    app = web.Application()
    app.router.add_post("/", core.handle)
    return await serve(app)


def with_auth(url: str, user: str = "user", password: str = SECRET) -> str:
    return url.replace("http://", f"http://{user}:{password}@")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def core_url(serve: Serve) -> tuple[FakeCore, str]:
    core = FakeCore()
    return core, with_auth(await start_core(serve, core))


# ---------------------------------------------------------------- replies as Core sends them


async def test_sends_json_rpc_2_and_reads_a_success_without_error_key(core_url):
    core, url = core_url
    assert "error" not in recorded("21-getblockcount.json")["reply"]
    async with NodeClient(url, retry=FAST) as node:
        assert await node.get_block_count() == 103
        info = await node.get_blockchain_info()
    assert info["chain"] == "regtest"
    assert core.requests[0]["jsonrpc"] == "2.0"
    assert core.requests[0]["method"] == "getblockcount"
    assert core.requests[0]["params"] == []


async def test_legacy_reply_with_error_null(serve):
    legacy = recorded("29-legacy-getblockcount.json")["reply"]
    assert legacy["error"] is None
    core = FakeCore()
    core.script.append(web.json_response(legacy))
    async with NodeClient(with_auth(await start_core(serve, core)), retry=FAST) as node:
        assert await node.get_block_count() == 103


@pytest.mark.parametrize(
    ("call", "code", "message"),
    [
        (("getblockhash", 99999), -8, "Block height out of range"),
        (("getblock", "00" * 32), -5, "Block not found"),
        (("nosuchmethod",), -32601, "Method not found"),
    ],
)
async def test_rpc_errors_carry_cores_code_method_and_node(core_url, call, code, message):
    _core, url = core_url
    async with NodeClient(url, retry=FAST) as node:
        with pytest.raises(RPCError) as caught:
            await node.call(*call)
    err = caught.value
    assert (err.code, err.rpc_message, err.method) == (code, message, call[0])
    assert err.node == url.replace(f"user:{SECRET}@", "")
    assert call[0] in str(err) and err.node in str(err) and message in str(err)


async def test_legacy_http_404_error_is_an_rpc_error(serve):
    data = recorded("28-error-legacy-method-not-found.json")
    core = FakeCore()
    core.script.append(web.json_response(data["reply"], status=data["http_status"]))
    async with NodeClient(with_auth(await start_core(serve, core)), retry=FAST) as node:
        with pytest.raises(RPCError) as caught:
            await node.call("nosuchmethod")
    assert caught.value.code == -32601


async def test_named_params(core_url):
    core, url = core_url
    async with NodeClient(url, retry=FAST) as node:
        block = await node.call("getblock", blockhash=TIP, verbosity=1)
        with pytest.raises(TypeError):
            await node.call("getblock", TIP, verbosity=1)
    assert block["height"] == 103
    assert core.requests[0]["params"] == {"blockhash": TIP, "verbosity": 1}


async def test_amounts_are_exact_decimals(core_url):
    _core, url = core_url
    async with NodeClient(url, retry=FAST) as node:
        entries = await node.get_raw_mempool(verbose=True)
        tx = await node.get_raw_transaction(
            "7d7e32e37db3617e89af8a2fd4fd91d74afa2f25253268a83f51f7801711b387", 2, TIP
        )
    (entry,) = entries.values()
    assert entry["fees"]["base"] == Decimal("0.0001")
    assert tx["vout"][1]["value"] == Decimal("24.9999")
    assert tx["fee"] == Decimal("0.0001")


# ---------------------------------------------------------------- batches


async def test_batch_matches_out_of_order_replies_by_id(core_url):
    core, url = core_url
    heights = list(range(200, 240))
    async with NodeClient(url, retry=FAST) as node:
        hashes = await node.get_block_hashes(heights)
    assert hashes == [f"{h:064x}" for h in heights]
    assert len(core.requests) == 1  # one HTTP request for the whole batch


async def test_batch_is_split_past_batch_size(core_url):
    core, url = core_url
    async with NodeClient(url, retry=FAST, batch_size=16) as node:
        hashes = await node.get_block_hashes(range(200, 240))
    assert hashes == [f"{h:064x}" for h in range(200, 240)]
    assert [len(r) for r in core.requests] == [16, 16, 8]


async def test_block_hashes_past_the_tip_are_none(core_url):
    _core, url = core_url
    past_tip = recorded("25-error-getblockhash-out-of-range.json")["request"]["params"][0]
    async with NodeClient(url, retry=FAST) as node:
        assert await node.get_block_hashes([200, past_tip, 201]) == [
            f"{200:064x}",
            None,
            f"{201:064x}",
        ]
        with pytest.raises(ValueError, match="height must be >= 0"):
            await node.get_block_hashes([-1])


NOT_INDEXED = (
    "No such mempool or blockchain transaction. Use gettransaction for wallet transactions."
)
NO_TXINDEX = (
    "No such mempool transaction. Use -txindex or provide a block hash to enable blockchain "
    "transaction queries. Use gettransaction for wallet transactions."
)


async def test_raw_transactions_unknown_is_none_and_no_txindex_is_its_own_error(serve):
    errors = {"bb" * 32: (-5, NOT_INDEXED), "cc" * 32: (-5, NO_TXINDEX), "dd" * 32: (-8, "bad")}

    async def handle(request: web.Request) -> web.Response:
        replies = []
        for call in await request.json():
            txid = call["params"][0]
            if txid in errors:
                code, message = errors[txid]
                error = {"code": code, "message": message}
                replies.append({"jsonrpc": "2.0", "error": error, "id": call["id"]})
            else:
                replies.append({"jsonrpc": "2.0", "result": "00ff", "id": call["id"]})
        return web.json_response(replies)

    app = web.Application()
    app.router.add_post("/", handle)
    async with NodeClient(await serve(app), retry=FAST) as node:
        assert await node.get_raw_transactions(["aa" * 32, "bb" * 32]) == [b"\x00\xff", None]
        with pytest.raises(NoTxIndexError) as caught:
            await node.get_raw_transactions(["aa" * 32, "cc" * 32])
        assert caught.value.code == -5 and caught.value.index == 1
        with pytest.raises(RPCError) as other:
            await node.get_raw_transactions(["dd" * 32])
        assert other.value.code == -8 and not isinstance(other.value, NoTxIndexError)


async def test_recorded_mixed_batch_reversed(serve):
    """Core's mixed batch: a 2.0 success, a 2.0 error, a legacy reply with error null."""
    recorded_reply = recorded("30-batch-mixed.json")["reply"]
    ids: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        calls = await request.json()
        ids.extend(c["id"] for c in calls)
        replies = [{**r, "id": c["id"]} for r, c in zip(recorded_reply, calls, strict=True)]
        return web.json_response(list(reversed(replies)))

    app = web.Application()
    app.router.add_post("/", handle)
    calls = [("getblockcount", []), ("nosuch", []), ("getbestblockhash", [])]
    async with NodeClient(await serve(app), retry=FAST) as node:
        items = await node.batch_results(calls)
        with pytest.raises(RPCError) as caught:
            await node.batch(calls)
    assert [i.ok for i in items] == [True, False, True]
    assert items[0].result == 103 and items[2].result == TIP
    assert items[1].error is not None and items[1].error.code == -32601
    assert caught.value.index == 1 and caught.value.method == "nosuch"
    assert "batch item 1" in str(caught.value)
    assert len(set(ids)) == len(ids)


async def test_batch_raises_the_first_error_by_position(core_url):
    _core, url = core_url
    calls = [("getblockcount", []), ("getblock", ["00" * 32]), ("getblockhash", [99999])]
    async with NodeClient(url, retry=FAST) as node:
        with pytest.raises(RPCError) as caught:
            await node.batch(calls)
    assert (caught.value.index, caught.value.code) == (1, -5)


async def test_empty_batch_sends_nothing(core_url):
    core, url = core_url
    async with NodeClient(url, retry=FAST) as node:
        assert await node.batch([]) == []
    assert core.requests == []


async def test_typed_helpers_decode_raw_hex_and_sequences(core_url):
    _core, url = core_url
    raw_hex = recorded("14-getblock-verbosity0.json")["reply"]["result"]
    async with NodeClient(url, retry=FAST) as node:
        block = await node.get_raw_block(TIP)
        blocks = await node.get_raw_blocks([TIP, TIP])
        snapshot = await node.get_raw_mempool(mempool_sequence=True)
        txids = await node.get_raw_mempool()
        header = await node.get_block_header(TIP)
        zmq = await node.get_zmq_notifications()
    assert block == bytes.fromhex(raw_hex) and blocks == [block, block]
    assert snapshot == MempoolSnapshot(txids, 2)
    assert header["previousblockhash"].startswith("4ffd0602")
    assert {n["type"] for n in zmq} == {"pubhashblock", "pubrawtx", "pubsequence"}


# ---------------------------------------------------------------- HTTP statuses, retries, failover


async def test_401_is_a_clear_auth_error_without_the_password(serve):
    url = await start_core(serve, FakeCore(auth=("user", "other")))
    async with NodeClient(with_auth(url), retry=FAST) as node:
        with pytest.raises(NodeAuthError) as caught:
            await node.get_block_count()
    message = str(caught.value)
    assert "401" in message and url in message and "getblockcount" in message
    assert SECRET not in message


async def test_503_work_queue_exceeded_is_retried(serve):
    core = FakeCore()
    core.script.append(web.Response(status=503, text="Work queue depth exceeded"))
    async with NodeClient(with_auth(await start_core(serve, core)), retry=FAST) as node:
        assert await node.get_block_count() == 103
    assert len(core.requests) == 2


async def test_failover_to_the_second_url_when_the_first_refuses(core_url):
    _core, url = core_url
    dead = with_auth(f"http://127.0.0.1:{free_port()}")
    async with NodeClient([dead, url], retry=FAST) as node:
        assert await node.get_best_block_hash() == TIP
        assert await node.get_block_count() == 103


async def test_all_nodes_down_names_both_without_credentials():
    ports = [free_port(), free_port()]
    urls = [with_auth(f"http://127.0.0.1:{p}") for p in ports]
    with structlog.testing.capture_logs() as logs:
        async with NodeClient(urls, retry=FAST) as node:
            with pytest.raises(NodeUnreachableError) as caught:
                await node.get_block_count()
    message = str(caught.value)
    for port in ports:
        assert f"http://127.0.0.1:{port}" in message
    assert "getblockcount" in message
    assert set(caught.value.causes) == {f"http://127.0.0.1:{p}" for p in ports}
    assert SECRET not in message and SECRET not in repr(caught.value)
    assert logs and SECRET not in repr(logs)


async def test_timeout_counts_as_unreachable(serve):
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/", slow)
    url = await serve(app)
    async with NodeClient(url, timeout=0.05, retry=RetryPolicy(attempts=1)) as node:
        with pytest.raises(NodeUnreachableError) as caught:
            await node.get_block_count()
    assert "timed out" in str(caught.value)


# ---------------------------------------------------------------- a lying node


def ok(call: dict[str, Any], **fields: Any) -> web.Response:
    return web.json_response({"jsonrpc": "2.0", "id": call["id"], **fields})


@pytest.mark.parametrize(
    ("reply", "cause"),
    [
        (lambda c: web.Response(text="<html>bad gateway</html>", status=502), "not JSON"),
        (lambda c: web.Response(text='{"result": 10', status=200), "not JSON"),
        (lambda c: ok(c, id=c["id"] + 1, result=103), "does not match"),
        (lambda c: web.json_response({"jsonrpc": "2.0", "result": 103}), "does not match"),
        (lambda c: ok(c), "neither result nor error"),
        (lambda c: web.json_response([{"result": 103, "id": c["id"]}]), "JSON object"),
        (lambda c: ok(c, result="ten"), "expected int"),
        (lambda c: ok(c, error="boom"), "malformed error"),
    ],
)
async def test_lying_node_raises_protocol_error(serve, reply, cause):
    async def handle(request: web.Request) -> web.Response:
        return reply(await request.json())

    app = web.Application()
    app.router.add_post("/", handle)
    url = await serve(app)
    async with NodeClient(url, retry=FAST) as node:
        with pytest.raises(NodeProtocolError) as caught:
            await node.get_block_count()
    assert cause in str(caught.value)
    assert url in str(caught.value) and "getblockcount" in str(caught.value)


@pytest.mark.parametrize(
    ("mangle", "cause"),
    [
        (lambda replies: replies[:-1], "missing"),
        (lambda replies: [*replies, replies[0]], "two replies"),
        (lambda replies: [{**replies[0], "id": 424242}, *replies[1:]], "unknown id"),
        (lambda replies: {"not": "a list"}, "expected a JSON array"),
    ],
)
async def test_lying_node_in_a_batch(serve, mangle, cause):
    async def handle(request: web.Request) -> web.Response:
        calls = await request.json()
        replies = [
            {"jsonrpc": "2.0", "result": f"{c['params'][0]:064x}", "id": c["id"]} for c in calls
        ]
        return web.json_response(mangle(replies))

    app = web.Application()
    app.router.add_post("/", handle)
    async with NodeClient(await serve(app), retry=FAST) as node:
        with pytest.raises(NodeProtocolError) as caught:
            await node.get_block_hashes([1, 2, 3])
    assert cause in str(caught.value)


async def test_batch_refused_as_a_whole_raises_the_nodes_error(serve):
    async def handle(request: web.Request) -> web.Response:
        error = {"code": -32700, "message": "Parse error"}
        return web.json_response({"jsonrpc": "2.0", "error": error, "id": None})

    app = web.Application()
    app.router.add_post("/", handle)
    async with NodeClient(await serve(app), retry=FAST) as node:
        with pytest.raises(RPCError) as caught:
            await node.get_block_hashes([1, 2])
    assert caught.value.code == -32700 and caught.value.index is None


# ---------------------------------------------------------------- cookie auth


async def test_cookie_is_read_at_connect_and_reread_after_a_node_restart(serve, tmp_path):
    cookie = tmp_path / ".cookie"
    cookie.write_text(f"__cookie__:{'a' * 64}")
    core = FakeCore(auth=("__cookie__", "a" * 64))
    url = await start_core(serve, core)
    async with NodeClient(url, cookie_file=cookie, retry=FAST) as node:
        assert await node.get_block_count() == 103
        # the node restarts: new cookie on disk, the old one is refused
        core.auth = ("__cookie__", "b" * 64)
        cookie.write_text(f"__cookie__:{'b' * 64}")
        assert await node.get_block_count() == 103
        # a cookie that stays wrong is an auth error naming the cookie file
        core.auth = ("__cookie__", "c" * 64)
        with pytest.raises(NodeAuthError) as caught:
            await node.get_block_count()
    assert str(cookie) in str(caught.value)
    assert "b" * 64 not in str(caught.value)


async def test_missing_cookie_file_is_reported_at_once(serve, tmp_path):
    core = FakeCore()
    url = await start_core(serve, core)
    missing = tmp_path / "no-such" / ".cookie"
    with structlog.testing.capture_logs() as logs:
        async with NodeClient(url, cookie_file=missing, retry=FAST) as node:
            with pytest.raises(CookieFileMissingError) as caught:
                await node.get_block_count()
    assert f"cookie file {missing} not found" in str(caught.value)
    assert isinstance(caught.value, NodeConfigError)
    assert not [e for e in logs if e["event"] == "node.request_failed"]  # not retried
    assert core.requests == []


# ---------------------------------------------------------------- credentials never leak


async def test_credentials_never_in_repr_logs_or_errors(serve):
    good = with_auth(await start_core(serve, FakeCore(auth=("user", "nope"))))
    dead = with_auth(f"http://127.0.0.1:{free_port()}")
    with structlog.testing.capture_logs() as logs:
        async with NodeClient([dead, good], retry=FAST) as node:
            texts = [repr(node), str(node.nodes), repr(NodeEndpoint.parse(good))]
            with pytest.raises(NodeAuthError) as caught:
                await node.get_block_count()
            texts += [str(caught.value), repr(caught.value)]
    texts.append(repr(logs))
    assert any("node.request_failed" in repr(entry) for entry in logs)
    for text in texts:
        assert SECRET not in text, text


def test_endpoint_parsing():
    ep = NodeEndpoint.parse(f"http://us%40er:{SECRET}@127.0.0.1:18443/wallet/w1/")
    assert (ep.url, ep.user, ep.password) == ("http://127.0.0.1:18443/wallet/w1", "us@er", SECRET)
    assert ep.origin == "http://127.0.0.1:18443"
    assert NodeEndpoint.parse("127.0.0.1:18443").url == "http://127.0.0.1:18443"
    with pytest.raises(NodeConfigError) as caught:
        NodeEndpoint.parse(f"ftp://user:{SECRET}@127.0.0.1:1")
    assert SECRET not in str(caught.value)
    with_cookie = NodeEndpoint.parse(f"http://user:{SECRET}@127.0.0.1:1", "/tmp/.cookie")
    assert with_cookie.cookie_file is None  # credentials in the URL win
    with pytest.raises(NodeConfigError, match="not both"):
        NodeEndpoint.parse("http://127.0.0.1:1", "/tmp/.cookie", user="u", password="p")


async def test_user_and_password_given_apart_from_the_url(core_url):
    _core, url = core_url
    bare = url.replace(f"user:{SECRET}@", "")
    async with NodeClient(bare, user="user", password=SECRET, retry=FAST) as node:
        assert await node.get_block_count() == 103
        assert SECRET not in repr(node)


def test_node_settings_defaults_are_the_clients() -> None:
    settings, retry = NodeSettings(), RetryPolicy()
    assert settings.timeout == DEFAULT_TIMEOUT
    assert settings.retries + 1 == retry.attempts
    assert settings.backoff_initial == retry.initial_delay
    assert settings.backoff_max == retry.max_delay


async def test_client_from_node_settings(core_url):
    _core, url = core_url
    bare = url.replace(f"user:{SECRET}@", "")
    settings = NodeSettings(
        urls=[bare],
        rpc_user="user",
        rpc_password=SECRET,
        retries=0,
        backoff_initial=0.001,
        backoff_max=0.001,
    )
    async with settings.client() as node:
        assert await node.get_best_block_hash() == TIP
    assert node.nodes == [bare]
