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
The stream yields ``EventsFrame``, ``RollbackFrame`` and ``CaughtUp`` messages (and,
with ``mempool=``, ``MempoolEventsFrame`` and ``MempoolCaughtUp``) and,
when the connection drops or the server closes it as too slow, reconnects and
resumes from the last cursor seen: nothing is lost, duplicates (same position) may
arrive; with ``cursor_file=`` the cursor is kept in a file, so a restarted program
resumes too. ``StreamView`` applies messages to a position -> event map. ``Client``
runs an ``AsyncClient`` on a private event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncGenerator, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import httpx
import pydantic
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from chaincrawler.transports.errors import ApiError, StreamClosed, TransportError
from chaincrawler.transports.mempool_api import MempoolEventOut, MempoolEventsPage
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
    "CursorFileError",
    "EventsFrame",
    "MempoolCaughtUp",
    "MempoolEventsFrame",
    "RollbackFrame",
    "StreamClosed",
    "StreamMessage",
    "StreamView",
]

M = TypeVar("M", bound=pydantic.BaseModel)
T = TypeVar("T")
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


class MempoolEventsFrame(pydantic.BaseModel):
    """Stored mempool events (positions of the mempool log); ``upto`` is the new mempool
    position."""

    type: Literal["mempool_events"]
    at: At
    upto: int
    events: list[MempoolEventOut]


class MempoolCaughtUp(pydantic.BaseModel):
    """Every stored mempool event up to ``upto`` was sent; new ones follow."""

    type: Literal["mempool_caught_up"]
    at: At
    upto: int


StreamMessage = EventsFrame | RollbackFrame | CaughtUp | MempoolEventsFrame | MempoolCaughtUp
_MESSAGE: pydantic.TypeAdapter[StreamMessage] = pydantic.TypeAdapter(StreamMessage)
#: The ``type`` of each frame of the union (others, like hello and heartbeat, are skipped).
_KINDS = frozenset(kind for frame in get_args(StreamMessage)
                   for kind in get_args(frame.model_fields["type"].annotation))


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


class CursorFileError(TransportError):
    """A stream's cursor file cannot be read, or was written for other models."""


class _Cursoring:
    """The stream's cursor, what one frame does to it, and its cursor file if any."""

    def __init__(self, models: list[str] | None, after: Cursor | int | Literal["now"],
                 cursor_file: str | os.PathLike[str] | None,
                 mempool: int | Literal["now"] | None = None) -> None:
        self.models = models
        self.cursor: Cursor | None = (
            None if after == "now" else after if isinstance(after, Cursor) else Cursor(after, 0))
        self.mempool = mempool
        """The last mempool position seen ("now": none yet; None: mempool not asked)."""
        self._file = None if cursor_file is None else Path(cursor_file)
        if self._file is not None and self._file.exists():
            self.cursor = self._load(self._file)

    def _load(self, path: Path) -> Cursor:
        try:
            saved = json.loads(path.read_text())
            cursor = Cursor(int(saved["position"]), int(saved["reorg"]))
            models = saved["models"]
            if self.mempool is not None and saved.get("mempool") is not None:
                self.mempool = int(saved["mempool"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CursorFileError(f"cursor file {path} is unreadable ({exc}): delete it to "
                                  "start from `after` again") from None
        if models != (None if self.models is None else sorted(self.models)):
            raise CursorFileError(
                f"cursor file {path} is for models {models}, not {self.models}: events of "
                "the others would be skipped; use another file")
        return cursor

    def save(self) -> None:
        """Write the cursor to the cursor file (atomically: a new file renamed over)."""
        if self._file is None or self.cursor is None:
            return
        models = None if self.models is None else sorted(self.models)
        temporary = self._file.with_name(self._file.name + ".tmp")
        mempool = self.mempool if isinstance(self.mempool, int) else None
        temporary.write_text(json.dumps({**self.cursor.as_json(), "models": models,
                                         "mempool": mempool}))
        os.replace(temporary, self._file)

    def subscribe_message(self) -> str:
        after: Any = "now" if self.cursor is None else self.cursor.as_json()
        request: dict[str, Any] = {"op": "subscribe", "models": self.models, "after": after}
        if self.mempool is not None:
            request["mempool"] = {"after": self.mempool, "models": self.models}
        return json.dumps(request)

    def read(self, text: str | bytes) -> StreamMessage | None:
        frame = json.loads(text)
        kind = frame.get("type")
        if kind == "error":
            error = frame["error"]
            raise ApiError(400, error["code"], error["message"], error.get("details"))
        if kind not in _KINDS:
            return None  # hello, heartbeat
        message = _MESSAGE.validate_python(frame)
        if isinstance(message, MempoolEventsFrame | MempoolCaughtUp):
            seen = self.mempool if isinstance(self.mempool, int) else 0
            self.mempool = max(seen, message.upto)
            return message
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

    async def iter_events(self, **filters: Any) -> AsyncGenerator[EventOut, None]:
        """Every event the filters select, following the pages' cursors."""
        while True:
            page = await self.events(**filters)
            for event in page.events:
                yield event
            if page.next_cursor is None:
                return
            filters = {**filters, "cursor": page.next_cursor}

    async def mempool_events(self, **filters: Any) -> MempoolEventsPage:
        """One page of stored mempool events (``after``, ``model``, ``txid``, ``limit`` as
        in ``GET /v1/mempool/events``)."""
        return await self._get("/v1/mempool/events", MempoolEventsPage, filters)

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
                     after: Cursor | int | Literal["now"] = "now", *, resume: bool = True,
                     cursor_file: str | os.PathLike[str] | None = None,
                     mempool: int | Literal["now"] | None = None,
                     ) -> AsyncGenerator[StreamMessage, None]:
        """Stored events after ``after``, then live ones, with rollback notices.

        With ``resume`` a dropped or too-slow connection is reopened from the last
        cursor seen; ``StreamClosed`` is raised otherwise (and for a refused token).
        With ``cursor_file`` the cursor is kept in that file for you: a stream started
        again with it resumes where the last one was (``after`` then only counts when
        the file does not exist yet). A message's cursor is written when you ask for the
        next one, i.e. once you handled it: a process killed at any point loses nothing
        (the message being handled may come again: drop duplicates by position).
        With ``mempool`` (a mempool position, or "now") the stream also carries the stored
        mempool events of ``models`` after it, with their own positions, kept and resumed
        (and saved in the cursor file) beside the block cursor.
        """
        state = _Cursoring(models, after, cursor_file, mempool)
        while True:
            try:
                async with await self._connect() as ws:
                    await ws.send(state.subscribe_message())
                    async for text in ws:
                        message = state.read(text)
                        if message is not None:
                            yield message
                            state.save()
                    raise StreamClosed(1000, "closed by the server")
            except ConnectionClosed as exc:
                closed = _closed(exc)
                if not resume or closed.code in _FATAL:
                    raise closed from None
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError):
                if not resume:
                    raise
            await asyncio.sleep(self._reconnect_delay)

    async def live(self, model: str, query: str, /,
                   **params: Any) -> AsyncGenerator[Any, None]:
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
    """The sync client: ``AsyncClient``'s calls, blocking.

    It runs an ``AsyncClient`` on a private event loop in a thread of its own, so it
    works in any thread, even one running an event loop. ``close()`` it (or use
    ``with``) to stop that thread.
    """

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 30.0,
                 reconnect_delay: float = 0.2) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        name="chaincrawler-client", daemon=True)
        self._thread.start()
        self._client = self._run(_make_async(url, token, timeout, reconnect_delay))
        self.url = self._client.url

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._run(self._client.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def _run(self, call: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(call, self._loop).result()

    def _iterate(self, generator: AsyncGenerator[T, None]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self._run(generator.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            if not self._loop.is_closed():
                self._run(generator.aclose())

    def health(self) -> Health:
        return self._run(self._client.health())

    def ready(self) -> Ready:
        """Readiness (a 503 ``Ready`` comes back as a result, not an error)."""
        return self._run(self._client.ready())

    def status(self) -> StatusOut:
        return self._run(self._client.status())

    def metrics(self) -> str:
        return self._run(self._client.metrics())

    def models(self) -> ModelsOut:
        return self._run(self._client.models())

    def events(self, **filters: Any) -> EventsPage:
        """One page of events (filters as in ``GET /v1/events``)."""
        return self._run(self._client.events(**filters))

    def iter_events(self, **filters: Any) -> Iterator[EventOut]:
        """Every event the filters select, following the pages' cursors."""
        return self._iterate(self._client.iter_events(**filters))

    def mempool_events(self, **filters: Any) -> MempoolEventsPage:
        """As ``AsyncClient.mempool_events``, blocking."""
        return self._run(self._client.mempool_events(**filters))

    def chain(self, reorgs: int = 10) -> ChainOut:
        return self._run(self._client.chain(reorgs))

    def reorgs(self, limit: int = 100) -> ReorgsOut:
        return self._run(self._client.reorgs(limit))

    def reorg(self, reorg_id: int) -> ReorgDetail:
        return self._run(self._client.reorg(reorg_id))

    def state(self, model: str, height: int | None = None) -> StateOut:
        """The model's plain state at the committed tip, or at ``height`` of the window."""
        return self._run(self._client.state(model, height))

    def query(self, model: str, query: str, /, **params: Any) -> QueryResult:
        """Run a model's query at the committed tip."""
        return self._run(self._client.query(model, query, **params))

    def query_at(self, height: int, model: str, query: str, /, **params: Any) -> QueryResult:
        """Run a model's query on its state at ``height`` (within the reorg window)."""
        return self._run(self._client.query_at(height, model, query, **params))

    def stream(self, models: list[str] | None = None,
               after: Cursor | int | Literal["now"] = "now", *, resume: bool = True,
               cursor_file: str | os.PathLike[str] | None = None,
               mempool: int | Literal["now"] | None = None) -> Iterator[StreamMessage]:
        """As ``AsyncClient.stream``, blocking."""
        return self._iterate(self._client.stream(models, after, resume=resume,
                                                 cursor_file=cursor_file, mempool=mempool))

    def live(self, model: str, query: str, /, **params: Any) -> Iterator[Any]:
        """As ``AsyncClient.live``, blocking."""
        return self._iterate(self._client.live(model, query, **params))


async def _make_async(url: str, token: str | None, timeout: float,
                      reconnect_delay: float) -> AsyncClient:
    """An ``AsyncClient`` made on the loop that will use it."""
    return AsyncClient(url, token=token, timeout=timeout, reconnect_delay=reconnect_delay)
