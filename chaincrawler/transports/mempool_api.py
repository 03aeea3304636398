"""HTTP listing of stored mempool events: ``GET /v1/mempool/events``.

Mempool events have positions of their own (see ``chaincrawler.eventstore.mempool``):
page with ``after`` (the last position seen; the response's ``next_after``). Positions
missing from a page were pruned (older than the ``mempool.retention`` setting).
Mounted by ``create_app`` under ``/v1`` with the API's authentication.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Query

from chaincrawler.eventstore import MempoolEventQuery, StoredMempoolEvent
from chaincrawler.transports.live import find_model
from chaincrawler.transports.schemas import At
from chaincrawler.transports.source import StateSource

MAX_PAGE = 1000
"""Most mempool events one page may hold."""
MAX_POSITION = 2**63 - 1
"""The largest position a store can hold (BIGINT)."""


class MempoolEventOut(pydantic.BaseModel):
    """A stored mempool event. ``block_height``/``block_hash`` are set on the events
    committed with a block (a confirmation)."""

    position: int
    model: str
    event_type: str
    event_version: int
    payload: Any
    txid: str | None
    block_height: int | None
    block_hash: str | None
    created_at: str


class MempoolEventsPage(pydantic.BaseModel):
    """Mempool events above ``after`` in position order; ``next_after`` pages on (None at
    the end), ``last_position`` is the newest stored."""

    at: At
    events: list[MempoolEventOut]
    next_after: int | None
    last_position: int


def mempool_event_dict(e: StoredMempoolEvent) -> dict[str, Any]:
    """``MempoolEventOut`` as a plain dict (the stream skips pydantic)."""
    return {
        "position": e.position, "model": e.model, "event_type": e.event_type,
        "event_version": e.event_version, "payload": json.loads(e.payload), "txid": e.txid,
        "block_height": e.block_height, "block_hash": e.block_hash,
        "created_at": e.created_at.isoformat(),
    }


def mempool_router(source: StateSource) -> APIRouter:
    """The routes listing ``source``'s stored mempool events."""
    router = APIRouter(tags=["mempool"])

    @router.get("/mempool/events", response_model=MempoolEventsPage)
    async def mempool_events(
        after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
        model: str | None = None,
        txid: Annotated[str | None, Query(pattern="^[0-9a-f]{64}$")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    ) -> MempoolEventsPage:
        """Stored mempool events above position ``after`` (of one ``model``, about one
        ``txid``), in position order."""
        if model is not None:
            find_model(source, model)
        store = source.store
        last = await store.max_mempool_position()
        query = MempoolEventQuery(after=after, model=model, txid=txid, limit=limit + 1)
        events = await store.read_mempool_events(query)
        more = len(events) > limit
        events = events[:limit]
        return MempoolEventsPage(
            at=At.of(source.view()),
            events=[MempoolEventOut(**mempool_event_dict(e)) for e in events],
            next_after=events[-1].position if more and events else None,
            last_position=max(last, events[-1].position if events else 0),
        )

    return router
