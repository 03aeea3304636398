"""Wiring: build a node client, an event store and a crawler from Settings, and run them."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

import structlog

from chaincrawler.config import ConfigError, Settings
from chaincrawler.config.errors import ConfigProblem
from chaincrawler.crawler.node import NodeClient
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
from chaincrawler.crawler.progress import Progress
from chaincrawler.eventstore import EventStore, SchemaMissingError, open_store
from chaincrawler.models import Model
from chaincrawler.transports.serving import http_server

log = structlog.get_logger(__name__)


def load_models(specs: Iterable[str]) -> list[Model]:
    """Instantiate models named ``module:attr``; attr is a Model class, instance or a list."""
    models: list[Model] = []
    for spec in specs:
        module_name, _, attr = spec.partition(":")
        if not module_name or not attr:
            raise _model_error(f"{spec!r} is not of the form 'module:attr'")
        try:
            target: Any = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise _model_error(f"cannot load {spec!r}: {exc}") from exc
        items = target if isinstance(target, list | tuple) else [target]
        for item in items:
            if isinstance(item, type) and issubclass(item, Model):
                models.append(item())
            elif isinstance(item, Model):
                models.append(item)
            else:
                raise _model_error(f"{spec!r} is not a Model class or instance")
    return models


def _model_error(reason: str) -> ConfigError:
    return ConfigError("invalid configuration", [ConfigProblem("models", "CHAINCRAWLER_MODELS",
                                                                reason)])


def crawler_options(settings: Settings) -> CrawlerOptions:
    """The pipeline options from the ``crawler`` settings section."""
    c = settings.crawler
    return CrawlerOptions(
        start_height=c.start_height or 0,
        max_reorg_depth=c.max_reorg_depth,
        snapshot_interval=c.snapshot_interval,
        catchup_batch_blocks=c.catchup_batch_blocks,
        prefetch_bytes=int(c.prefetch_bytes),
        fetch_concurrency=c.fetch_concurrency,
        poll_interval=c.poll_interval,
        on_model_error=c.on_model_error,
        model_error_retries=c.model_error_retries,
    )


def store_from_settings(settings: Settings) -> EventStore:
    """An unopened event store for the ``store`` settings section."""
    s = settings.store
    if s.backend == "postgresql":
        options: dict[str, Any] = {
            "min_pool_size": s.pool_min_size,
            "max_pool_size": s.pool_max_size,
            "connect_timeout": s.connect_timeout,
            "statement_timeout": s.statement_timeout,
        }
        if s.schema_name:
            options["schema"] = s.schema_name
        return open_store(s.url, **options)
    return open_store(s.url, synchronous=s.sqlite_synchronous)


@contextlib.asynccontextmanager
async def opened_store(settings: Settings, *, writer: bool) -> AsyncIterator[EventStore]:
    """The settings' event store, opened for this network (as the writer or a reader)."""
    network = settings.network_params
    store = store_from_settings(settings)
    await store.open(
        network=network.name,
        genesis_hash=network.genesis_hash,
        writer=writer,
        create_schema=settings.store.create_schema,
    )
    try:
        yield store
    finally:
        await store.close()


async def run_crawler(
    settings: Settings,
    models: Sequence[Model],
    *,
    follow: bool = True,
    until_height: int | None = None,
    handle_signals: bool = True,
    progress: Progress | None = None,
) -> Crawler:
    """Crawl with ``models`` until stopped (SIGINT/SIGTERM: commit, snapshot, return).

    Serves the HTTP/WebSocket API beside the crawl when ``settings.http.enabled``.
    """
    async with (
        NodeClient.from_settings(settings.node) as node,
        opened_store(settings, writer=True) as store,
    ):
        crawler = Crawler(node, store, models, settings.network_params,
                          crawler_options(settings), progress=progress)
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, crawler.stop)
                    installed.append(sig)
        try:
            async with http_server(crawler, settings.http):
                await crawler.run(follow=follow, until_height=until_height)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
        return crawler


async def store_status(settings: Settings) -> dict[str, Any]:
    """What the store holds: tip, event count, recent reorgs, snapshots (read-only)."""
    async with opened_store(settings, writer=False) as store:
        tip = await store.tip()
        reorgs = await store.reorgs(limit=10)
        return {
            "store": settings.store.backend,
            "network": settings.network_params.name,
            "tip": None if tip is None else {"height": tip.height, "hash": tip.hash},
            "last_position": await store.max_position(),  # rolled-back events included
            "reorgs": [
                {"id": r.id, "fork_height": r.fork_height, "depth": r.depth,
                 "old_tip": r.old_tip_hash, "new_tip": r.new_tip_hash,
                 "rolled_back_events": r.rolled_back_events, "at": r.created_at.isoformat()}
                for r in reorgs
            ],
        }


async def wipe_store(settings: Settings) -> str:
    """Remove everything the store holds, for a full rebuild; returns what was removed.

    Refuses (StoreLockedError) while a crawler is writing to the store.
    """
    with contextlib.suppress(SchemaMissingError):
        async with opened_store(settings, writer=True):
            pass  # only proves no other writer holds the store
    s = settings.store
    if s.backend == "postgresql":
        import asyncpg

        schema = s.schema_name or "chaincrawler"
        conn = await asyncpg.connect(s.url, timeout=s.connect_timeout)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
        return f"schema {schema!r}"
    store = store_from_settings(settings)
    path = Path(getattr(store, "path", ""))
    removed = []
    for suffix in ("", "-wal", "-shm", ".lock"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            candidate.unlink()
            removed.append(candidate.name)
    return ", ".join(removed) or "nothing (no store yet)"
