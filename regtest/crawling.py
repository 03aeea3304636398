"""Helpers of the crawler tests: crawl a node into a store, compare with a fresh crawl."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaincrawler.chain.networks import REGTEST
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
from chaincrawler.eventstore import EventQuery, EventStore, open_store
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.models import Model
from chaincrawler.node.client import NodeClient, RetryPolicy
from chaincrawler.testing.chaingen import ChainGenerator
from chaincrawler.testing.nodeproc import NodeHandle

# The chain model's reorg history is what the crawler lived through, not a function of
# the final chain: it is left out when comparing with a fresh crawl.
HISTORY_EVENTS = {"ChainReorganized"}
HISTORY_STATE = {"reorg_history"}


@dataclass(frozen=True)
class StoreSpec:
    """Where one test store lives: a SQLite file, or a schema on the PostgreSQL server."""

    url: str
    schema: str | None = None

    def env(self) -> dict[str, str]:
        """The settings that point a ``chaincrawler`` process at this store."""
        env = {"CHAINCRAWLER_STORE__URL": self.url}
        if self.schema:
            env["CHAINCRAWLER_STORE__SCHEMA"] = self.schema
        return env

    async def open(self, *, writer: bool = True) -> EventStore:
        options = {"schema": self.schema} if self.schema else {}
        store = open_store(self.url, **options)
        await store.open(network="regtest", genesis_hash=REGTEST.genesis_hash, writer=writer)
        return store


StoreFactory = Callable[[str], StoreSpec]


def client(node: NodeHandle, attempts: int = 3) -> NodeClient:
    return NodeClient(node.url_with_auth, rest=True,
                      retry=RetryPolicy(attempts=attempts, initial_delay=0.05, max_delay=0.5))


async def crawl(
    node: NodeHandle,
    spec: StoreSpec,
    models: Sequence[Model] | None = None,
    **options: Any,
) -> Crawler:
    """Crawl ``node`` to its tip into the store ``spec``."""
    async with client(node) as rpc:
        store = await spec.open()
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


async def active_log(spec: StoreSpec) -> list[tuple[Any, ...]]:
    """The active events as (model, version, type, payload, height, hash), in order."""
    store = await spec.open(writer=False)
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
    node: NodeHandle, spec: StoreSpec, models: Sequence[Model], fresh: StoreSpec,
    **options: Any,
) -> None:
    """The invariant: state and active log equal those of a fresh crawl of the final chain."""
    fresh_models = [type(m)() for m in models]
    crawler = await crawl(node, fresh, fresh_models, **options)
    by_name = {m.name: m for m in crawler.models}
    for model in models:
        assert comparable_state(model) == comparable_state(by_name[model.name]), model.name
    assert await active_log(spec) == await active_log(fresh)


def kill(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL a crawler process (if it still runs) and reap it."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


async def random_mine_reorg_kill(
    gen: ChainGenerator,
    rng: random.Random,
    start: int,
    proc: subprocess.Popen[bytes],
    restart: Callable[[], subprocess.Popen[bytes]],
) -> subprocess.Popen[bytes]:
    """3-6 random steps while a crawler process runs: mine, reorganise (depth 1-10, half
    with a double spend) or SIGKILL it and ``restart`` it. Returns the process running last.
    """
    for _ in range(rng.randint(3, 6)):
        op = rng.choice(["mine", "mine", "reorg", "kill"])
        if op == "mine":
            await gen.fill(rng.randint(1, 2), rng.randint(1, 3))
        elif op == "reorg":
            double_spend = rng.random() < 0.5
            if double_spend:  # give the reorged blocks a spend to conflict with
                await gen.send()
                await gen.mine(1)
            depth = rng.randint(1, min(10, gen.height - start - 1))
            await gen.reorg(depth, depth + rng.randint(0, 2), double_spend=double_spend)
        else:
            await asyncio.sleep(rng.uniform(0.0, 1.5))
            kill(proc)
            proc = restart()
        await asyncio.sleep(rng.uniform(0.0, 0.4))
    await asyncio.sleep(rng.uniform(0.0, 1.0))
    return proc


def start_crawler(node: NodeHandle, store: StoreSpec, start: int, rng: random.Random,
                  log: Path, models: Sequence[str],
                  extra_env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A ``chaincrawler run MODELS`` process on ``node`` into ``store``, with a random
    catch-up batch size and snapshot interval, logging to ``log``."""
    env = {
        **os.environ,
        **store.env(),
        "CHAINCRAWLER_NETWORK": "regtest",
        "CHAINCRAWLER_NODE__URLS": node.url_with_auth,
        "CHAINCRAWLER_NODE__REST": "true",
        "CHAINCRAWLER_CRAWLER__START_HEIGHT": str(start),
        "CHAINCRAWLER_CRAWLER__POLL_INTERVAL": "0.05",
        "CHAINCRAWLER_CRAWLER__CATCHUP_BATCH_BLOCKS": str(rng.randint(1, 6)),
        "CHAINCRAWLER_CRAWLER__SNAPSHOT_INTERVAL": str(rng.randint(1, 8)),
        "CHAINCRAWLER_LOG__LEVEL": "WARNING",
        "CHAINCRAWLER_LOG__FORMAT": "json",
        **(extra_env or {}),
    }
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "chaincrawler", "run", *models],
                                env=env, stdout=out, stderr=out)


async def kill_sequences(
    node: NodeHandle,
    stores: StoreFactory,
    log: Path,
    *,
    seed: int,
    sequences: int,
    models: Sequence[str],
    check: Callable[[int, StoreSpec, int], Awaitable[None]],
    extra_env: Callable[[random.Random], Mapping[str, str]] | None = None,
) -> None:
    """Run ``sequences`` random mine/reorg/SIGKILL sequences of a ``chaincrawler run
    MODELS`` process, each into a store of its own, calling ``check(i, store, start)``
    after sequence ``i`` (the crawler process is dead by then)."""
    rng = random.Random(seed)
    async with client(node) as rpc:
        gen = ChainGenerator(rpc, seed=seed)
        await gen.mine_until_mature()
        for i in range(sequences):
            start = max(0, gen.height - 12)
            store = stores(f"seq{i}")

            def restart(store: StoreSpec = store, start: int = start) -> subprocess.Popen[bytes]:
                env = extra_env(rng) if extra_env else None
                return start_crawler(node, store, start, rng, log, models, env)

            proc = restart()
            try:
                proc = await random_mine_reorg_kill(gen, rng, start, proc, restart)
            finally:
                kill(proc)
            assert proc.returncode == -signal.SIGKILL, log.read_text()[-3000:]
            await check(i, store, start)
