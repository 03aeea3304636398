"""``serve`` readers: a ReaderSource on its own store object follows a crawler writing the store."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.client import AsyncClient
from chaincrawler.crawler.restore import Restored
from chaincrawler.eventstore import BlockRecord, EventStore, open_store
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.examples.stored_balances import StoredAddressBalances
from chaincrawler.models import Model
from chaincrawler.transports import reader_source
from chaincrawler.transports.api import create_app
from chaincrawler.transports.reader_source import ReaderSource
from chaincrawler.transports.server import ApiServer
from chaincrawler.transports.source import Committed, Notification, RolledBack
from tests.transports.conftest import Serve, Served
from tests.transports.test_stream import Watcher, store_log, view_log

MODEL = "chaincrawler.examples.balances:AddressBalances"
STORED_MODEL = "chaincrawler.examples.stored_balances:StoredAddressBalances"
STORED = "stored_address_balances"


@contextlib.asynccontextmanager
async def reader(store_url: tuple[str, dict[str, Any]], *models: Model) -> AsyncIterator[
        tuple[ReaderSource, ApiServer]]:
    """A reader process's pieces: its own store (``writer=False``), source, server, follow
    task; serving ``models`` (default: ``AddressBalances``)."""
    url, options = store_url
    store = open_store(url, **options)
    await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash, writer=False)
    source = ReaderSource(store, list(models) or [AddressBalances()], max_reorg_depth=20,
                          poll_interval=0.05)
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
        await served.synced()
        await served.gen.reorg(1, 2)
        await caught_up(one, served)
        await caught_up(two, served)
        writer = await answers(served.url)
        assert len(writer["reorgs"]) == 1
        assert await answers(one_server.url) == writer
        assert await answers(two_server.url) == writer


async def test_a_reader_started_during_a_reorg_ends_consistent(
        serve: Serve, store_url: tuple[str, dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    served = await serve()
    real_restore = reader_source.restore_model
    calls = 0

    async def restore_while_reorging(model: Model, store: EventStore,
                                     tip: BlockRecord | None) -> Restored:
        nonlocal calls
        calls += 1
        if calls == 1:  # the reader has read the tip: the writer commits a reorg now
            await served.gen.reorg(2, 3)
            await served.synced()
        return await real_restore(model, store, tip)

    monkeypatch.setattr(reader_source, "restore_model", restore_while_reorging)
    async with reader(store_url) as (source, server):
        assert calls > len(source.models)  # it restored again after the reorg
        await caught_up(source, served)
        mine, theirs = await answers(server.url), await answers(served.url)
        assert mine == theirs and len(mine["reorgs"]) == 1


async def balances_of(url: str, addresses: list[str]) -> dict[str, Any]:
    """The stored model's answers for ``addresses`` (and the block they reflect)."""
    async with AsyncClient(url) as api:
        answers = [await api.query(STORED, "balance", address=a) for a in addresses]
    assert all(a.block == answers[0].block for a in answers)
    return {"block": answers[0].block, "balances": [a.result for a in answers]}


async def top_addresses(served: Served) -> list[str]:
    async with AsyncClient(served.url) as api:
        top = await api.query("address_balances", "top", n=6)
    return [row["address"] for row in top.result]


async def test_a_reader_serves_stored_collections_at_its_tip_across_a_reorg(
        serve: Serve, store_url: tuple[str, dict[str, Any]]) -> None:
    served = await serve(models=[AddressBalances(), StoredAddressBalances()])
    async with reader(store_url, StoredAddressBalances()) as (source, server):
        for step in ("start", "fill", "reorg"):
            if step == "fill":
                await served.gen.fill(2, 3)
            elif step == "reorg":
                await served.gen.reorg(2, 3)
            await caught_up(source, served)
            addresses = await top_addresses(served)
            mine = await balances_of(server.url, addresses)
            assert mine == await balances_of(served.url, addresses)
            async with AsyncClient(served.url) as api:  # and the in-memory form agrees
                memory = [(await api.query("address_balances", "balance", address=a)).result
                          for a in addresses]
            assert mine["balances"] == memory
        tip = served.crawler.tip
        assert tip is not None and mine["block"].hash == tip.hash
        async with AsyncClient(server.url) as api, AsyncClient(served.url) as writer:
            for height in (tip.height - 4, tip.height - 1):
                at = await api.query_at(height, STORED, "balance", address=addresses[0])
                assert at == await writer.query_at(height, STORED, "balance",
                                                   address=addresses[0])


async def test_the_stream_of_a_reader_holds_the_active_log_across_a_reorg(
        serve: Serve, store_url: tuple[str, dict[str, Any]]) -> None:
    served = await serve()
    async with reader(store_url) as (source, server), AsyncClient(server.url) as api:
        watcher = Watcher(api.stream(after=0))
        await watcher.reach(served)
        await served.gen.fill(2, 3)
        await caught_up(source, served)  # the writer has the blocks the reorg orphans
        await served.gen.reorg(2, 3, double_spend=True)
        await caught_up(source, served)
        await watcher.reach(served)
        await watcher.stop()
    assert len(watcher.rollbacks) == 1
    assert view_log(watcher.view) == await store_log(served)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serve_process(store_url: tuple[str, dict[str, Any]],
                        *models: str) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """``chaincrawler serve MODELS`` in its own process: its URL and the process."""
    url, options = store_url
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINCRAWLER_")}
    env |= {"CHAINCRAWLER_STORE__URL": url, "CHAINCRAWLER_NETWORK": "regtest",
            "CHAINCRAWLER_HTTP__PORT": str(port), "CHAINCRAWLER_CRAWLER__MAX_REORG_DEPTH": "20"}
    if options.get("schema"):
        env["CHAINCRAWLER_STORE__SCHEMA_NAME"] = options["schema"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chaincrawler", "serve", *models, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def at_writer_tip(reader_url: str, served: Served) -> None:
    """Wait until the reader process reports the writer's tip."""
    await served.synced()
    async with AsyncClient(reader_url) as api, asyncio.timeout(30):
        while True:
            with contextlib.suppress(httpx.TransportError):
                ready = await api.ready()
                if ready.at.tip is not None and served.crawler.tip is not None \
                        and ready.at.tip.hash == served.crawler.tip.hash:
                    return
            await asyncio.sleep(0.05)


async def test_the_serve_command_answers_as_the_writer_and_stops_on_sigterm(
        serve: Serve, store_url: tuple[str, dict[str, Any]]) -> None:
    served = await serve()
    async with serve_process(store_url, MODEL) as (reader_url, proc):
        await served.gen.fill(1, 2)
        await served.synced()
        await served.gen.reorg(1, 2)
        await at_writer_tip(reader_url, served)
        assert await answers(reader_url) == await answers(served.url)
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    tip = served.crawler.tip
    assert tip is not None
    assert f"served up to height {tip.height} (block {tip.hash})" in out.decode()


async def test_a_serve_process_follows_a_writer_of_stored_collections(
        serve: Serve, store_url: tuple[str, dict[str, Any]]) -> None:
    served = await serve(models=[AddressBalances(), StoredAddressBalances()])
    async with serve_process(store_url, STORED_MODEL) as (reader_url, _):
        for step in ("fill", "reorg", "fill"):
            if step == "fill":
                await served.gen.fill(2, 3)
            else:
                await served.gen.reorg(2, 3, double_spend=True)
            await at_writer_tip(reader_url, served)
            addresses = await top_addresses(served)
            assert await balances_of(reader_url, addresses) == \
                await balances_of(served.url, addresses)
        async with AsyncClient(reader_url) as api:
            chain = await api.chain()
            assert len(chain.reorgs) == 1
            tip = served.crawler.tip
            assert tip is not None
            state = await api.state(STORED, height=tip.height - 3)
            assert state.block is not None and state.block.height == tip.height - 3
