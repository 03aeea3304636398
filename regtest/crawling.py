"""Helpers of the crawler tests: crawl a node into a store, compare with a fresh crawl."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chaincrawler.chain.networks import REGTEST
from chaincrawler.crawler.node import NodeClient, RetryPolicy
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
from chaincrawler.eventstore import EventQuery, EventStore, open_store
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.models import Model
from regtest.nodes import NodeHandle

# The chain model's reorg history is what the crawler lived through, not a function of
# the final chain: it is left out when comparing with a fresh crawl.
HISTORY_EVENTS = {"ChainReorganized"}
HISTORY_STATE = {"reorg_history"}


def client(node: NodeHandle, attempts: int = 3) -> NodeClient:
    return NodeClient(node.url_with_auth, rest=True,
                      retry=RetryPolicy(attempts=attempts, initial_delay=0.05, max_delay=0.5))


async def open_regtest_store(path: Path, *, writer: bool = True) -> EventStore:
    store = open_store(f"sqlite:///{path}")
    await store.open(network="regtest", genesis_hash=REGTEST.genesis_hash, writer=writer)
    return store


async def crawl(
    node: NodeHandle,
    store_path: Path,
    models: Sequence[Model] | None = None,
    **options: Any,
) -> Crawler:
    """Crawl ``node`` to its tip into the SQLite store at ``store_path``."""
    async with client(node) as rpc:
        store = await open_regtest_store(store_path)
        try:
            crawler = Crawler(rpc, store, list(models or [AddressBalances()]), REGTEST,
                              CrawlerOptions(**{"poll_interval": 0.05, **options}))
            await crawler.run(follow=False)
            return crawler
        finally:
            await store.close()


def comparable_state(model: Model) -> dict[str, Any]:
    state = json.loads(model.snapshot_state())
    if model.name == "chain":
        state = {k: v for k, v in state.items() if k not in HISTORY_STATE}
    return state


async def active_log(store_path: Path) -> list[tuple[Any, ...]]:
    """The active events as (model, version, type, payload, height, hash), in order."""
    store = await open_regtest_store(store_path, writer=False)
    try:
        events = await store.read_events(EventQuery())
    finally:
        await store.close()
    rows = []
    for e in events:
        if e.event_type in HISTORY_EVENTS:
            continue
        version = None if e.model == "chain" else e.version
        rows.append((e.model, version, e.event_type, json.loads(e.payload), e.block_height,
                     e.block_hash))
    return rows


async def assert_matches_fresh_crawl(
    node: NodeHandle, store_path: Path, models: Sequence[Model], tmp: Path, **options: Any
) -> None:
    """The invariant: state and active log equal those of a fresh crawl of the final chain."""
    fresh_models = [type(m)() for m in models]
    fresh_path = tmp / f"fresh-{store_path.name}"
    fresh_path.unlink(missing_ok=True)
    fresh = await crawl(node, fresh_path, fresh_models, **options)
    by_name = {m.name: m for m in fresh.models}
    for model in models:
        assert comparable_state(model) == comparable_state(by_name[model.name]), model.name
    assert await active_log(store_path) == await active_log(fresh_path)
