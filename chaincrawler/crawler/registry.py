"""Which models a store holds the whole history of, and at which version of their code.

A model the store has never crawled, one left out of a run since (its state stops at
that height), or one whose re-index from the node did not finish would answer as if the
blocks below the tip had nothing for it: ``check_models`` names them, and the crawler
brings them to the tip from the node before they join (``crawler.reindex``). A model
whose ``version`` differs from the one that wrote its history is refused
(``ModelVersionError``). On an empty store every model is registered, with its version,
before the first commit.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from chaincrawler.crawler.errors import ModelVersionError
from chaincrawler.eventstore import BlockRecord, EventStore
from chaincrawler.models import Model

log = structlog.get_logger(__name__)

_LEFT_OUT = "chaincrawler.model_left_out:"  # checkpoint: the tip height it was left out at
_NOT_LEFT_OUT = -1  # the checkpoint's value once the model was re-indexed

#: The version a store records for a model while its re-index from the node is unfinished.
UNFINISHED = "(re-index unfinished)"


async def mark_reindexed(store: EventStore, models: Sequence[Model]) -> None:
    """Record that ``models`` hold the store's whole history again, at these versions."""
    for model in models:
        if await store.get_checkpoint(_LEFT_OUT + model.name) is not None:
            await store.set_checkpoint(_LEFT_OUT + model.name, _NOT_LEFT_OUT)
    await store.set_model_versions({m.name: m.version for m in models})


async def check_models(
    store: EventStore, models: Sequence[Model], tip: BlockRecord | None, *, always_run: str
) -> dict[str, str]:
    """Check and record the models of this run; return those without the store's history.

    The result maps each such model to why (never crawled into this store, left out of
    a run at a height, re-index unfinished); their versions are not recorded: bringing
    them up does it. Raises ModelVersionError for a model of another version. Known
    models missing from this run are marked as left out (a warning). ``always_run``
    (the chain model) is in every run: it is neither behind nor left out. A model whose
    recorded version is None (a store from before versions) adopts the running version.
    """
    versions = {m.name: m.version for m in models}
    if tip is None:
        await store.set_model_versions(versions)
        return {}
    recorded = await store.model_versions()
    behind: dict[str, str] = {}
    for name in versions:
        why = None if name == always_run else await why_behind(store, name, recorded)
        if why is not None:
            behind[name] = why
    current = {name: v for name, v in versions.items() if name not in behind}
    _check_versions(recorded, current)
    for name in sorted(set(recorded) - set(versions) - {always_run}):
        if await store.get_checkpoint(_LEFT_OUT + name) in (None, _NOT_LEFT_OUT):
            log.warning("model left out of this run: its state stops here; the next run "
                        "with it re-indexes it from the node", model=name, height=tip.height)
            await store.set_checkpoint(_LEFT_OUT + name, tip.height)
    await store.set_model_versions(current)
    return behind


async def why_behind(
    store: EventStore, name: str, recorded: dict[str, str | None]
) -> str | None:
    """Why the store lacks part of model ``name``'s history (``recorded``: its versions)."""
    left_at = await store.get_checkpoint(_LEFT_OUT + name)
    if name not in recorded:
        return "was never crawled into this store"
    if left_at not in (None, _NOT_LEFT_OUT):
        return f"was left out of a run at height {left_at}"
    if recorded[name] == UNFINISHED:
        return "has an unfinished re-index from the node"
    return None


def _check_versions(recorded: dict[str, str | None], running: dict[str, str]) -> None:
    changed: dict[str, tuple[str, str]] = {}
    for name, version in running.items():
        stored = recorded.get(name)
        if stored is None:
            log.info("recording the model's version (the store had none)", model=name,
                     version=version)
        elif stored != version:
            changed[name] = (stored, version)
    if changed:
        raise ModelVersionError(changed)
