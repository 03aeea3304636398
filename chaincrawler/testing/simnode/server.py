"""HTTP front of the simulated node: JSON-RPC on ``/`` and REST on ``/rest/``.

Reply rules follow Bitcoin Core's ``httprpc.cpp`` (28+): a JSON-RPC 2.0 request gets
``result`` or ``error`` (never both) with HTTP 200; a legacy (1.0) request gets both
keys, and its errors are HTTP 404 (method not found), 400 (invalid request) or 500;
batches are always HTTP 200; 2.0 notifications (no ``id``) get no reply (204).
Requests need HTTP basic auth (401 with ``WWW-Authenticate`` otherwise).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from chaincrawler.testing.simnode.jsonenc import dumps
from chaincrawler.testing.simnode.node import SimRpcError
from chaincrawler.testing.simnode.rest import RestHandler
from chaincrawler.testing.simnode.rpc import Dispatcher

RPC_PARSE_ERROR = -32700
RPC_INVALID_REQUEST = -32600
RPC_METHOD_NOT_FOUND = -32601
_WWW_AUTH = {"WWW-Authenticate": 'Basic realm="jsonrpc"'}
_ABSENT = object()


class _RequestError(Exception):
    """A JSON-RPC request object is malformed (Core throws before executing it)."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass
class _Request:
    """Core's ``JSONRPCRequest`` state: id (``_ABSENT`` when missing) and version."""

    id: Any = None
    v2: bool = False
    method: str = ""
    params: Any = None

    def parse(self, obj: Any) -> None:
        if not isinstance(obj, dict):
            raise _RequestError(RPC_INVALID_REQUEST, "Invalid Request object")
        self.id = obj.get("id", _ABSENT)
        self.v2 = False
        version = obj.get("jsonrpc")
        if version is not None:
            if not isinstance(version, str):
                raise _RequestError(RPC_INVALID_REQUEST, "jsonrpc field must be a string")
            if version == "2.0":
                self.v2 = True
            elif version != "1.0":
                raise _RequestError(RPC_INVALID_REQUEST, "JSON-RPC version not supported")
        method = obj.get("method")
        if method is None:
            raise _RequestError(RPC_INVALID_REQUEST, "Missing method")
        if not isinstance(method, str):
            raise _RequestError(RPC_INVALID_REQUEST, "Method must be a string")
        self.method = method
        params = obj.get("params")
        if params is None:
            params = []
        elif not isinstance(params, list | dict):
            raise _RequestError(RPC_INVALID_REQUEST, "Params must be an array or object")
        self.params = params

    @property
    def is_notification(self) -> bool:
        return self.id is _ABSENT and self.v2

    def reply(self, result: Any = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
        """Core's ``JSONRPCReplyObj``."""
        obj: dict[str, Any] = {}
        if self.v2:
            obj["jsonrpc"] = "2.0"
        if error is None:
            obj["result"] = result
            if not self.v2:
                obj["error"] = None
        else:
            if not self.v2:
                obj["result"] = None
            obj["error"] = error
        if self.id is not _ABSENT:
            obj["id"] = self.id
        return obj


def _error_obj(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def _json_response(body: Any, status: int = 200) -> web.Response:
    body_bytes = f"{dumps(body)}\n".encode()
    headers = {"Content-Type": "application/json"}
    return web.Response(status=status, body=body_bytes, headers=headers)


class HttpFront:
    """The aiohttp application serving one node."""

    def __init__(
        self, dispatcher: Dispatcher, user: str, password: str, rest: RestHandler | None
    ) -> None:
        self.dispatcher = dispatcher
        self._credentials = f"{user}:{password}".encode()
        self.rest = rest
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_route("*", "/{tail:.*}", self._route)

    def _authorized(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            given = base64.b64decode(header[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self._credentials)

    async def _route(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/rest/") and self.rest is not None:
            return await self.rest.handle(request)
        if request.path != "/":
            return web.Response(status=404)
        if request.method != "POST":
            return web.Response(status=405, body=b"JSONRPC server handles only POST requests")
        header = request.headers.get("Authorization")
        if header is None or not self._authorized(header):
            return web.Response(status=401, headers=_WWW_AUTH)
        body = await request.read()
        return self._handle_body(body)

    def _execute(self, req: _Request) -> dict[str, Any]:
        """Run one parsed request, catching its errors (Core's ``JSONRPCExecOne``)."""
        try:
            result = self.dispatcher.call(req.method, req.params)
        except SimRpcError as exc:
            return req.reply(error=_error_obj(exc.code, exc.message))
        except Exception as exc:  # Core's ExecuteCommand: any other failure is -1
            return req.reply(error=_error_obj(-1, str(exc)))
        return req.reply(result)

    def _handle_body(self, body: bytes) -> web.Response:
        req = _Request()
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return self._error_reply(req, RPC_PARSE_ERROR, "Parse error")
        if isinstance(parsed, dict):
            try:
                req.parse(parsed)
            except _RequestError as exc:
                return self._error_reply(req, exc.code, exc.message)
            reply = self._execute(req)
            if req.is_notification:
                return web.Response(status=204)
            error = reply.get("error")
            if error is not None and not req.v2:
                return self._error_reply(req, error["code"], error["message"])
            return _json_response(reply)
        if isinstance(parsed, list):
            replies = []
            for item in parsed:
                try:
                    req.parse(item)
                    reply = self._execute(req)
                except _RequestError as exc:
                    reply = req.reply(error=_error_obj(exc.code, exc.message))
                if not req.is_notification:
                    replies.append(reply)
            if not replies and parsed:
                return web.Response(status=204)
            return _json_response(replies)
        return self._error_reply(req, RPC_PARSE_ERROR, "Top-level object parse error")

    @staticmethod
    def _error_reply(req: _Request, code: int, message: str) -> web.Response:
        """Core's ``JSONErrorReply``: an HTTP error status chosen by the RPC code."""
        status = 500
        if code == RPC_INVALID_REQUEST:
            status = 400
        elif code == RPC_METHOD_NOT_FOUND:
            status = 404
        return _json_response(req.reply(error=_error_obj(code, message)), status)
