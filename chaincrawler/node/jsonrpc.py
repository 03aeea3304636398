"""JSON-RPC 2.0 over a :class:`~chaincrawler.node.http.NodeConnection`.

Replies are handled exactly as Bitcoin Core sends them:

* JSON-RPC 2.0 (Core >= 28): HTTP 200 for successes *and* errors; a success has no
  ``error`` key, an error has no ``result`` key.
* legacy 1.0 replies: both keys, the unused one ``null``; errors come with HTTP 404
  (method not found) or 500.
* batch replies are matched to requests by ``id``, never by position.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from chaincrawler.node.errors import NodeConfigError, NodeProtocolError, RPCError
from chaincrawler.node.http import HttpReply, NodeConnection, body_excerpt

T = TypeVar("T")
Params = Sequence[Any] | Mapping[str, Any]
"""Positional (a sequence) or named (a mapping) JSON-RPC parameters."""



@dataclass(frozen=True, slots=True)
class BatchItem:
    """The outcome of one call of a batch: a result, or the node's error."""

    result: Any = None
    error: RPCError | None = None

    @property
    def ok(self) -> bool:
        """True when the call succeeded."""
        return self.error is None

    def unwrap(self) -> Any:
        """The result, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.result


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)  # Core accepts amounts as strings; keeps every digit
    raise TypeError(f"cannot send {type(value).__name__} as a JSON-RPC parameter")


def _as_is(value: Any) -> Any:
    return value


def _same_id(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


class JsonRpc:
    """JSON-RPC 2.0 calls and batches over a :class:`NodeConnection`.

    JSON numbers with a fraction are decoded as :class:`decimal.Decimal`, so BTC
    amounts stay exact.
    """

    def __init__(self, connection: NodeConnection, *, batch_size: int) -> None:
        if batch_size < 1:
            raise NodeConfigError(f"batch_size must be >= 1, got {batch_size}")
        self._connection = connection
        self._batch_size = batch_size
        self._ids = itertools.count(1)

    async def call(self, method: str, params: Params = ()) -> Any:
        """Call ``method`` and return its result; raise :class:`RPCError` on a node error."""
        return await self.call_as(method, params, _as_is)

    async def call_as(self, method: str, params: Params, convert: Callable[[Any], T]) -> T:
        """Call ``method`` and return ``convert(result)``.

        ``convert`` checks the result's shape: a ``TypeError`` or ``ValueError`` it raises
        becomes a :class:`NodeProtocolError` naming the node.
        """
        request_id = next(self._ids)
        body = self._encode(self._request(request_id, method, params))
        reply = await self._connection.post(method, body)
        obj = self._decode(reply, method)
        item = self._parse_reply(obj, request_id, method, reply.node, None, convert)
        result: T = item.unwrap()
        return result

    async def batch(self, calls: Sequence[tuple[str, Params]]) -> list[Any]:
        """Run ``calls`` as JSON-RPC batches; return results in call order.

        Raises the :class:`RPCError` of the first failing call (its ``index`` says which).
        """
        return await self.batch_as(calls, _as_is)

    async def batch_as(
        self, calls: Sequence[tuple[str, Params]], convert: Callable[[Any], T]
    ) -> list[T]:
        """Like :meth:`batch`, passing every result through ``convert`` (see :meth:`call_as`)."""
        return [item.unwrap() for item in await self.batch_results(calls, convert)]

    async def batch_results(
        self, calls: Sequence[tuple[str, Params]], convert: Callable[[Any], Any] | None = None
    ) -> list[BatchItem]:
        """Run ``calls`` as JSON-RPC batches; return one :class:`BatchItem` per call, in order."""
        items: list[BatchItem] = []
        for start in range(0, len(calls), self._batch_size):
            chunk = calls[start : start + self._batch_size]
            items.extend(await self._batch_chunk(chunk, start, convert or _as_is))
        return items

    async def _batch_chunk(
        self, calls: Sequence[tuple[str, Params]], offset: int, convert: Callable[[Any], Any]
    ) -> list[BatchItem]:
        ids = [next(self._ids) for _ in calls]
        requests = [self._request(i, m, p) for i, (m, p) in zip(ids, calls, strict=True)]
        what = f"batch of {len(calls)} ({calls[0][0]}{', ...' if len(calls) > 1 else ''})"
        reply = await self._connection.post(what, self._encode(requests))
        obj = self._decode(reply, what)
        if isinstance(obj, dict) and obj.get("error") is not None:
            # The whole batch was refused (e.g. a parse error): one error object.
            self._parse_reply(obj, None, what, reply.node, None, _as_is).unwrap()
        if not isinstance(obj, list):
            raise NodeProtocolError(
                reply.node, what, f"expected a JSON array, got {type(obj).__name__}"
            )
        by_id: dict[int, Any] = {}
        wanted = set(ids)
        for entry in obj:
            entry_id = entry.get("id") if isinstance(entry, dict) else None
            if type(entry_id) is not int or entry_id not in wanted:
                raise NodeProtocolError(reply.node, what, f"reply with an unknown id: {entry_id!r}")
            if entry_id in by_id:
                raise NodeProtocolError(reply.node, what, f"two replies with id {entry_id}")
            by_id[entry_id] = entry
        if len(by_id) != len(ids):
            missing = len(ids) - len(by_id)
            raise NodeProtocolError(reply.node, what, f"{missing} of {len(ids)} replies missing")
        return [
            self._parse_reply(by_id[rid], rid, method, reply.node, offset + pos, convert)
            for pos, (rid, (method, _)) in enumerate(zip(ids, calls, strict=True))
        ]

    @staticmethod
    def _request(request_id: int, method: str, params: Params) -> dict[str, Any]:
        wire: list[Any] | dict[str, Any] = (
            dict(params) if isinstance(params, Mapping) else list(params)
        )
        return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": wire}

    @staticmethod
    def _encode(payload: object) -> bytes:
        return json.dumps(payload, default=_json_default, separators=(",", ":")).encode()

    @staticmethod
    def _decode(reply: HttpReply, what: str) -> Any:
        try:
            return json.loads(reply.body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise NodeProtocolError(
                reply.node,
                what,
                f"HTTP {reply.status}, body is not JSON: {body_excerpt(reply.body)!r}",
            ) from None

    @staticmethod
    def _parse_reply(
        obj: Any,
        request_id: int | None,
        method: str,
        node: str,
        index: int | None,
        convert: Callable[[Any], Any],
    ) -> BatchItem:
        if not isinstance(obj, dict):
            raise NodeProtocolError(
                node, method, f"expected a JSON object, got {type(obj).__name__}"
            )
        error = obj.get("error")
        reply_id = obj.get("id")
        if error is not None:
            # Core answers id null when it could not read the request's id.
            if reply_id is not None and not _same_id(reply_id, request_id):
                raise NodeProtocolError(
                    node, method, f"error reply for id {reply_id!r}, sent {request_id}"
                )
            code = error.get("code") if isinstance(error, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            if type(code) is not int or not isinstance(message, str):
                raise NodeProtocolError(node, method, f"malformed error object: {error!r}")
            return BatchItem(error=RPCError(code, message, method, node, index))
        if not _same_id(reply_id, request_id):
            raise NodeProtocolError(
                node, method, f"reply id {reply_id!r} does not match request id {request_id}"
            )
        if "result" not in obj:
            raise NodeProtocolError(node, method, "reply has neither result nor error")
        try:
            return BatchItem(result=convert(obj["result"]))
        except (TypeError, ValueError) as exc:
            raise NodeProtocolError(node, method, f"unexpected result: {exc}") from None
