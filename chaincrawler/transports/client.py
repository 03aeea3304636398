"""The Python client of the chaincrawler API: ``Client`` (sync) and ``AsyncClient``.

::

    async with AsyncClient("http://127.0.0.1:8080", token="...") as api:
        result = await api.query("address_balances", "balance", address="bcrt1...")
        async for message in api.stream(after="now"):        # resumes by itself
            ...
        async for top in api.live("address_balances", "top", n=3):
            ...

Results are the API's own pydantic models (``EventsPage``, ``QueryResult`` ...); a
refused request raises ``ApiError`` with the server's code, message and details.
The stream yields ``EventsFrame``, ``RollbackFrame`` and ``CaughtUp`` messages and,
when the connection drops or the server closes it as too slow, reconnects and
resumes from the last cursor seen: nothing is lost, duplicates (same position) may
arrive. ``StreamView`` applies messages to a position -> event map.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Literal, TypeVar

import httpx
import pydantic
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import connect as connect_sync

from chaincrawler.transports.errors import ApiError, StreamClosed
from chaincrawler.transports.schemas import (
    At,
    ChainOut,
    EventOut,
    EventsPage,
    Health,
    ModelsOut,
    QueryResult,
    Ready,
    ReorgDetail,
    ReorgOut,
    ReorgsOut,
    StateOut,
    StatusOut,
)
from chaincrawler.transports.stream import CLOSE_BAD_REQUEST, CLOSE_UNAUTHORIZED, Cursor

__all__ = [
    "ApiError",
    "AsyncClient",
    "CaughtUp",
    "Client",
    "Cursor",
    "EventsFrame",
    "RollbackFrame",
    "StreamClosed",
    "StreamMessage",
    "StreamView",
]

M = TypeVar("M", bound=pydantic.BaseModel)
_MAX_FRAME = 64 * 1024 * 1024
_FATAL = (CLOSE_UNAUTHORIZED, CLOSE_BAD_REQUEST)


class EventsFrame(pydantic.BaseModel):
    """Events in position order; every event of the subscribed models up to ``upto`` sent."""

    type: Literal["events"]
    at: At
    upto: int
    events: list[EventOut]


class RollbackFrame(pydantic.BaseModel):
    """A reorg rolled back the events at ``positions`` (of the subscribed models)."""

    type: Literal["rollback"]
    at: At
    reorg: ReorgOut
    positions: list[int]


class CaughtUp(pydantic.BaseModel):
    """Everything stored up to ``upto`` was sent; live events follow."""

    type: Literal["caught_up"]
    at: At
    upto: int
    reorg: int


StreamMessage = EventsFrame | RollbackFrame | CaughtUp
_MESSAGE: pydantic.TypeAdapter[StreamMessage] = pydantic.TypeAdapter(
    EventsFrame | RollbackFrame | CaughtUp)


class StreamView:
    """A client-side view kept by applying stream messages: the active events by position."""

    def __init__(self) -> None:
        self.events: dict[int, EventOut] = {}

    def apply(self, message: StreamMessage) -> None:
        if isinstance(message, EventsFrame):
            for event in message.events:
                if event.status == "active":
                    self.events[event.position] = event
        elif isinstance(message, RollbackFrame):
            for position in message.positions:
                self.events.pop(position, None)


class _Cursoring:
    """The stream's cursor and what one frame does to it (shared by both clients)."""

    def __init__(self, models: list[str] | None, after: Cursor | int | Literal["now"]) -> None:
        self.models = models
        self.cursor: Cursor | None = (
            None if after == "now" else after if isinstance(after, Cursor) else Cursor(after, 0))

    def subscribe_message(self) -> str:
        after: Any = "now" if self.cursor is None else self.cursor.as_json()
        return json.dumps({"op": "subscribe", "models": self.models, "after": after})

    def read(self, text: str | bytes) -> StreamMessage | None:
        frame = json.loads(text)
        kind = frame.get("type")
        if kind == "error":
            error = frame["error"]
            raise ApiError(400, error["code"], error["message"], error.get("details"))
        if kind not in ("events", "rollback", "caught_up"):
            return None  # hello, heartbeat
        message = _MESSAGE.validate_python(frame)
        cursor = self.cursor or Cursor(0, 0)
        if isinstance(message, EventsFrame):
            self.cursor = Cursor(max(cursor.position, message.upto), cursor.reorg)
        elif isinstance(message, RollbackFrame):
            self.cursor = Cursor(cursor.position, max(cursor.reorg, message.reorg.id))
        else:
            self.cursor = Cursor(max(cursor.position, message.upto),
                                 max(cursor.reorg, message.reorg))
        return message


def _closed(exc: ConnectionClosed) -> StreamClosed:
    frame = exc.rcvd
    code, reason = (frame.code, frame.reason) if frame is not None else (1006, "")
    resume = None
    if reason.startswith("{"):
        try:
            resume = json.loads(reason)
        except ValueError:
            resume = None
    return StreamClosed(code, reason, resume)


def _ws_url(url: str, path: str) -> str:
    base = url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://"):] + path
    if base.startswith("http://"):
        return "ws://" + base[len("http://"):] + path
    return base + path


def _check(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            raise ApiError(response.status_code, str(error.get("code")),
                           str(error.get("message")), error.get("details"))
        raise ApiError(response.status_code, "http_error", response.text[:200])
    return body


def _event_params(filters: Mapping[str, Any]) -> dict[str, Any]:
    params = {k: v for k, v in filters.items() if v is not None}
    if "event_types" in params:
        params["event_type"] = list(params.pop("event_types"))
    for key, value in params.items():
        if isinstance(value, bool):
            params[key] = "true" if value else "false"
    return params


class AsyncClient:
    """The async client: HTTP calls, the event stream and live queries."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 30.0,
                 reconnect_delay: float = 0.2) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(base_url=self.url, headers=self._headers,
                                       timeout=timeout)
        self._reconnect_delay = reconnect_delay

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, model: type[M], params: Mapping[str, Any] | None = None) -> M:
        return model.model_validate(_check(await self._http.get(path, params=params)))

    async def health(self) -> Health:
        return await self._get("/v1/health", Health)

    async def ready(self) -> Ready:
        """Readiness (a 503 ``Ready`` comes back as a result, not an error)."""
        response = await self._http.get("/v1/ready")
        if response.status_code == 503:
            return Ready.model_validate(response.json())
        return Ready.model_validate(_check(response))

    async def status(self) -> StatusOut:
        return await self._get("/v1/status", StatusOut)

    async def metrics(self) -> str:
        response = await self._http.get("/v1/metrics")
        _check(response)
        return response.text

    async def models(self) -> ModelsOut:
        return await self._get("/v1/models", ModelsOut)

    async def events(self, **filters: Any) -> EventsPage:
        """One page of events (filters as in ``GET /v1/events``)."""
        return await self._get("/v1/events", EventsPage, _event_params(filters))

    async def iter_events(self, **filters: Any) -> AsyncIterator[EventOut]:
        """Every event the filters select, following the pages' cursors."""
        while True:
            page = await self.events(**filters)
            for event in page.events:
                yield event
            if page.next_cursor is None:
                return
            filters = {**filters, "cursor": page.next_cursor}

    async def chain(self, reorgs: int = 10) -> ChainOut:
        return await self._get("/v1/chain", ChainOut, {"reorgs": reorgs})

    async def reorgs(self, limit: int = 100) -> ReorgsOut:
        return await self._get("/v1/chain/reorgs", ReorgsOut, {"limit": limit})

    async def reorg(self, reorg_id: int) -> ReorgDetail:
        return await self._get(f"/v1/chain/reorgs/{reorg_id}", ReorgDetail)

    async def state(self, model: str, height: int | None = None) -> StateOut:
        """The model's plain state at the committed tip, or at ``height`` of the window."""
        params = None if height is None else {"height": height}
        return await self._get(f"/v1/models/{model}/state", StateOut, params)

    async def query(self, model: str, query: str, /, **params: Any) -> QueryResult:
        """Run a model's query at the committed tip (POST with the parameters as JSON)."""
        response = await self._http.post(f"/v1/models/{model}/queries/{query}", json=params)
        return QueryResult.model_validate(_check(response))

    async def query_at(self, height: int, model: str, query: str, /,
                       **params: Any) -> QueryResult:
        """Run a model's query on its state at ``height`` (within the reorg window)."""
        response = await self._http.post(f"/v1/models/{model}/at/{height}/queries/{query}",
                                         json=params)
        return QueryResult.model_validate(_check(response))

    async def _connect(self) -> ClientConnection:
        return await connect_async(_ws_url(self.url, "/v1/stream"),
                                   additional_headers=self._headers, max_size=_MAX_FRAME,
                                   open_timeout=10)

    async def stream(self, models: list[str] | None = None,
                     after: Cursor | int | Literal["now"] = "now", *,
                     resume: bool = True) -> AsyncIterator[StreamMessage]:
        """Stored events after ``after``, then live ones, with rollback notices.

        With ``resume`` a dropped or too-slow connection is reopened from the last
        cursor seen; ``StreamClosed`` is raised otherwise (and for a refused token).
        """
        state = _Cursoring(models, after)
        while True:
            try:
                async with await self._connect() as ws:
                    await ws.send(state.subscribe_message())
                    async for text in ws:
                        message = state.read(text)
                        if message is not None:
                            yield message
                    raise StreamClosed(1000, "closed by the server")
            except ConnectionClosed as exc:
                closed = _closed(exc)
                if not resume or closed.code in _FATAL:
                    raise closed from None
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError):
                if not resume:
                    raise
            await asyncio.sleep(self._reconnect_delay)

    async def live(self, model: str, query: str, /, **params: Any) -> AsyncIterator[Any]:
        """The query's result now and each time a commit or rollback changes it."""
        last: Any = object()
        while True:
            try:
                async with await self._connect() as ws:
                    await ws.send(json.dumps({"op": "live", "id": "live", "model": model,
                                              "query": query, "params": params}))
                    async for text in ws:
                        frame = json.loads(text)
                        if frame.get("type") == "error":
                            error = frame["error"]
                            raise ApiError(400, error["code"], error["message"],
                                           error.get("details"))
                        if frame.get("type") == "live" and frame["result"] != last:
                            last = frame["result"]
                            yield last
            except ConnectionClosed as exc:
                closed = _closed(exc)
                if closed.code in _FATAL:
                    raise closed from None
            except (OSError, InvalidHandshake, TimeoutError):
                pass
            await asyncio.sleep(self._reconnect_delay)


class Client:
    """The sync client: the same calls as ``AsyncClient``, blocking."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 30.0,
                 reconnect_delay: float = 0.2) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=self._headers, timeout=timeout)
        self._reconnect_delay = reconnect_delay

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, model: type[M], params: Mapping[str, Any] | None = None) -> M:
        return model.model_validate(_check(self._http.get(path, params=params)))

    def health(self) -> Health:
        return self._get("/v1/health", Health)

    def ready(self) -> Ready:
        """Readiness (a 503 ``Ready`` comes back as a result, not an error)."""
        response = self._http.get("/v1/ready")
        if response.status_code == 503:
            return Ready.model_validate(response.json())
        return Ready.model_validate(_check(response))

    def status(self) -> StatusOut:
        return self._get("/v1/status", StatusOut)

    def metrics(self) -> str:
        response = self._http.get("/v1/metrics")
        _check(response)
        return response.text

    def models(self) -> ModelsOut:
        return self._get("/v1/models", ModelsOut)

    def events(self, **filters: Any) -> EventsPage:
        return self._get("/v1/events", EventsPage, _event_params(filters))

    def iter_events(self, **filters: Any) -> Iterator[EventOut]:
        while True:
            page = self.events(**filters)
            yield from page.events
            if page.next_cursor is None:
                return
            filters = {**filters, "cursor": page.next_cursor}

    def chain(self, reorgs: int = 10) -> ChainOut:
        return self._get("/v1/chain", ChainOut, {"reorgs": reorgs})

    def reorgs(self, limit: int = 100) -> ReorgsOut:
        return self._get("/v1/chain/reorgs", ReorgsOut, {"limit": limit})

    def reorg(self, reorg_id: int) -> ReorgDetail:
        return self._get(f"/v1/chain/reorgs/{reorg_id}", ReorgDetail)

    def state(self, model: str, height: int | None = None) -> StateOut:
        params = None if height is None else {"height": height}
        return self._get(f"/v1/models/{model}/state", StateOut, params)

    def query_at(self, height: int, model: str, query: str, /, **params: Any) -> QueryResult:
        response = self._http.post(f"/v1/models/{model}/at/{height}/queries/{query}",
                                   json=params)
        return QueryResult.model_validate(_check(response))

    def query(self, model: str, query: str, /, **params: Any) -> QueryResult:
        response = self._http.post(f"/v1/models/{model}/queries/{query}", json=params)
        return QueryResult.model_validate(_check(response))

    def stream(self, models: list[str] | None = None,
               after: Cursor | int | Literal["now"] = "now", *,
               resume: bool = True) -> Iterator[StreamMessage]:
        """As ``AsyncClient.stream``, blocking."""
        state = _Cursoring(models, after)
        while True:
            try:
                with connect_sync(_ws_url(self.url, "/v1/stream"),
                                  additional_headers=self._headers, max_size=_MAX_FRAME,
                                  open_timeout=10) as ws:
                    ws.send(state.subscribe_message())
                    for text in ws:
                        message = state.read(text)
                        if message is not None:
                            yield message
                    raise StreamClosed(1000, "closed by the server")
            except ConnectionClosed as exc:
                closed = _closed(exc)
                if not resume or closed.code in _FATAL:
                    raise closed from None
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError):
                if not resume:
                    raise
            time.sleep(self._reconnect_delay)
