"""Wiring: build a node client, an event store and a crawler from Settings, and run them."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from chaincrawler.chain.networks import Network
from chaincrawler.config import ConfigError, Settings
from chaincrawler.config.errors import ConfigProblem
from chaincrawler.crawler.errors import NodeNetworkMismatchError
from chaincrawler.crawler.follow_zmq import tip_follower
from chaincrawler.crawler.mempool import MempoolWatcher, mempool_subscriber
from chaincrawler.crawler.mempool_models import MempoolFeed, MempoolModel
from chaincrawler.crawler.pipeline import Crawler
from chaincrawler.crawler.progress import Progress
from chaincrawler.crawler.registry import why_behind
from chaincrawler.crawler.reindex import (
    Reindexed,
    reindex_from_events,
    reindex_from_node,
)
from chaincrawler.errors import ChaincrawlerError
from chaincrawler.eventstore import BlockRecord, EventStore, SchemaMissingError
from chaincrawler.models import ChainModel, Model
from chaincrawler.node.client import NodeClient
from chaincrawler.transports.serving import http_server

log = structlog.get_logger(__name__)


class NoStoreError(ChaincrawlerError):
    """There is no event store where the settings point (nothing was crawled there yet)."""


class RebuildRefusedError(ChaincrawlerError):
    """A rebuild would erase the events of models it does not rebuild, or cannot re-index."""


def load_models(
    specs: Iterable[str], args: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Model]:
    """Instantiate models named ``module:attr``; attr is a Model class, instance or a list.

    A class is called with ``args[<its name>]`` as keyword arguments (the ``model_args``
    setting); every name in ``args`` must be one of the classes loaded.
    """
    args = args or {}
    models: list[Model] = []
    for spec in specs:
        module_name, _, attr = spec.partition(":")
        if not module_name or not attr:
            raise _model_error(f"{spec!r} is not of the form 'module:attr'")
        try:
            target: Any = getattr(importlib.import_module(module_name), attr)
        except Exception as exc:  # any error of the user's module: SyntaxError, NameError...
            raise _model_error(f"cannot load {spec!r}: {type(exc).__name__}: {exc}") from exc
        items = target if isinstance(target, list | tuple) else [target]
        for item in items:
            if isinstance(item, type) and issubclass(item, Model):
                models.append(_instantiate(spec, item, args.get(item.name, {})))
            elif isinstance(item, Model):
                if item.name in args:
                    raise _model_error(
                        f"{spec!r} is a model instance: it takes no model_args.{item.name}; "
                        "name its class instead", "model_args"
                    )
                models.append(item)
            else:
                raise _model_error(f"{spec!r} is not a Model class or instance")
    unused = sorted(set(args) - {m.name for m in models})
    if unused:
        loaded = ", ".join(m.name for m in models) or "none"
        raise _model_error(
            f"arguments for {', '.join(unused)}, but no such model is loaded (loaded: {loaded})",
            "model_args",
        )
    return models


def _instantiate(spec: str, cls: type[Model], kwargs: Mapping[str, Any]) -> Model:
    try:
        return cls(**kwargs)
    except Exception as exc:  # a wrong keyword, or the model's own check of a value
        where = f"model_args.{cls.name}" if kwargs else "models"
        raise _model_error(
            f"cannot create {spec!r} ({cls.__name__}) with {dict(kwargs)!r}: "
            f"{type(exc).__name__}: {exc}", where
        ) from exc


def _model_error(reason: str, path: str = "models") -> ConfigError:
    env_var = "CHAINCRAWLER_" + path.split(".")[0].upper()
    return ConfigError("invalid configuration", [ConfigProblem(path, env_var, reason)])


@contextlib.asynccontextmanager
async def opened_store(
    settings: Settings, *, writer: bool, create: bool = True
) -> AsyncIterator[EventStore]:
    """The settings' event store, opened for this network (as the writer or a reader).

    ``create=False`` never creates a store: a missing one raises NoStoreError.
    """
    network = settings.network_params
    store = settings.store.store()
    try:
        await store.open(
            network=network.name,
            genesis_hash=network.genesis_hash,
            writer=writer,
            create_schema=create and settings.store.create_schema,
        )
    except SchemaMissingError as exc:
        if create:
            raise
        raise NoStoreError(f"no store at {settings.store.location}") from exc
    try:
        yield store
    finally:
        await store.close()


async def check_node_network(node: NodeClient, network: Network) -> None:
    """Raise NodeNetworkMismatchError unless ``node`` follows ``network``'s chain."""
    genesis = await node.get_block_hash(0)
    if genesis != network.genesis_hash:
        info = await node.get_blockchain_info()
        raise NodeNetworkMismatchError(network.name, str(info.get("chain")), genesis)


async def check_node(settings: Settings) -> None:
    """Check the configured node answers and follows the configured network."""
    async with settings.node.client() as node:
        await check_node_network(node, settings.network_params)


@dataclass(frozen=True, slots=True)
class CrawlOutcome:
    """How a crawl ended: the committed tip, and the signal that stopped it (if one did)."""

    crawler: Crawler
    stopped_by: str | None = None

    @property
    def tip(self) -> BlockRecord | None:
        """The last committed block."""
        return self.crawler.tip

    def summary(self) -> str:
        """One line for the user: what the store holds now."""
        tip = self.tip
        committed = (
            "nothing committed: the store has no blocks" if tip is None
            else f"committed up to height {tip.height} (block {tip.hash})"
        )
        return f"stopped by {self.stopped_by}; {committed}" if self.stopped_by else committed


async def run_crawler(
    settings: Settings,
    models: Sequence[Model],
    *,
    follow: bool = True,
    until_height: int | None = None,
    handle_signals: bool = True,
    progress: Progress | None = None,
) -> CrawlOutcome:
    """Crawl with ``models`` until stopped (SIGINT/SIGTERM: commit, snapshot, return).

    The node's network is checked before the store is opened, so a misconfigured
    first run creates no store. Serves the HTTP/WebSocket API beside the crawl when
    ``settings.http.enabled``. While following, mempool models (``MempoolModel``) get
    the node's mempool changes beside the crawl (``start_mempool``).
    """
    mempool_models = [m for m in models if isinstance(m, MempoolModel)]
    async with (settings.node.client() as node, contextlib.AsyncExitStack() as stack):
        await check_node_network(node, settings.network_params)
        store = await stack.enter_async_context(opened_store(settings, writer=True))
        options = settings.crawler.options()
        follower = (await tip_follower(node, settings.node.zmq_subscriptions,
                                       options.poll_interval) if follow else None)
        feed = (await start_mempool(stack, node, store, settings, mempool_models)
                if follow and mempool_models else None)
        crawler = Crawler(node, store, models, settings.network_params, options,
                          progress=progress, follower=follower, mempool=feed)
        stopped_by: list[str] = []
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []

        def stop(sig: signal.Signals) -> None:
            stopped_by.append(sig.name)
            crawler.stop()

        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stop, sig)
                    installed.append(sig)
        try:
            async with http_server(crawler, settings.http):
                await crawler.run(follow=follow, until_height=until_height)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
    return CrawlOutcome(crawler, stopped_by[0] if stopped_by else None)


async def start_mempool(
    stack: contextlib.AsyncExitStack,
    node: NodeClient,
    store: EventStore,
    settings: Settings,
    models: Sequence[MempoolModel],
) -> MempoolFeed:
    """Start the mempool watcher (ZMQ when the node publishes ``sequence``, else polling)
    and a feed delivering its changes to ``models`` and storing what they emit, until
    ``stack`` closes. If the feed stops (the watcher failed), the error is logged and
    recorded as every model's failure; block processing goes on."""
    subscriber = await mempool_subscriber(node, settings.node.zmq_subscriptions)
    if subscriber is not None:
        stack.callback(subscriber.close)
    watcher = MempoolWatcher(
        node, settings.network_params, subscriber,
        reconcile_interval=settings.mempool.reconcile_interval,
        poll_interval=settings.crawler.poll_interval,
    )
    feed = MempoolFeed(watcher, models, store, confirms_blocks=True,
                       retention=timedelta(seconds=settings.mempool.retention))
    await feed.start()
    await stack.enter_async_context(watcher)
    task = asyncio.create_task(_feed_mempool(feed, store), name="chaincrawler-mempool")
    stack.push_async_callback(_cancel, task)
    log.info("mempool.started", models=[m.name for m in models],
             following="zmq" if subscriber is not None else "polling")
    return feed


async def _feed_mempool(feed: MempoolFeed, store: EventStore) -> None:
    try:
        await feed.run()
    except ChaincrawlerError as exc:  # the watcher or the store failed: blocks go on
        error = f"the mempool feed stopped: {type(exc).__name__}: {exc}"
        log.error("mempool.stopped", error=error,
                  hint="mempool models get no more changes until restarted; "
                  "block processing goes on")
        with contextlib.suppress(ChaincrawlerError):
            for model in feed.models:
                if model.name not in feed.failed:
                    await store.set_mempool_failure(model.name, error)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def serve_store(settings: Settings, models: Sequence[Model]) -> str:
    """Serve ``models`` from the store as a reader until SIGINT/SIGTERM (``chaincrawler serve``).

    Follows the store, not the node: restores each model, then applies what the writer
    commits and rolls back. Serves on ``settings.http`` (enabled or not: serving is the
    command's job).
    """
    from chaincrawler.transports.api import create_app
    from chaincrawler.transports.reader_source import ReaderSource
    from chaincrawler.transports.server import ApiServer

    async with opened_store(settings, writer=False, create=False) as store:
        source = ReaderSource(store, models, settings.crawler.max_reorg_depth)
        await source.start()
        server = ApiServer(create_app(source, settings.http.options()),
                           settings.http.host, settings.http.port)
        await server.start()
        following = asyncio.create_task(source.follow(), name="chaincrawler-reader")
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopped.set)
        signalled = asyncio.create_task(stopped.wait())
        try:
            await asyncio.wait([following, signalled], return_when=asyncio.FIRST_COMPLETED)
            if following.done():
                following.result()  # the follower failed: raise its error
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            for task in (following, signalled):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await server.stop()
        tip = source.view().tip
        return "stopped; served " + ("an empty store" if tip is None
                                     else f"up to height {tip.height} (block {tip.hash})")


async def store_status(settings: Settings) -> dict[str, Any]:
    """What the store holds: tip, event count, recent reorgs, snapshots (read-only).

    Raises NoStoreError when there is no store: a read never creates one.
    """
    async with opened_store(settings, writer=False, create=False) as store:
        tip = await store.tip()
        reorgs = await store.reorgs(limit=10)
        failures = await store.mempool_failures()
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
            "mempool": {
                "last_position": await store.max_mempool_position(),
                "failed_models": [
                    {"model": f.model, "error": f.error, "at": f.failed_at.isoformat()}
                    for f in failures
                ],
            },
        }


@dataclass(frozen=True, slots=True)
class RebuildPlan:
    """What a rebuild erases: the store, the models it holds, which of them are rebuilt."""

    store: str
    stored_models: frozenset[str]
    rebuilt_models: frozenset[str]

    @property
    def dropped_models(self) -> frozenset[str]:
        """Models whose events the rebuild erases without crawling them again."""
        return self.stored_models - self.rebuilt_models

    def describe(self) -> str:
        """The plan in words, for the confirmation prompt."""
        held = f" (models {', '.join(sorted(self.stored_models))})" if self.stored_models else ""
        text = (f"Erase the store {self.store}{held} and crawl again with "
                f"{', '.join(sorted(self.rebuilt_models))}")
        if self.dropped_models:
            text += f"; the events of {', '.join(sorted(self.dropped_models))} are dropped"
        return text


async def erase_for_rebuild(
    settings: Settings,
    models: Sequence[Model],
    *,
    confirm: Callable[[RebuildPlan], None],
    drop_other_models: bool = False,
) -> str:
    """Erase the store to rebuild it with ``models``; returns what was removed.

    Holds the writer lock from reading the store's models to the removal, so no crawler
    starts in between. ``confirm`` sees the plan first and raises to cancel. Refuses
    (RebuildRefusedError) to erase the events of stored models not in ``models`` unless
    ``drop_other_models``, and (StoreLockedError) while a crawler writes to the store.
    """
    rebuilt = frozenset({ChainModel.name, *(m.name for m in models)})
    try:
        async with opened_store(settings, writer=True, create=False) as store:
            plan = RebuildPlan(settings.store.location, frozenset(await store.known_models()),
                               rebuilt)
            _check_plan(plan, drop_other_models)
            confirm(plan)
            return await store.destroy()
    except NoStoreError:
        plan = RebuildPlan(settings.store.location, frozenset(), rebuilt)
        confirm(plan)
        return "nothing (no store yet)"


def _check_plan(plan: RebuildPlan, drop_other_models: bool) -> None:
    if plan.dropped_models and not drop_other_models:
        names = ", ".join(sorted(plan.dropped_models))
        raise RebuildRefusedError(
            f"the store {plan.store} also holds {names}, which this rebuild would erase "
            "without crawling again: name every stored model (chaincrawler rebuild MODEL...), "
            "or pass --drop-other-models to erase their events"
        )


def select_models(models: Sequence[Model], names: Sequence[str]) -> list[Model]:
    """The loaded models named ``names`` (by ``Model.name``), for a re-index."""
    by_name = {m.name: m for m in models}
    missing = [n for n in names if n not in by_name]
    if missing:
        loaded = ", ".join(sorted(by_name)) or "none"
        raise RebuildRefusedError(
            f"no loaded model is named {', '.join(missing)} (loaded: {loaded}); name the "
            "model's module:attr too (chaincrawler rebuild MODULE:ATTR --model NAME)"
        )
    return [by_name[n] for n in dict.fromkeys(names)]


async def reindex_models(
    settings: Settings,
    models: Sequence[Model],
    *,
    from_node: bool,
    confirm: Callable[[str], None] = lambda plan: None,
) -> list[Reindexed]:
    """Re-index ``models`` in the settings' store, the other models' data untouched.

    ``from_node``: replace their events by re-processing the stored chain's blocks from
    the node; else rebuild their state from their stored events. ``confirm`` sees the
    plan first (a re-index from the node) and raises to cancel.
    """
    if not from_node:
        async with opened_store(settings, writer=True, create=False) as store:
            await _check_reindexable(store, models)
            return await reindex_from_events(store, models, settings.crawler.options())
    async with settings.node.client() as node:
        await check_node_network(node, settings.network_params)
        async with opened_store(settings, writer=True, create=False) as store:
            names = ", ".join(m.name for m in models)
            confirm(f"Replace the events of {names} in the store {settings.store.location} "
                    "by re-processing its blocks from the node")
            return await reindex_from_node(node, store, models, settings.network_params,
                                           settings.crawler.options())


async def _check_reindexable(store: EventStore, models: Sequence[Model]) -> None:
    """A re-index from events needs the model's whole history in the store."""
    recorded = await store.model_versions()
    for model in models:
        why = await why_behind(store, model.name, recorded)
        if why is not None:
            raise RebuildRefusedError(
                f"model {model.name!r} {why}: the store lacks events of it to re-index from; "
                "re-index it from the node (--from-node)"
            )
