"""Model state from the event store: the newest snapshot, then replay of the later events.

The one implementation used by the crawler (at start, after a reorg, after a model
failure), the demo and the tests, and by readers that follow a store: a reader restores
each model with :func:`restore_model`, then applies newly committed events with
:func:`replay_events` and restores again after a rollback.

A model with stored collections is never replayed: its collections are in the store at
every committed block (a rollback drops the window rows of the orphaned blocks), and replaying would
apply their writes twice. The crawler snapshots its plain attributes with every block,
so its state at a committed block is that block's snapshot alone.

:func:`state_at` builds a model's state at a past block of the reorg window on a side
copy (the live model is never touched): snapshot plus replay for plain attributes, and
stored collections read at that height through the store's window rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from dataclasses import dataclass

import structlog

from chaincrawler.eventstore import AtTip, BlockRecord, EventQuery, EventStore, StoredEvent
from chaincrawler.models import Event, Model, ReplayError, StateError, Tip

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
    in_thread: bool = False,
) -> Restored:
    """Set ``model``'s state to its committed state at ``tip`` (a canonical block of the store).

    Restores the snapshot the model keeps in memory if its block is canonical and at or
    below ``tip`` (the crawler's own last snapshot, after a reorg that did not orphan it);
    otherwise loads the newest snapshot at or below ``tip`` (unless ``use_snapshot`` is False, or
    the snapshot no longer fits the model's state attributes: then all its events are
    replayed) and replays the model's active events after it up to ``tip``; ``model.tip``
    becomes ``tip``. With ``tip`` None (an empty store) the state is the defaults.
    With ``in_thread`` the snapshot is decoded and the events replayed in a worker
    thread, so the event loop keeps serving meanwhile: only for a model nothing else
    reads until this returns (a side copy). If this raises, the state is undefined:
    restore again before using it.
    """
    model.reset()
    if tip is None:
        return Restored(None, 0)
    if model.has_stored_collections():
        return await _restore_stored(model, store, tip, use_snapshot)
    after: int | None = None
    snapshot = None
    kept = await _canonical_kept(model, store, tip) if use_snapshot else None
    if kept is not None:
        model.restore_kept()  # the crawler's own last snapshot: no read, no decode
        after = kept.height
    elif use_snapshot:
        snapshot = await store.latest_snapshot(model.name, tip.height)
    if snapshot is not None:
        try:
            if in_thread:
                await asyncio.to_thread(model.restore_state, snapshot.state)
            else:
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
    if in_thread:
        events = await store.read_events(query)
        replayed = await asyncio.to_thread(_replay_all, model, events, tip)
    else:
        replayed = await replay_events(model, store.iter_events(query), tip)
    return Restored(after, replayed)


async def _canonical_kept(model: Model, store: EventStore, tip: BlockRecord) -> Tip | None:
    """The block of the snapshot ``model`` keeps in memory if canonical and up to ``tip``."""
    kept = model.kept_snapshot()
    if kept is None or kept.height > tip.height:
        return None
    block = tip if kept.height == tip.height else await store.canonical_block(kept.height)
    return kept if block is not None and block.hash == kept.hash else None


async def _restore_stored(
    model: Model, store: EventStore, tip: BlockRecord, use_snapshot: bool
) -> Restored:
    """A model with stored collections: its plain attributes from the snapshot at ``tip``."""
    way_out = (f"rebuild model {model.name!r} into a fresh store (its stored collections "
               "cannot be rebuilt by replaying events over them)")
    if not use_snapshot:
        raise StateError(f"model {model.name!r} keeps stored collections and is never "
                         f"replayed; {way_out}")
    snapshot = await store.latest_snapshot(model.name, tip.height)
    if snapshot is None or snapshot.block_height != tip.height:
        found = "none" if snapshot is None else f"the newest is at {snapshot.block_height}"
        raise StateError(
            f"model {model.name!r} keeps stored collections, so its state at height "
            f"{tip.height} needs its snapshot at that height, which the store lacks "
            f"({found}); {way_out}"
        )
    model.restore_state(snapshot.state)
    model.tip = Tip(tip.height, tip.hash)
    return Restored(tip.height, 0)


class ReadAt:
    """A stored collections' reader answering every read at one height (``height()``,
    asked at each read) from the store's settled values and window rows."""

    def __init__(self, store: EventStore, height: Callable[[], int]) -> None:
        self._store = store
        self._height = height

    async def get_many(self, model: str, collection: str, keys: Sequence[str], *,
                       at_height: int | None = None) -> AtTip[dict[str, str]]:
        return await self._store.get_many(model, collection, keys, at_height=self._height())


async def state_at(model: Model, store: EventStore, block: BlockRecord) -> Model:
    """A side copy of ``model`` holding its committed state at ``block`` (a canonical block
    the store still has history for); the live ``model`` is not touched.

    Plain attributes: the newest snapshot at or below the block plus replay; stored
    collections read at the block's height (``fetch``) through the window rows, and
    their plain attributes from the block's snapshot. Raises as ``restore_model``.
    """
    side = model.side_copy()
    for collection in side.stored_collections().values():
        collection.attach(ReadAt(store, lambda: block.height), 0)
    await restore_model(side, store, block, in_thread=True)
    return side


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
    if not isinstance(events, AsyncIterable):
        return _replay_all(model, events, tip)
    count = 0
    async for stored in events:
        count += _replay_one(model, stored)
    model.tip = Tip(tip.height, tip.hash)
    return count


def _replay_all(model: Model, events: Iterable[StoredEvent], tip: BlockRecord) -> int:
    count = sum(_replay_one(model, stored) for stored in events)
    model.tip = Tip(tip.height, tip.hash)
    return count


def _replay_one(model: Model, stored: StoredEvent) -> int:
    """Replay one stored event if it is ``model``'s: 1 if it was, else 0."""
    if stored.model != model.name:
        return 0
    apply_event(model, stored, load_event(model, stored))
    return 1


def load_event(model: Model, stored: StoredEvent) -> Event:
    """``model``'s event from its stored form (EventLoadError if it cannot load it)."""
    return model.event_registry().load(stored.event_type, stored.event_version,
                                       stored.payload, model=model.name,
                                       position=stored.position)


def apply_event(model: Model, stored: StoredEvent, event: Event) -> None:
    """Run ``model``'s handler of ``event`` (loaded from ``stored``); a handler that
    raises is a ReplayError naming the event, its cause the handler's exception."""
    try:
        model.replay(event)
    except Exception as exc:
        raise ReplayError(model.name, stored.event_type, stored.position,
                          stored.block_height, exc) from exc
