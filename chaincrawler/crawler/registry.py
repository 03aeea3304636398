"""Which models a store holds the whole history of: no model starts at the tip without it.

A model the store has never crawled, or one left out of a run since (its state stops at
that height), would answer as if the blocks below the tip had nothing for it; the
crawler refuses to start it (``ModelNotInStoreError``). On an empty store every model is
registered before the first commit.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from chaincrawler.crawler.errors import ModelNotInStoreError
from chaincrawler.eventstore import BlockRecord, EventStore

log = structlog.get_logger(__name__)

_LEFT_OUT = "chaincrawler.model_left_out:"  # checkpoint: the tip height it was left out at


async def check_models(
    store: EventStore, names: Sequence[str], tip: BlockRecord | None, *, always_run: str
) -> None:
    """Refuse models without the store's history; register the models of this run.

    Known models missing from this run are marked as left out (a warning): adding one
    back later is refused, as its state stops at this height. ``always_run`` (the chain
    model) is in every run: it is neither refused nor left out.
    """
    if tip is None:
        await store.register_models(names)
        return
    known = await store.known_models()
    refused: dict[str, str] = {}
    for name in names:
        if name == always_run:
            continue
        left_at = await store.get_checkpoint(_LEFT_OUT + name)
        if name not in known:
            refused[name] = "was never crawled into this store"
        elif left_at is not None:
            refused[name] = f"was left out of a run at height {left_at}"
    if refused:
        raise ModelNotInStoreError(refused, tip.height)
    for name in sorted(known - set(names) - {always_run}):
        if await store.get_checkpoint(_LEFT_OUT + name) is None:
            log.warning("model left out of this run: its state stops here; adding it back "
                        "later needs `chaincrawler rebuild`", model=name, height=tip.height)
            await store.set_checkpoint(_LEFT_OUT + name, tip.height)
    await store.register_models(names)
