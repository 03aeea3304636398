"""Re-index some models of a store while the other models' data stays.

Two ways, by what changed in the model's code (``Model.version`` says that it changed):

- from its stored events (only handlers changed): the state is rebuilt from scratch by
  replaying the model's active events, a snapshot of it at the store's tip replaces the
  model's older snapshots, and the new version is recorded. No node is needed.
  A model with stored collections is replayed block by block, streaming its events:
  per block ``Model.prefetch_events`` loads the keys the block's handlers read, then
  they run, and the block's collection writes are committed in batches of
  ``catchup_batch_blocks`` blocks, the reorg window's writes kept as window rows, and its
  plain attributes snapshotted at every block of the window, as the crawler does. The
  writes go to collections staged under another name (``<model>.rebuild``, no model's
  name), which replace the model's collections, snapshots and version in one
  transaction at the end (``EventStore.adopt_collections``): until then, whatever
  fails or is killed, the model's data and recorded version stay as they were.
- from the node (``process_block`` changed, or the store has no history of the model):
  the model's events, snapshots and collections are removed (``EventStore.clear_model``:
  its events are replaced), then the stored chain's blocks, from its lowest to its tip,
  are fetched again and run through that model only; its events are committed to the
  blocks already stored (``commit_reindexed``), no block is added. A fetched block whose
  hash is not the stored one (the node's chain changed) stops it with ReindexError.
  A model with stored collections has its collection writes committed with its events
  (the reorg window's writes kept as window rows), and its plain attributes snapshotted at
  every block of the window, as the crawler does.

While a re-index from the node is unfinished the store records the model's version as
``registry.UNFINISHED``: the next crawl with the model re-indexes it again before it joins.
The crawler does the same for a model new to the store, or left out of a run since.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from chaincrawler.chain.networks import Network
from chaincrawler.crawler.errors import ModelFailedError, ReindexError
from chaincrawler.crawler.prevouts import PrevoutResolver
from chaincrawler.crawler.registry import UNFINISHED, mark_reindexed
from chaincrawler.crawler.restore import apply_event, load_event, restore_model
from chaincrawler.crawler.source import BlockSource, FetchedBlock
from chaincrawler.eventstore import (
    AtTip,
    BlockRecord,
    CollectionWrite,
    EventQuery,
    EventStore,
    PendingEvent,
    PendingSnapshot,
    Retention,
    StoredEvent,
)
from chaincrawler.models import ChainModel, Model, ReplayError, StoredKeyNotLoadedError, Tip
from chaincrawler.node.client import NodeClient

if TYPE_CHECKING:
    from chaincrawler.crawler.pipeline import CrawlerOptions

log = structlog.get_logger(__name__)

@dataclass(frozen=True, slots=True)
class Reindexed:
    """One model re-indexed: its active ``events`` now, and the ``tip`` its state is at."""

    model: str
    events: int
    tip: BlockRecord | None


async def reindex_from_events(
    store: EventStore, models: Sequence[Model], options: CrawlerOptions
) -> list[Reindexed]:
    """Rebuild ``models`` from their stored events and snapshot them at the store's tip
    (a model with stored collections: see the module).

    If a replay raises (an event the new code cannot load, a handler bug, a handler
    reading a stored key ``prefetch_events`` did not load: ReindexError) nothing of
    that model is written and its recorded version stays.
    """
    _refuse_chain_model(models)
    tip = await store.tip()
    done: list[Reindexed] = []
    for model in models:
        if model.has_stored_collections():
            done.append(await _replay_stored(store, model, tip, options))
            continue
        restored = await restore_model(model, store, tip, use_snapshot=False)
        snapshots = [] if tip is None else [
            PendingSnapshot(model.name, tip.height, tip.hash, model.snapshot_state())
        ]
        await store.commit_reindexed([], snapshots)
        await store.set_model_versions({model.name: model.version})
        log.info("model re-indexed from its events", model=model.name,
                 events=restored.replayed, tip=None if tip is None else tip.height)
        done.append(Reindexed(model.name, restored.replayed, tip))
    return done


class _Staged:
    """Reads a model's collections where its rebuild stages them (another model name)."""

    def __init__(self, store: EventStore, staged: str) -> None:
        self._store = store
        self._staged = staged

    async def get_many(self, model: str, collection: str, keys: Sequence[str], *,
                       at_height: int | None = None) -> AtTip[dict[str, str]]:
        return await self._store.get_many(self._staged, collection, keys, at_height=at_height)


async def _replay_stored(
    store: EventStore, model: Model, tip: BlockRecord | None, options: CrawlerOptions
) -> Reindexed:
    """Rebuild a model with stored collections from its events into staged collections,
    then let them replace the model's (see the module)."""
    staged = f"{model.name}.rebuild"
    await store.clear_collections(staged)  # what an interrupted rebuild left
    model.reset()
    collections = model.stored_collections().values()
    for collection in collections:
        collection.attach(_Staged(store, staged), options.collection_cache_entries)
    try:
        count, window = (0, []) if tip is None else await _replay_blocks(
            store, model, staged, tip, options)
        await store.adopt_collections(model.name, staged, window, model.version)
    except Exception:
        with contextlib.suppress(Exception):  # else the next rebuild clears them first
            await store.clear_collections(staged)
        raise
    finally:
        for collection in collections:
            collection.discard()
            collection.attach(store, options.collection_cache_entries)
    log.info("model re-indexed from its events", model=model.name, events=count,
             tip=None if tip is None else tip.height)
    return Reindexed(model.name, count, tip)


async def _replay_blocks(
    store: EventStore, model: Model, staged: str, tip: BlockRecord, options: CrawlerOptions
) -> tuple[int, list[PendingSnapshot]]:
    """Replay ``model``'s active events up to ``tip`` block by block, committing the
    collection writes (under ``staged``) in batches; the event count and the snapshots
    of the plain attributes at the blocks of the reorg window."""
    retention = Retention(options.max_reorg_depth, options.snapshots_kept)
    lowest_kept = tip.height - options.max_reorg_depth
    window_blocks = [b for h in range(max(lowest_kept, 0), tip.height + 1)
                     if (b := await store.canonical_block(h)) is not None]
    window: list[PendingSnapshot] = []
    writes: list[CollectionWrite] = []
    blocks_in_batch = 0
    count = 0

    def snapshot_window_below(height: int) -> None:
        """Snapshot the window's blocks below ``height`` not snapshotted yet."""
        while window_blocks and window_blocks[0].height < height:
            block = window_blocks.pop(0)
            model.tip = Tip(block.height, block.hash)
            window.append(PendingSnapshot(model.name, block.height, block.hash,
                                          model.snapshot_state()))

    async def commit() -> None:
        await store.commit_reindexed([], [], writes, retention=retention)
        for collection in model.stored_collections().values():
            collection.committed()

    events = store.iter_events(EventQuery(model=model.name, to_height=tip.height))
    async for block_events in _by_block(events):
        height, block_hash = block_events[0].block_height, block_events[0].block_hash
        snapshot_window_below(height)
        await _replay_block(model, block_events)
        count += len(block_events)
        model.tip = Tip(height, block_hash)
        writes.extend(CollectionWrite(staged, collection, key, value, height, block_hash)
                      for collection, key, value in model.take_block_writes())
        blocks_in_batch += 1
        if blocks_in_batch >= options.catchup_batch_blocks:
            await commit()
            writes, blocks_in_batch = [], 0
    await commit()
    snapshot_window_below(tip.height + 1)
    return count, window


async def _by_block(events: AsyncIterator[StoredEvent]) -> AsyncIterator[list[StoredEvent]]:
    """``events`` (in position order) grouped by the block they belong to."""
    block: list[StoredEvent] = []
    async for event in events:
        if block and event.block_height != block[0].block_height:
            yield block
            block = []
        block.append(event)
    if block:
        yield block


async def _replay_block(model: Model, stored: list[StoredEvent]) -> None:
    """Load one block's events, let ``prefetch_events`` load what their handlers read,
    then run the handlers."""
    events = [load_event(model, e) for e in stored]
    await model.prefetch_events(events)
    for record, event in zip(stored, events, strict=True):
        try:
            apply_event(model, record, event)
        except ReplayError as replay_error:
            exc = replay_error.__cause__
            if not isinstance(exc, StoredKeyNotLoadedError):
                raise
            hook = ("does not implement it" if type(model).prefetch_events is
                    Model.prefetch_events else "did not load that key")
            raise ReindexError(
                f"model {model.name!r} cannot be rebuilt from its events: replaying event "
                f"{record.event_type!r} at position {record.position} (block "
                f"{record.block_height}) read a key its prefetch_events did not load ({exc}). "
                "A rebuild from events calls the model's `async def prefetch_events(self, "
                f"events)` before each block's handlers, and {model.name!r} {hook}: make it "
                "prefetch the keys the handlers read. Nothing of the model was written (its "
                "recorded version stays); or re-index it from the node (--from-node)"
            ) from exc


async def reindex_from_node(
    node: NodeClient,
    store: EventStore,
    models: Sequence[Model],
    network: Network,
    options: CrawlerOptions,
) -> list[Reindexed]:
    """Replace the events of ``models`` by re-processing the stored chain's blocks.

    The store must not move meanwhile (the caller holds the writer). Raises ReindexError
    when the node's chain no longer has the stored blocks, ModelFailedError when a
    model raises on a block; the models then stay marked unfinished.
    """
    _refuse_chain_model(models)
    if not models:
        return []
    tip = await store.tip()
    names = [m.name for m in models]
    await store.set_model_versions(dict.fromkeys(names, UNFINISHED))
    for name in names:
        await store.clear_model(name)
    for model in models:
        model.reset()
        for collection in model.stored_collections().values():
            collection.attach(store, options.collection_cache_entries)
    if tip is None:
        await mark_reindexed(store, models)
        return [Reindexed(m.name, 0, None) for m in models]
    start = await _lowest_stored_height(store, options.start_height, tip)
    log.info("re-indexing models from the node", models=names, from_height=start,
             to_height=tip.height)
    counts, window = await _process(node, store, models, network, options, start, tip)
    await store.commit_reindexed([], window + [
        PendingSnapshot(m.name, tip.height, tip.hash, m.snapshot_state())
        for m in models if not m.has_stored_collections()
    ])
    await mark_reindexed(store, models)
    log.info("models re-indexed from the node", models=names, events=counts, tip=tip.height)
    return [Reindexed(m.name, counts[m.name], tip) for m in models]


async def _process(
    node: NodeClient,
    store: EventStore,
    models: Sequence[Model],
    network: Network,
    options: CrawlerOptions,
    start: int,
    tip: BlockRecord,
) -> tuple[dict[str, int], list[PendingSnapshot]]:
    """Run ``models`` on the blocks ``start..tip`` and commit their events and collection
    writes in batches; the event counts, and the snapshots of models with stored
    collections at the blocks of the reorg window (the crawler's, for restoring them)."""
    retention = Retention(options.max_reorg_depth, options.snapshots_kept)
    lowest_kept = tip.height - options.max_reorg_depth
    resolver = (PrevoutResolver(node, options.prevout_cache_entries)
                if any(m.needs_prevouts for m in models) else None)
    source = BlockSource(node, network, chunk_blocks=options.fetch_chunk_blocks,
                         concurrency=options.fetch_concurrency, max_bytes=options.prefetch_bytes,
                         spent_outputs=resolver is not None,
                         derive_in_worker=options.address_worker)
    counts = {m.name: 0 for m in models}
    batch: list[PendingEvent] = []
    writes: list[CollectionWrite] = []
    window: list[PendingSnapshot] = []
    blocks_in_batch = 0

    async def commit() -> None:
        await store.commit_reindexed(batch, [], writes, retention=retention)
        for model in models:
            for collection in model.stored_collections().values():
                collection.committed()

    async for fetched in source.blocks(start, tip.height):
        await _check_stored(store, fetched)
        if resolver is not None:
            await resolver.resolve(fetched.block, fetched.spent)
        for model in models:
            events = await _run(model, fetched)
            counts[model.name] += len(events)
            batch.extend(events)
            if model.has_stored_collections():
                writes.extend(
                    CollectionWrite(model.name, collection, key, value, fetched.height,
                                    fetched.hash)
                    for collection, key, value in model.take_block_writes()
                )
                if fetched.height >= lowest_kept:
                    window.append(PendingSnapshot(model.name, fetched.height, fetched.hash,
                                                  model.snapshot_state()))
        blocks_in_batch += 1
        if blocks_in_batch >= options.catchup_batch_blocks:
            await commit()
            batch, writes, blocks_in_batch = [], [], 0
    await commit()
    return counts, window


async def _run(model: Model, fetched: FetchedBlock) -> list[PendingEvent]:
    try:
        events = await model.run_block(fetched.block)
    except Exception as exc:
        trace = "".join(traceback.format_exception(exc))
        raise ModelFailedError(model.name, fetched.height, fetched.hash, trace) from exc
    return [PendingEvent(model.name, e.event_type, e.event_version, e.to_json(),
                         fetched.height, fetched.hash) for e in events]


async def _check_stored(store: EventStore, fetched: FetchedBlock) -> None:
    stored = await store.canonical_block(fetched.height)
    if stored is None or stored.hash != fetched.hash:
        raise ReindexError(
            f"the node's block at height {fetched.height} is {fetched.hash}, but the store's "
            f"is {None if stored is None else stored.hash}: the node's chain changed (a reorg) "
            "since the store was crawled. The models being re-indexed stay unfinished: let "
            "the store follow the node first (`chaincrawler run` without them), then run "
            "with them again (or `chaincrawler rebuild --model NAME --from-node`)"
        )


async def _lowest_stored_height(store: EventStore, start_height: int, tip: BlockRecord) -> int:
    """Where the stored chain starts: the crawler's start height, or genesis."""
    for height in dict.fromkeys((start_height, 0)):
        if height > tip.height or await store.canonical_block(height) is None:
            continue
        if height == 0 or await store.canonical_block(height - 1) is None:
            return height
    raise ReindexError(
        f"the stored chain does not start at the start height {start_height}: set "
        "crawler.start_height to the height the store was first crawled from"
    )


def _refuse_chain_model(models: Sequence[Model]) -> None:
    """Refuse the model a re-index cannot rebuild: the chain model."""
    if any(isinstance(m, ChainModel) for m in models):
        raise ReindexError(
            "the built-in chain model is not re-indexed alone: it records the store's "
            "reorgs; rebuild the whole store (`chaincrawler rebuild` without --model)"
        )
