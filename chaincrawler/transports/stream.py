"""The WebSocket event stream: stored events, then live ones, with rollback notices.

Protocol (JSON text frames). The client sends::

    {"op": "subscribe", "models": ["a", "b"] | null, "after": {"position": P, "reorg": R} | "now"}
    (and ``"mempool": {...}`` for mempool events: see ``mempool_stream``)
    {"op": "live", "id": "q1", "model": "m", "query": "q", "params": {...}}
    {"op": "unlive", "id": "q1"}

``after`` is the client's cursor: the last position it has seen (every event of its
models at or below it received) and the id of the last reorg notice it has seen. The
server sends ``hello``; after a subscribe, the rollback notices of reorgs newer than R,
then the active events above P in position order (``events`` frames), ``caught_up``,
and from then on each commit's events and each reorg's ``rollback`` notice (reorg,
fork height, old and new tip, the positions rolled back) before the new branch's
events; ``live`` results, ``heartbeat`` and ``error`` frames. Every frame carries
``at`` (tip, position, finalized height); ``events`` frames carry ``upto``: the client's
new cursor position. A client applying events (by position) and removing the
positions of each rollback holds exactly the store's active log of its models.

A commit's events go out in ``events`` frames of at most ``FRAME_EVENTS`` events, each
encoded once and the same text sent to every client subscribed to the same models (the
server negotiates no compression, which would redo that work per client).

Each client's outbox is bounded: a client that falls behind is closed with code
4008 (``CLOSE_TOO_SLOW``) and a reason ``{"position": P, "reorg": R}`` to resume from.
Delivery is at least once: positions let a client drop duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from chaincrawler.eventstore import BlockRecord, EventQuery, StoredEvent
from chaincrawler.transports import mempool_stream
from chaincrawler.transports.auth import TokenCheck
from chaincrawler.transports.errors import ApiError
from chaincrawler.transports.live import LiveQueries, find_model
from chaincrawler.transports.schemas import At, ReorgOut
from chaincrawler.transports.source import Committed, Notification, RolledBack, StateSource, View

log = structlog.get_logger(__name__)

CLOSE_GOING_AWAY = 1001
"""The server is shutting down: reconnect elsewhere or later, from your cursor."""
CLOSE_BAD_REQUEST = 4000
"""The client sent something the protocol does not allow (a second subscribe...)."""
CLOSE_UNAUTHORIZED = 4001
"""No valid token (``?token=`` or ``Authorization: Bearer``)."""
CLOSE_TOO_SLOW = 4008
"""The client's outbox overflowed; the reason is the JSON cursor to resume from."""

CLOSE_TIMEOUT = 10.0
"""Seconds a closing frame may wait for a client that stopped reading."""

FRAME_EVENTS = 500
"""Most events in one ``events`` frame."""

_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a client is: last position seen, last reorg notice seen."""

    position: int
    reorg: int

    def as_json(self) -> dict[str, int]:
        return {"position": self.position, "reorg": self.reorg}


def _dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))


def event_json(e: StoredEvent) -> str:
    """``EventOut.of(e)`` as JSON text, the stored payload (JSON already) spliced in as it is.

    The stream's hot path: no payload is parsed and dumped again per event.
    """
    reorg = "null" if e.reorg_id is None else int(e.reorg_id)
    return (f'{{"position":{int(e.position)},"model":{json.dumps(e.model)},'
            f'"version":{int(e.version)},"event_type":{json.dumps(e.event_type)},'
            f'"event_version":{int(e.event_version)},"payload":{e.payload},'
            f'"block_height":{int(e.block_height)},"block_hash":{json.dumps(e.block_hash)},'
            f'"status":{json.dumps(str(e.status))},"reorg_id":{reorg}}}')


def events_frame(at: dict[str, Any], upto: int, events: list[str]) -> str:
    """An ``events`` frame's text from the events' JSON texts (see ``event_json``)."""
    return f'{{"type":"events","at":{_dumps(at)},"upto":{int(upto)},"events":[{",".join(events)}]}}'


class Subscriber:
    """One connected client: which models it follows, its bounded outbox, its cursor."""

    def __init__(self, buffer: int) -> None:
        self.id = next(_ids)
        self.models: frozenset[str] | None = None
        self.subscribed = False
        self._buffer = buffer
        self.outbox: deque[tuple[str, Cursor | None]] = deque()
        self.wake = asyncio.Event()
        self.overflowed = False
        self.closing = False

    def wants(self, model: str) -> bool:
        return self.models is None or model in self.models

    def push(self, text: str, cursor: Cursor | None = None) -> None:
        """Queue a frame; on overflow mark the client to be closed as too slow."""
        if self.overflowed:
            return
        if len(self.outbox) >= self._buffer:
            self.overflowed = True
        else:
            self.outbox.append((text, cursor))
        self.wake.set()

    def push_frame(self, frame: dict[str, Any]) -> None:
        self.push(_dumps(frame))


class StreamHub:
    """Turns the source's notices into frames for every subscriber, in notice order.

    Reads each commit's events once and fans them out; runs live queries once per
    round of notices. Started lazily by the first stream client.
    """

    def __init__(self, source: StateSource, *, buffer: int,
                 on_clients: Callable[[int], None] | None = None) -> None:
        self.source = source
        self.buffer = buffer
        self.live = LiveQueries(source)
        self.subscribers: dict[int, Subscriber] = {}
        self.position = 0
        self.reorg = 0
        self._notes: deque[Notification] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self._unsubscribe: Callable[[], None] | None = None
        self._on_clients = on_clients

    async def start(self) -> None:
        """Follow the source from its current position (idempotent)."""
        async with self._start_lock:
            if self._task is not None:
                return
            self.position = self.source.view().position
            self._unsubscribe = self.source.subscribe(self._on_notice)
            newest = await self.source.store.reorgs(limit=1)
            self.reorg = newest[0].id if newest else 0
            self._task = asyncio.create_task(self._run(), name="chaincrawler-stream-hub")

    async def close(self) -> None:
        """Stop following and close every client (code 1001)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for sub in self.subscribers.values():
            sub.closing = True
            sub.wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def cursor(self) -> Cursor:
        return Cursor(self.position, self.reorg)

    def add(self, sub: Subscriber) -> None:
        self.subscribers[sub.id] = sub
        self._count()

    def remove(self, sub: Subscriber) -> None:
        self.subscribers.pop(sub.id, None)
        self.live.drop_client(sub.id)
        self._count()

    def _count(self) -> None:
        if self._on_clients is not None:
            self._on_clients(len(self.subscribers))

    def _on_notice(self, note: Notification) -> None:
        self._notes.append(note)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                while self._notes:
                    note = self._notes.popleft()
                    if isinstance(note, Committed):
                        await self._committed(note)
                    elif isinstance(note, RolledBack):
                        await self._rolled_back(note)
                await self.live.refresh()
            except Exception:
                # A failing read must not end the stream for everyone: clients resume.
                log.exception("stream hub failed; closing its clients")
                for sub in self.subscribers.values():
                    sub.closing = True
                    sub.wake.set()

    def _streaming(self) -> list[Subscriber]:
        return [s for s in self.subscribers.values() if s.subscribed]

    async def _committed(self, note: Committed) -> None:
        if not note.positions or note.positions[-1] <= self.position:
            return
        first, last = max(note.positions[0], self.position + 1), note.positions[-1]
        # Claimed now, with the subscribers of now: a client subscribing while this
        # commit is fanned out replays up to ``last`` from the store itself.
        self.position = last
        subs = self._streaming()
        if not subs:
            return
        view = View(note.blocks[-1], last, self.source.max_reorg_depth)
        at = At.of(view).model_dump()
        query = EventQuery(from_position=first, to_position=last, include_rolled_back=True)
        chunk: list[StoredEvent] = []
        async for event in self.source.store.iter_events(query, FRAME_EVENTS):
            chunk.append(event)
            if len(chunk) == FRAME_EVENTS:
                self._fan_out(subs, chunk, chunk[-1].position, at)
                chunk = []
        self._fan_out(subs, chunk, last, at)

    def _fan_out(self, subs: list[Subscriber], events: list[StoredEvent], upto: int,
                 at: dict[str, Any]) -> None:
        """One frame per set of models subscribed to, encoded once for all its clients."""
        cursor = Cursor(upto, self.reorg)
        encoded = [event_json(e) for e in events]
        texts: dict[frozenset[str] | None, str] = {}
        for sub in subs:
            text = texts.get(sub.models)
            if text is None:
                models = sub.models
                mine = encoded if models is None else [
                    t for e, t in zip(events, encoded, strict=True) if e.model in models]
                text = texts[models] = events_frame(at, upto, mine)
            sub.push(text, cursor)

    async def _rolled_back(self, note: RolledBack) -> None:
        reorg = note.reorg
        self.reorg = max(self.reorg, reorg.id)
        subs = self._streaming()
        if not subs:
            return
        frames = await rollback_frames(self.source, reorg.id, self.position)
        cursor = Cursor(self.position, reorg.id)
        texts: dict[frozenset[str] | None, str] = {}
        for sub in subs:
            text = texts.get(sub.models)
            if text is None:
                text = texts[sub.models] = _dumps(frames(sub))
            sub.push(text, cursor)


async def rollback_frames(source: StateSource, reorg_id: int,
                          position: int) -> Callable[[Subscriber], dict[str, Any]]:
    """A builder of reorg ``reorg_id``'s rollback frame for each subscriber's models."""
    store = source.store
    reorg = next(r for r in await store.reorgs(limit=10_000) if r.id == reorg_id)
    by_model: list[tuple[str, int]] = [
        (e.model, e.position)
        async for e in store.iter_events(EventQuery(reorg_id=reorg_id))
    ]
    fork = BlockRecord(reorg.fork_height, reorg.fork_hash, "", 0) if reorg.fork_height >= 0 \
        else None
    at = At.of(View(fork, position, source.max_reorg_depth)).model_dump()
    reorg_json = ReorgOut.of(reorg).as_json()

    def frame(sub: Subscriber) -> dict[str, Any]:
        return {"type": "rollback", "at": at, "reorg": reorg_json,
                "positions": [p for m, p in by_model if sub.wants(m)]}

    return frame


class StreamSession:
    """One WebSocket connection: reads the client's requests, sends its frames."""

    def __init__(self, ws: WebSocket, hub: StreamHub, tokens: TokenCheck,
                 heartbeat: float) -> None:
        self.ws = ws
        self.hub = hub
        self.tokens = tokens
        self.heartbeat = heartbeat
        self.sub = Subscriber(hub.buffer)
        self.sent = Cursor(0, 0)
        self._subscribe_request: tuple[frozenset[str] | None, Cursor | None] | None = None
        self._mempool: mempool_stream.MempoolRequest | None = None  # see mempool_stream

    async def run(self) -> None:
        ws = self.ws
        await ws.accept()
        if not self.tokens.allows(_token(ws)):
            await ws.close(CLOSE_UNAUTHORIZED, "a valid token is required (?token=...)")
            return
        await self.hub.start()
        self.hub.add(self.sub)
        receiver = asyncio.create_task(self._receive())
        try:
            await self._send({"type": "hello", "at": self._at(),
                              "heartbeat_interval": self.heartbeat, "buffer": self.hub.buffer})
            await self._pump(receiver)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the client went away
        finally:
            self.hub.remove(self.sub)
            await mempool_stream.stop(self)
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiver

    def _at(self) -> dict[str, Any]:
        return At.of(self.hub.source.view()).model_dump()

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_text(_dumps(frame))

    async def _pump(self, receiver: asyncio.Task[None]) -> None:
        sub = self.sub
        while True:
            if receiver.done():
                return
            if sub.closing:
                await self._close(CLOSE_GOING_AWAY, "server shutting down")
                return
            if sub.overflowed:
                await self._close(CLOSE_TOO_SLOW, json.dumps(self.sent.as_json()))
                return
            if self._subscribe_request is not None:
                models, after = self._subscribe_request
                self._subscribe_request = None
                await self._replay(models, after)
                continue
            if sub.outbox:
                text, cursor = sub.outbox.popleft()
                await self.ws.send_text(text)
                if cursor is not None:
                    self.sent = cursor
                continue
            sub.wake.clear()
            try:
                await asyncio.wait_for(sub.wake.wait(), self.heartbeat)
            except TimeoutError:
                await self._send({"type": "heartbeat", "at": self._at()})

    async def _close(self, code: int, reason: str) -> None:
        """Close with ``code``; a client that reads nothing at all is given up on."""
        if self.ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await self.ws.close(code, reason)

    async def _replay(self, models: frozenset[str] | None, after: Cursor | None) -> None:
        """Send what the client missed up to the hub's cursor, then go live."""
        hub, sub = self.hub, self.sub
        upto = hub.cursor()
        sub.models = models
        sub.subscribed = True  # from here the hub queues every later notice for us
        if after is not None:
            store = hub.source.store
            reorgs = [r for r in await store.reorgs(limit=10_000)
                      if after.reorg < r.id <= upto.reorg]
            for reorg in sorted(reorgs, key=lambda r: r.id):
                frames = await rollback_frames(hub.source, reorg.id, upto.position)
                await self._send(frames(sub))
                self.sent = Cursor(self.sent.position, reorg.id)
            self.sent = Cursor(after.position, upto.reorg)
            single = next(iter(models)) if models is not None and len(models) == 1 else None
            query = EventQuery(model=single, from_position=after.position + 1,
                               to_position=upto.position)
            chunk: list[str] = []
            async for event in store.iter_events(query, FRAME_EVENTS):
                if sub.wants(event.model):
                    chunk.append(event_json(event))
                if len(chunk) == FRAME_EVENTS:
                    await self.ws.send_text(events_frame(self._at(), event.position, chunk))
                    self.sent = Cursor(event.position, upto.reorg)
                    chunk = []
            if chunk:
                await self.ws.send_text(events_frame(self._at(), upto.position, chunk))
        self.sent = upto
        await self._send({"type": "caught_up", "at": self._at(), "upto": upto.position,
                          "reorg": upto.reorg})
        if self._mempool is not None:
            await mempool_stream.start(self, self._mempool)

    async def _receive(self) -> None:
        try:
            async for text in self.ws.iter_text():
                await self._request(text)
        finally:
            self.sub.wake.set()

    async def _request(self, text: str) -> None:
        sub = self.sub
        try:
            message = json.loads(text)
        except ValueError:
            sub.push_frame(_error(None, "bad_message", "frames must be JSON objects"))
            return
        if not isinstance(message, dict):
            sub.push_frame(_error(None, "bad_message", "frames must be JSON objects"))
            return
        op = message.get("op")
        sub_id = message.get("id")
        try:
            if op == "subscribe":
                self._subscribe(message)
            elif op == "live":
                if not isinstance(sub_id, str) or not sub_id:
                    raise ApiError(400, "bad_message", "a live query needs a string 'id'")
                model, query = message.get("model"), message.get("query")
                if not isinstance(model, str) or not isinstance(query, str):
                    raise ApiError(400, "bad_message", "a live query needs 'model' and 'query'")
                await self.hub.start()
                await self.hub.live.add(sub.id, sub.push_frame, sub_id, model, query,
                                        message.get("params") or {})
            elif op == "unlive":
                if not self.hub.live.remove(sub.id, str(sub_id)):
                    raise ApiError(404, "unknown_live_query", f"no live query {sub_id!r}")
            else:
                raise ApiError(400, "bad_message",
                               f"unknown op {op!r} (expected subscribe, live or unlive)")
        except ApiError as exc:
            sub.push_frame(_error(sub_id if isinstance(sub_id, str) else None, exc.code,
                                  exc.message, exc.details))

    def _subscribe(self, message: dict[str, Any]) -> None:
        if self.sub.subscribed or self._subscribe_request is not None:
            raise ApiError(400, "bad_message", "already subscribed (one subscribe per stream)")
        models = message.get("models")
        if models is not None:
            if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
                raise ApiError(400, "bad_message", "'models' must be a list of names or null")
            for name in models:
                find_model(self.hub.source, name)
        after = message.get("after", "now")
        self._mempool = mempool_stream.parse_request(self.hub, message.get("mempool"))
        self._subscribe_request = (None if models is None else frozenset(models),
                                   _parse_after(after))
        self.sub.wake.set()


def _parse_after(after: Any) -> Cursor | None:
    if after == "now":
        return None
    if isinstance(after, int) and not isinstance(after, bool) and after >= 0:
        return Cursor(after, 0)
    if isinstance(after, dict):
        position, reorg = after.get("position"), after.get("reorg", 0)
        if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
               for v in (position, reorg)):
            return Cursor(position, reorg)  # type: ignore[arg-type]
    raise ApiError(400, "bad_message",
                   "'after' must be \"now\", a position, or {\"position\": P, \"reorg\": R}")


def _error(sub_id: str | None, code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"type": "error", "id": sub_id,
            "error": {"code": code, "message": message, "details": details}}


def _token(ws: WebSocket) -> str | None:
    token = ws.query_params.get("token")
    if token:
        return token
    scheme, _, value = ws.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None
