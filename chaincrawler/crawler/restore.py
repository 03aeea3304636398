"""Model state from the event store: the newest snapshot, then replay of the later events.

The one implementation used by the crawler (at start, after a reorg, after a model
failure), the demo and the tests, and by readers that follow a store: a reader restores
each model with :func:`restore_model`, then applies newly committed events with
:func:`replay_events` and restores again after a rollback.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass

import structlog

from chaincrawler.eventstore import BlockRecord, EventQuery, EventStore, StoredEvent
from chaincrawler.models import Model, ReplayError, StateError, Tip

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Restored:
    """How a model's state was rebuilt: from the snapshot at ``snapshot_height`` (None:
    from the defaults) plus ``replayed`` events after it."""

    snapshot_height: int | None
    replayed: int


async def restore_model(
    model: Model,
    store: EventStore,
    tip: BlockRecord | None,
    *,
    use_snapshot: bool = True,
) -> Restored:
    """Set ``model``'s state to its committed state at ``tip`` (a canonical block of the store).

    Loads the newest snapshot at or below ``tip`` (unless ``use_snapshot`` is False, or
    the snapshot no longer fits the model's state attributes: then all its events are
    replayed) and replays the model's active events after it up to ``tip``; ``model.tip``
    becomes ``tip``. With ``tip`` None (an empty store) the state is the defaults.
    If this raises, the state is undefined: restore again before using it.
    """
    model.reset()
    if tip is None:
        return Restored(None, 0)
    snapshot = await store.latest_snapshot(model.name, tip.height) if use_snapshot else None
    after: int | None = None
    if snapshot is not None:
        try:
            model.restore_state(snapshot.state)
            after = snapshot.block_height
        except StateError as exc:
            # The model's state attributes changed since: rebuild from its events.
            log.warning("snapshot unusable, replaying all events", model=model.name,
                        error=str(exc))
            model.reset()
    query = EventQuery(
        model=model.name,
        from_height=None if after is None else after + 1,
        to_height=tip.height,
    )
    replayed = await replay_events(model, store.iter_events(query), tip)
    return Restored(after, replayed)


async def replay_events(
    model: Model,
    events: Iterable[StoredEvent] | AsyncIterable[StoredEvent],
    tip: BlockRecord,
) -> int:
    """Replay ``model``'s stored events (in position order; other models' are skipped).

    The events must be exactly those after the point the state is at, up to ``tip``,
    which ``model.tip`` then becomes. Returns how many were replayed. Raises
    EventLoadError for an event the model cannot load and ReplayError for a handler
    that raises; the state is then undefined.
    """
    registry = model.event_registry()
    count = 0

    def apply(stored: StoredEvent) -> None:
        nonlocal count
        if stored.model != model.name:
            return
        event = registry.load(stored.event_type, stored.event_version, stored.payload,
                              model=model.name, position=stored.position)
        try:
            model.replay(event)
        except Exception as exc:
            raise ReplayError(model.name, stored.event_type, stored.position,
                              stored.block_height, exc) from exc
        count += 1

    if isinstance(events, AsyncIterable):
        async for stored in events:
            apply(stored)
    else:
        for stored in events:
            apply(stored)
    model.tip = Tip(tip.height, tip.hash)
    return count
