"""A raw JSON-RPC and REST client for tests that check a node's replies exactly.

Unlike :class:`~chaincrawler.NodeClient` it neither retries nor checks shapes: every
method gives what the node sent (HTTP status and parsed body), so a test can assert on
Bitcoin Core's exact statuses, error objects and batch replies::

    async with RawRpc(node.rpc_url, node.auth) as rpc:
        height = await rpc("getblockcount")
        status, reply = await rpc.post([{"jsonrpc": "2.0", "id": 1, "method": "x"}])
        status, body = await rpc.get("/rest/chaininfo.json")
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from chaincrawler.errors import ChaincrawlerError

__all__ = ["RawRpc", "RawRpcError", "basic_auth"]


class RawRpcError(ChaincrawlerError):
    """The node's reply is not what the call expects (an error, or no error)."""

    def __init__(self, message: str, status: int, reply: Any) -> None:
        super().__init__(f"{message}: HTTP {status}, {reply!r}")
        self.status = status
        self.reply = reply


def basic_auth(user: str, password: str) -> str:
    """The ``Authorization`` header value of HTTP basic auth."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class RawRpc:
    """JSON-RPC 2.0 calls and REST GETs on ``url`` (the RPC URL, without credentials).

    ``session`` is used when given (and then not closed), else one is made.
    """

    def __init__(
        self, url: str, auth: tuple[str, str], *, session: aiohttp.ClientSession | None = None
    ) -> None:
        self.url = url
        self.headers = {"Authorization": basic_auth(*auth)}
        self._session = session
        self._owned = session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._owned and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> RawRpc:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def post(
        self, payload: Any, *, headers: Mapping[str, str] | None = None
    ) -> tuple[int, Any]:
        """POST a JSON-RPC body (an object, a list, or raw ``bytes``); returns the HTTP
        status and the parsed reply (None for an empty body). ``headers`` replace the
        credentials (to test authentication)."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = dict(self.headers if headers is None else headers)
        async with self.session.post(self.url, data=data, headers=sent) as resp:
            body = await resp.read()
        return resp.status, (json.loads(body) if body.strip() else None)

    async def reply(self, method: str, *params: Any) -> dict[str, Any]:
        """The whole JSON-RPC 2.0 reply object of one call answered with HTTP 200."""
        request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        status, reply = await self.post(request)
        if status != 200 or not isinstance(reply, dict):
            raise RawRpcError(f"{method} was not answered with a reply object", status, reply)
        return reply

    async def call(self, method: str, *params: Any) -> Any:
        """The ``result`` of one call; :class:`RawRpcError` when the node answered an error."""
        reply = await self.reply(method, *params)
        if "error" in reply:
            raise RawRpcError(f"{method} failed", 200, reply)
        return reply["result"]

    __call__ = call

    async def error(self, method: str, *params: Any) -> dict[str, Any]:
        """The ``error`` object of a call that must fail (:class:`RawRpcError` otherwise)."""
        reply = await self.reply(method, *params)
        if "result" in reply or not isinstance(reply.get("error"), dict):
            raise RawRpcError(f"{method} did not fail", 200, reply)
        error: dict[str, Any] = reply["error"]
        return error

    async def get(self, path: str) -> tuple[int, bytes]:
        """GET a REST path (``/rest/...``); returns the HTTP status and the raw body."""
        async with self.session.get(self.url + path) as resp:
            return resp.status, await resp.read()

    async def get_json(self, path: str) -> Any:
        """The parsed body of a REST GET that must succeed."""
        status, body = await self.get(path)
        if status != 200:
            raise RawRpcError(f"GET {path} failed", status, body[:200])
        return json.loads(body)
