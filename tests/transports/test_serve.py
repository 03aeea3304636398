"""``serve`` readers: a ReaderSource on its own store object follows a crawler writing the store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.client import AsyncClient
from chaincrawler.eventstore import open_store
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.transports.api import create_app
from chaincrawler.transports.reader_source import ReaderSource, StoredCollectionsRefused
from chaincrawler.transports.server import ApiServer
from chaincrawler.transports.source import Committed, Notification, RolledBack
from tests.transports.conftest import Serve, Served


@contextlib.asynccontextmanager
async def reader(store_url: tuple[str, dict[str, Any]]) -> AsyncIterator[
        tuple[ReaderSource, ApiServer]]:
    """A reader process's pieces: its own store (``writer=False``), source, server, follow task."""
    url, options = store_url
    store = open_store(url, **options)
    await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash, writer=False)
    source = ReaderSource(store, [AddressBalances()], max_reorg_depth=20, poll_interval=0.05)
    await source.start()
    server = ApiServer(create_app(source))
    await server.start()
    task = asyncio.create_task(source.follow())
    try:
        yield source, server
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await server.stop()
        await store.close()


async def caught_up(source: ReaderSource, served: Served, timeout: float = 20.0) -> None:
    await served.synced()
    async with asyncio.timeout(timeout):
        while True:
            tip = source.view().tip
            if tip is not None and served.crawler.tip is not None \
                    and tip.hash == served.crawler.tip.hash:
                return
            await asyncio.sleep(0.02)


async def answers(url: str) -> dict[str, Any]:
    """What a user sees: the top balances, the chain's tip and reorgs, each model's state."""
    async with AsyncClient(url) as api:
        top = await api.query("address_balances", "top", n=5)
        chain = await api.chain()
        return {
            "top": top.result,
            "tip": None if top.at.tip is None else top.at.tip.hash,
            "chain_tip": None if chain.tip is None else chain.tip.hash,
            "reorgs": [r.id for r in chain.reorgs],
            "state": (await api.state("address_balances")).state,
            "chain_state": (await api.state("chain")).state,
        }


async def test_a_reader_answers_as_the_writer_after_commits_and_a_reorg(
        serve: Serve, store_url: tuple[str, dict[str, Any]]) -> None:
    served = await serve()
    async with reader(store_url) as (source, server):
        notes: list[Notification] = []
        source.subscribe(notes.append)
        await caught_up(source, served)
        assert await answers(server.url) == await answers(served.url)

        await served.gen.fill(2, 3)
        await caught_up(source, served)
        assert await answers(server.url) == await answers(served.url)
        assert any(isinstance(n, Committed) for n in notes)

        await served.gen.reorg(2, 3)
        await caught_up(source, served)
        mine, theirs = await answers(server.url), await answers(served.url)
        assert mine == theirs and len(mine["reorgs"]) == 1
        assert [n.reorg.id for n in notes if isinstance(n, RolledBack)] == mine["reorgs"]
        async with AsyncClient(server.url) as api:
            ready = await api.ready()
            assert ready.ready and ready.lag == 0 and ready.following == "store"


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_two_readers_on_postgresql_answer_alike(
        serve: Serve, store_url: tuple[str, dict[str, Any]]) -> None:
    served = await serve()
    async with reader(store_url) as (one, one_server), reader(store_url) as (two, two_server):
        await served.gen.fill(2, 3)
        await served.gen.reorg(1, 2)
        await caught_up(one, served)
        await caught_up(two, served)
        writer = await answers(served.url)
        assert await answers(one_server.url) == writer
        assert await answers(two_server.url) == writer


async def test_a_reader_started_during_a_reorg_ends_consistent(
        serve: Serve, store_url: tuple[str, dict[str, Any]]) -> None:
    served = await serve()
    reorging = asyncio.create_task(served.gen.reorg(3, 4))
    async with reader(store_url) as (source, server):
        await reorging
        await caught_up(source, served)
        assert await answers(server.url) == await answers(served.url)


class Stored(AddressBalances):
    """Stands for a model with stored collections."""

    name = "stored"

    @classmethod
    def has_stored_collections(cls) -> bool:
        return True


async def test_models_with_stored_collections_are_refused_with_a_clear_message(
        tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'e.db'}")
    with pytest.raises(StoredCollectionsRefused, match=r"stored collections yet \(stored\)"):
        ReaderSource(store, [Stored()], max_reorg_depth=6)
