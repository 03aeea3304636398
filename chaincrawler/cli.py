"""The ``chaincrawler`` command line: run, serve, demo, status, rebuild, config, simnode."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from chaincrawler import __version__
from chaincrawler.errors import ChaincrawlerError
from chaincrawler.logs import configure_logging

if TYPE_CHECKING:
    from chaincrawler.config import Settings

# Commands import what they use when they run: settings build the crawler and the stores,
# which `--help` and `simnode` do not need to load.

T = TypeVar("T")

EXIT_FAILURE = 1
EXIT_CONFIG = 2

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML settings file (else CHAINCRAWLER_CONFIG_FILE, env vars and .env).",
)


def _settings(config_file: Path | None, **overrides: Any) -> Settings:
    from chaincrawler.config import load_settings

    if config_file is not None:
        overrides["config_file"] = config_file
    settings = load_settings(**overrides)
    configure_logging(settings.log.level, settings.log.format)
    return settings


def _run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine; report chaincrawler errors as one clear message and an exit code."""
    from chaincrawler.config import ConfigError

    try:
        return asyncio.run(make())
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except ChaincrawlerError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILURE)


@click.group()
@click.version_option(__version__, prog_name="chaincrawler")
def main() -> None:
    """Index Bitcoin with reorg-aware event sourcing."""


@main.command()
@click.argument("models", nargs=-1)
@config_option
@click.option("--no-follow", is_flag=True, help="Stop once caught up with the node's tip.")
@click.option("--until", "until_height", type=click.IntRange(min=0),
              help="Stop once this height is committed.")
def run(models: tuple[str, ...], config_file: Path | None, no_follow: bool,
        until_height: int | None) -> None:
    """Crawl the node with MODELS (module:attr, or the `models` setting) and follow its tip.

    On SIGINT/SIGTERM it commits the current block, snapshots and prints the tip.
    """
    from chaincrawler.app import load_models, run_crawler
    from chaincrawler.crawler.progress import Progress

    async def go() -> str:
        settings = _settings(config_file)
        instances = load_models(models or settings.models, settings.model_args)
        outcome = await run_crawler(settings, instances, follow=not no_follow,
                                    until_height=until_height, progress=Progress())
        return outcome.summary()

    click.echo(_run(go))


@main.command()
@click.argument("models", nargs=-1)
@config_option
def serve(models: tuple[str, ...], config_file: Path | None) -> None:
    """Serve MODELS' API from the store a `run` writes (a reader: many may run at once).

    Follows the store, not the node; listens on the `http` settings' host and port.
    """
    from chaincrawler.app import load_models, serve_store

    async def go() -> str:
        settings = _settings(config_file)
        return await serve_store(settings, load_models(models or settings.models,
                                                       settings.model_args))

    click.echo(_run(go))


@main.command()
@config_option
def status(config_file: Path | None) -> None:
    """Show what the event store holds: tip, event count, recent reorgs (never creates it)."""
    from chaincrawler.app import store_status

    async def go() -> dict[str, Any]:
        return await store_status(_settings(config_file))

    click.echo(json.dumps(_run(go), indent=2))


@main.command()
@click.argument("models", nargs=-1)
@config_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--follow", is_flag=True, help="Keep following the tip after the rebuild.")
@click.option("--drop-other-models", is_flag=True,
              help="Also erase the events of stored models that MODELS leaves out.")
@click.option("--model", "model_names", multiple=True, metavar="NAME",
              help="Re-index only this model (repeatable); the others' data stays.")
@click.option("--from-events", is_flag=True,
              help="With --model: rebuild its state from its stored events (handlers changed; "
                   "a model with stored collections loads their keys in prefetch_events).")
@click.option("--from-node", is_flag=True,
              help="With --model: replace its events by re-processing the blocks from the node "
                   "(process_block changed).")
def rebuild(models: tuple[str, ...], config_file: Path | None, yes: bool, follow: bool,
            drop_other_models: bool, model_names: tuple[str, ...], from_events: bool,
            from_node: bool) -> None:
    """Erase the event store and crawl again from the start height (after a too-deep reorg),
    or re-index some models with --model NAME and --from-events or --from-node.

    MODELS (or the `models` setting) must name every model the store holds, unless
    --drop-other-models is given.
    """
    from chaincrawler.app import (
        RebuildPlan,
        check_node,
        erase_for_rebuild,
        load_models,
        reindex_models,
        run_crawler,
        select_models,
    )
    from chaincrawler.crawler.progress import Progress

    if (from_events or from_node) and not model_names:
        raise click.UsageError("--from-events and --from-node re-index the models named by "
                               "--model NAME")
    if model_names and from_events == from_node:
        raise click.UsageError("re-indexing a model needs one of --from-events (only its "
                               "handlers changed) or --from-node (process_block changed)")

    def confirm(plan: RebuildPlan) -> None:
        if not yes:
            click.confirm(f"{plan.describe()}?", abort=True)

    def confirm_reindex(plan: str) -> None:
        if not yes:
            click.confirm(f"{plan}?", abort=True)

    async def reindex() -> str:
        settings = _settings(config_file)
        instances = load_models(models or settings.models, settings.model_args)
        chosen = select_models(instances, model_names)
        done = await reindex_models(settings, chosen, from_node=from_node,
                                    confirm=confirm_reindex)
        for item in done:
            at = "empty store" if item.tip is None else f"tip {item.tip.height}"
            click.echo(f"re-indexed {item.model}: {item.events} event(s), state at {at}")
        if not follow:
            return "done; the next `chaincrawler run` goes on with every model"
        outcome = await run_crawler(settings, instances, follow=True, progress=Progress())
        return outcome.summary()

    async def go() -> str:
        settings = _settings(config_file)
        instances = load_models(models or settings.models, settings.model_args)
        await check_node(settings)  # before erasing anything
        removed = await erase_for_rebuild(settings, instances, confirm=confirm,
                                          drop_other_models=drop_other_models)
        click.echo(f"removed {removed}; crawling from height {settings.crawler.start_height or 0}")
        outcome = await run_crawler(settings, instances, follow=follow, progress=Progress())
        return outcome.summary()

    click.echo(_run(reindex if model_names else go))


@main.command(name="config")
@config_option
def show_config(config_file: Path | None) -> None:
    """Print every setting with its description and current value (secrets masked)."""
    from chaincrawler.config import ConfigError

    try:
        click.echo(_settings(config_file).describe())
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


@main.command()
@click.option("--follow", is_flag=True,
              help="Keep mining, crawling and serving the dashboard until Ctrl-C.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("chaincrawler-demo.db"), show_default=True,
              help="SQLite file the demo crawls into (replaced at start).")
@click.option("--blocks", default=30, show_default=True, help="Blocks with transactions to mine.")
@click.option("--txs", default=20, show_default=True, help="Transactions per block.")
@click.option("--port", default=0, show_default=True,
              help="Port of the dashboard and API on 127.0.0.1 (0: a free one).")
def demo(follow: bool, db: Path, blocks: int, txs: int, port: int) -> None:
    """Start a simulated node, follow it by ZMQ with a balance model, time the tip,
    survive a reorg, serve the dashboard."""
    from chaincrawler.demo import run_demo

    # The demo narrates for a person, piped or not: its warnings (the reorg) read as text.
    configure_logging("WARNING", "pretty")
    _run(lambda: run_demo(db, blocks=blocks, txs_per_block=txs, follow=follow, port=port,
                          echo=click.echo))


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def simnode(args: tuple[str, ...]) -> None:
    """Run the simulated regtest node (Bitcoin Core-like flags; -help lists them)."""
    from chaincrawler.testing.simnode import main as simnode_main

    sys.exit(simnode_main(list(args)))
