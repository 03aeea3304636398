"""Mempool events on the WebSocket stream (``/v1/stream``).

A client asks for them in its subscribe request::

    {"op": "subscribe", "models": [...] | null, "after": ...,
     "mempool": {"after": P | "now", "models": ["m"] | null}}

``mempool.after`` is the last mempool position the client has seen (mempool events have
positions of their own, unrelated to block events' positions and cursors). After the
block events' ``caught_up`` the server sends the stored mempool events above P
(``mempool_events`` frames: ``upto`` is the client's new mempool position, ``events``
as ``GET /v1/mempool/events`` lists them; ``at`` as in every frame), then
``mempool_caught_up``, then new ones as
they are stored, interleaved with block frames in the order they are queued. Mempool
events are never rolled back (a reorg's notice names block events only). Positions a
client never receives were pruned (older than the ``mempool.retention`` setting). New
events are found by reading the store's newest mempool position every
:data:`POLL_INTERVAL` seconds, once for all clients, while any client follows them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from chaincrawler.eventstore import MempoolEventQuery
from chaincrawler.transports.errors import ApiError
from chaincrawler.transports.live import find_model
from chaincrawler.transports.mempool_api import mempool_event_dict
from chaincrawler.transports.schemas import At
from chaincrawler.transports.source import StateSource

if TYPE_CHECKING:
    from chaincrawler.transports.stream import StreamHub, StreamSession, Subscriber

log = structlog.get_logger(__name__)

POLL_INTERVAL = 0.1
"""Seconds between two reads of the newest mempool position (while clients follow)."""

FRAME_EVENTS = 500
"""Most mempool events in one frame."""


@dataclass(frozen=True, slots=True)
class MempoolRequest:
    """What a client asked of the mempool log: from where, which models (None: all)."""

    after: int | None
    models: frozenset[str] | None

    def wants(self, model: str) -> bool:
        return self.models is None or model in self.models


def parse_request(hub: StreamHub, value: Any) -> MempoolRequest | None:
    """The subscribe request's ``mempool`` member (None: not asked); ApiError if bad."""
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict):
        raise ApiError(400, "bad_message", "'mempool' must be an object, true or absent")
    after = value.get("after", "now")
    if after != "now" and (not isinstance(after, int) or isinstance(after, bool) or after < 0):
        raise ApiError(400, "bad_message", "'mempool.after' must be \"now\" or a position")
    models = value.get("models")
    if models is not None:
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise ApiError(400, "bad_message", "'mempool.models' must be a list of names or null")
        for name in models:
            find_model(hub.source, name)
    return MempoolRequest(None if after == "now" else after,
                          None if models is None else frozenset(models))


class _MempoolHub:
    """Reads new mempool events once and queues them to every following client."""

    def __init__(self, source: StateSource) -> None:
        self.source = source
        self.store = source.store
        self.position = 0
        self.followers: dict[int, tuple[Subscriber, MempoolRequest]] = {}
        self._task: asyncio.Task[None] | None = None

    async def add(self, sub: Subscriber, request: MempoolRequest) -> int:
        """Follow for ``sub`` from now on; the position up to which it must replay."""
        if self._task is None:
            self.position = await self.store.max_mempool_position()
            self._task = asyncio.create_task(self._run(), name="chaincrawler-mempool-stream")
        self.followers[sub.id] = (sub, request)
        return self.position

    async def remove(self, sub: Subscriber) -> None:
        self.followers.pop(sub.id, None)
        if not self.followers and self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            try:
                newest = await self.store.max_mempool_position()
                while self.position < newest:
                    query = MempoolEventQuery(after=self.position, limit=FRAME_EVENTS)
                    events = [mempool_event_dict(e) for e in
                              await self.store.read_mempool_events(query)]
                    if not events:
                        break
                    self.position = events[-1]["position"]
                    for sub, request in list(self.followers.values()):
                        sub.push(_frame(self.source, self.position, [
                            e for e in events if request.wants(e["model"])]))
            except Exception:
                # A failing read must not end the stream: clients resume from their position.
                log.exception("mempool stream failed; closing its clients")
                for sub, _ in self.followers.values():
                    sub.closing = True
                    sub.wake.set()


_hubs: weakref.WeakKeyDictionary[StreamHub, _MempoolHub] = weakref.WeakKeyDictionary()


async def start(session: StreamSession, request: MempoolRequest) -> None:
    """Replay the stored mempool events the client missed, then follow new ones."""
    hub = _hubs.get(session.hub)
    if hub is None:
        hub = _hubs[session.hub] = _MempoolHub(session.hub.source)
    upto = await hub.add(session.sub, request)
    if request.after is not None:
        after = request.after
        single = next(iter(request.models)) if request.models and len(request.models) == 1 \
            else None
        while after < upto:
            batch = await hub.store.read_mempool_events(
                MempoolEventQuery(after=after, model=single, limit=FRAME_EVENTS))
            batch = [e for e in batch if e.position <= upto]
            if not batch:
                break
            after = batch[-1].position
            await session.ws.send_text(_frame(hub.source, after, [
                mempool_event_dict(e) for e in batch if request.wants(e.model)]))
    await session.ws.send_text(_dumps({"type": "mempool_caught_up", "at": _at(hub.source),
                                       "upto": upto}))


async def stop(session: StreamSession) -> None:
    """The client is gone: stop following for it."""
    hub = _hubs.get(session.hub)
    if hub is not None:
        await hub.remove(session.sub)


def _at(source: StateSource) -> dict[str, Any]:
    return At.of(source.view()).model_dump()


def _frame(source: StateSource, upto: int, events: list[dict[str, Any]]) -> str:
    return _dumps({"type": "mempool_events", "at": _at(source), "upto": upto,
                   "events": events})


def _dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))
