"""The JSON shapes the HTTP API and the stream send (pydantic models: the OpenAPI schema)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pydantic

from chaincrawler.eventstore import BlockRecord, Reorg, StoredEvent
from chaincrawler.transports.source import View


class Tip(pydantic.BaseModel):
    """A committed block: the tip a response reflects."""

    height: int
    hash: str

    @classmethod
    def of(cls, block: BlockRecord | None) -> Tip | None:
        return None if block is None else cls(height=block.height, hash=block.hash)


class At(pydantic.BaseModel):
    """The committed state a response reflects: tip, last position, finalized height.

    Events at or below ``finalized_height`` will not be rolled back by this crawler.
    """

    tip: Tip | None
    position: int
    finalized_height: int | None

    @classmethod
    def of(cls, view: View) -> At:
        return cls(tip=Tip.of(view.tip), position=view.position,
                   finalized_height=view.finalized_height)


class ErrorInfo(pydantic.BaseModel):
    """What went wrong: a stable ``code``, a sentence, and details (e.g. the bad fields)."""

    code: str
    message: str
    details: Any = None


class ErrorBody(pydantic.BaseModel):
    """The one error shape of every 4xx and 5xx response."""

    error: ErrorInfo


class EventOut(pydantic.BaseModel):
    """A stored event; ``payload`` is the event's JSON."""

    position: int
    model: str
    version: int
    event_type: str
    event_version: int
    payload: Any
    block_height: int
    block_hash: str
    status: str
    reorg_id: int | None

    @classmethod
    def of(cls, e: StoredEvent) -> EventOut:
        return cls(
            position=e.position, model=e.model, version=e.version, event_type=e.event_type,
            event_version=e.event_version, payload=json.loads(e.payload),
            block_height=e.block_height, block_hash=e.block_hash, status=str(e.status),
            reorg_id=e.reorg_id,
        )


class EventsPage(pydantic.BaseModel):
    """A page of events in position order; pass ``next_cursor`` back for the next page."""

    at: At
    events: list[EventOut]
    next_cursor: str | None


class BlockOut(pydantic.BaseModel):
    """A block of the chain window, or an orphaned one (with the reorg that orphaned it)."""

    height: int
    hash: str
    prev_hash: str
    time: int
    status: str
    reorg_id: int | None

    @classmethod
    def of(cls, b: BlockRecord) -> BlockOut:
        return cls(height=b.height, hash=b.hash, prev_hash=b.prev_hash, time=b.time,
                   status=str(b.status), reorg_id=b.reorg_id)


class ReorgOut(pydantic.BaseModel):
    """A reorg: the blocks above ``fork_height`` up to the old tip were rolled back."""

    id: int
    fork_height: int
    fork_hash: str
    old_tip_height: int
    old_tip_hash: str
    new_tip_hash: str | None
    depth: int
    rolled_back_events: int
    created_at: datetime

    @classmethod
    def of(cls, r: Reorg) -> ReorgOut:
        return cls(id=r.id, fork_height=r.fork_height, fork_hash=r.fork_hash,
                   old_tip_height=r.old_tip_height, old_tip_hash=r.old_tip_hash,
                   new_tip_hash=r.new_tip_hash, depth=r.depth,
                   rolled_back_events=r.rolled_back_events, created_at=r.created_at)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class ChainOut(pydantic.BaseModel):
    """The chain as stored: tip, the window of recent blocks, the recent reorgs."""

    at: At
    tip: BlockOut | None
    window: list[BlockOut]
    reorgs: list[ReorgOut]


class ReorgsOut(pydantic.BaseModel):
    """The most recent reorgs, newest first."""

    at: At
    reorgs: list[ReorgOut]


class ReorgDetail(pydantic.BaseModel):
    """One reorg and the blocks it orphaned (its events: ``/v1/events?reorg_id=``)."""

    at: At
    reorg: ReorgOut
    orphaned_blocks: list[BlockOut]


class QueryInfo(pydantic.BaseModel):
    """A model's ``@query``: its parameters' and result's JSON schemas."""

    name: str
    description: str
    params_schema: dict[str, Any]
    result_schema: dict[str, Any] | None


class ModelInfo(pydantic.BaseModel):
    """A model served: its active event count and its queries."""

    name: str
    events: int
    queries: list[QueryInfo]


class ModelsOut(pydantic.BaseModel):
    """Every model served."""

    at: At
    models: list[ModelInfo]


class StateOut(pydantic.BaseModel):
    """A model's plain state attributes at ``block``: the committed tip, or the block at
    the height asked for (``at`` is the committed tip when answered)."""

    at: At
    block: Tip | None
    model: str
    state: dict[str, Any]


class QueryResult(pydantic.BaseModel):
    """A query's result at ``block``: the committed tip, or the block at the height asked
    for (``at`` is the committed tip when answered)."""

    at: At
    block: Tip | None
    model: str
    query: str
    result: Any


class Health(pydantic.BaseModel):
    """The process is alive."""

    status: str


class Ready(pydantic.BaseModel):
    """Whether the store is open and how far the committed tip is behind what it follows."""

    at: At
    ready: bool
    store_open: bool
    following: str
    upstream_height: int | None
    lag: int | None


class ModelCount(pydantic.BaseModel):
    """A model and its active event count."""

    name: str
    events: int


class StatusOut(pydantic.BaseModel):
    """What the dashboard shows: tip and lag, models with event counts, recent reorgs."""

    at: At
    following: str
    upstream_height: int | None
    lag: int | None
    models: list[ModelCount]
    reorgs: list[ReorgOut]
    stream_clients: int
