"""Re-index some models of a store while the other models' data stays.

Two ways, by what changed in the model's code (``Model.version`` says that it changed):

- from its stored events (only handlers changed): the state is rebuilt from scratch by
  replaying the model's active events, a snapshot of it at the store's tip replaces the
  model's older snapshots, and the new version is recorded. No node is needed.
- from the node (``process_block`` changed, or the store has no history of the model):
  the model's events, snapshots and collections are removed (``EventStore.clear_model``:
  its events are replaced), then the stored chain's blocks, from its lowest to its tip,
  are fetched again and run through that model only; its events are committed to the
  blocks already stored (``commit_reindexed``), no block is added. A fetched block whose
  hash is not the stored one (the node's chain changed) stops it with ReindexError.
  A model with stored collections is re-indexed this way only: its collection writes
  are committed with its events (undo records kept for the reorg window), and its plain
  attributes snapshotted at every block of the window, as the crawler does.

While a re-index from the node is unfinished the store records the model's version as
``registry.UNFINISHED``: the next crawl with the model re-indexes it again before it joins.
The crawler does the same for a model new to the store, or left out of a run since.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from chaincrawler.chain.networks import Network
from chaincrawler.crawler.errors import ModelFailedError, ReindexError
from chaincrawler.crawler.prevouts import PrevoutResolver
from chaincrawler.crawler.registry import UNFINISHED, mark_reindexed
from chaincrawler.crawler.restore import restore_model
from chaincrawler.crawler.source import BlockSource, FetchedBlock
from chaincrawler.eventstore import (
    BlockRecord,
    CollectionWrite,
    EventStore,
    PendingEvent,
    PendingSnapshot,
    Retention,
)
from chaincrawler.models import ChainModel, Model
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


async def reindex_from_events(store: EventStore, models: Sequence[Model]) -> list[Reindexed]:
    """Rebuild ``models`` from their stored events and snapshot them at the store's tip.

    If a replay raises (an event the new code cannot load, a handler bug) nothing of
    that model is written and its recorded version stays.
    """
    _refuse_chain_model(models)
    stored = [m.name for m in models if m.has_stored_collections()]
    if stored:
        raise ReindexError(
            f"model(s) {', '.join(stored)} keep stored collections, which replaying events "
            "cannot rebuild (a handler reads only keys process_block prefetched); re-index "
            "from the node: `chaincrawler rebuild --model NAME --from-node`"
        )
    tip = await store.tip()
    done: list[Reindexed] = []
    for model in models:
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
