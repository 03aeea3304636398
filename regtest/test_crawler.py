"""The crawler against a node: catch-up, reorgs, deep reorgs, failing models, node loss."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest

from chaincrawler.chain.networks import MAINNET, REGTEST
from chaincrawler.chain.types import Block
from chaincrawler.crawler.errors import (
    DeepReorgError,
    ModelFailedError,
    NodeNetworkMismatchError,
)
from chaincrawler.crawler.pipeline import Committed, Crawler, CrawlerOptions, RolledBack
from chaincrawler.eventstore import (
    BlockRecord,
    EventQuery,
    EventStatus,
    NetworkMismatchError,
    SchemaMissingError,
    open_store,
)
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.node.client import NodeClient, RetryPolicy
from chaincrawler.node.errors import NodeUnreachableError
from chaincrawler.testing.chaingen import ChainGenerator
from chaincrawler.testing.nodeproc import NodeHandle
from regtest.crawling import active_log, assert_matches_fresh_crawl, client, crawl

MODEL = "chaincrawler.examples.balances:AddressBalances"


@pytest.fixture
async def chain(fresh_node) -> AsyncIterator[tuple[NodeHandle, ChainGenerator]]:
    """A fresh node with 101+ blocks and a few blocks of transactions."""
    node = fresh_node()
    async with client(node) as rpc:
        gen = ChainGenerator(rpc, seed="crawler")
        await gen.mine_until_mature()
        await gen.fill(4, 8)
        yield node, gen


async def test_catch_up_then_state_equals_a_fresh_crawl(chain, stores) -> None:
    node, gen = chain
    store = stores("a")
    crawler = await crawl(node, store, catchup_batch_blocks=7)
    assert crawler.tip is not None and crawler.tip.hash == await gen.rpc.call("getbestblockhash")
    balances = crawler.models[1]
    assert isinstance(balances, AddressBalances)
    assert balances.balances and all(v >= 0 for v in balances.balances.values())
    await assert_matches_fresh_crawl(node, store, crawler.models, stores("fresh"))
    # a restart resumes from the stored tip and doubles nothing
    again = await crawl(node, store)
    assert again.tip == crawler.tip
    assert await active_log(store) == await active_log(stores("fresh"))


async def test_reorg_with_double_spend_rolls_back_and_matches_fresh_crawl(
    chain, stores
) -> None:
    node, gen = chain
    store = stores("r")
    await crawl(node, store)
    result = await gen.reorg(3, 4, double_spend=True)
    notes: list[object] = []
    async with client(node) as rpc:
        s = await store.open()
        try:
            crawler = Crawler(rpc, s, [AddressBalances()], REGTEST, CrawlerOptions())
            crawler.subscribe(notes.append)
            await crawler.run(follow=False)
            rolled = await s.read_events(EventQuery(include_rolled_back=True))
            reorgs = await s.reorgs()
        finally:
            await s.close()
    assert crawler.tip is not None and crawler.tip.hash == result.new_tip
    assert isinstance(notes[0], RolledBack)
    assert notes[0].reorg.fork_height == result.fork_height
    assert notes[0].reorg.depth == 3
    assert all(isinstance(n, Committed) for n in notes[1:])
    assert reorgs[0].old_tip_hash == result.old_tip
    old = [e for e in rolled if e.status == EventStatus.ROLLED_BACK]
    assert old and {e.block_hash for e in old} <= set(result.disconnected)
    assert all(e.reorg_id == reorgs[0].id for e in old)
    chain_model = crawler.models[0]
    assert chain_model.run_query("reorgs", {})[0]["fork_height"] == result.fork_height
    await assert_matches_fresh_crawl(node, store, crawler.models, stores("fresh"))


async def test_follow_mode_sees_new_blocks_and_a_reorg(chain, stores) -> None:
    node, gen = chain
    store = stores("f")
    async with client(node) as rpc:
        s = await store.open()
        crawler = Crawler(rpc, s, [AddressBalances()], REGTEST, CrawlerOptions(poll_interval=0.05))
        task = asyncio.create_task(crawler.run(follow=True))
        try:
            await gen.fill(1, 5)
            result = await gen.reorg(2, 3)
            for _ in range(400):
                if crawler.tip is not None and crawler.tip.hash == result.new_tip:
                    break
                await asyncio.sleep(0.05)
            assert crawler.tip is not None and crawler.tip.hash == result.new_tip
        finally:
            crawler.stop()
            await task
            await s.close()
    await assert_matches_fresh_crawl(node, store, crawler.models, stores("fresh"))


async def test_reorg_deeper_than_the_window_stops_with_store_unchanged(
    chain, stores
) -> None:
    node, gen = chain
    store = stores("d")
    await crawl(node, store, max_reorg_depth=2)
    before = await active_log(store)
    await gen.reorg(4, 5)
    with pytest.raises(DeepReorgError, match="chaincrawler rebuild"):
        await crawl(node, store, max_reorg_depth=2)
    assert await active_log(store) == before


class Boom(AddressBalances):
    name = "address_balances"
    fail_at: ClassVar[int | None] = None

    def process_block(self, block: Block) -> None:
        if block.height == type(self).fail_at:
            raise RuntimeError("boom")
        super().process_block(block)


async def test_model_that_raises_commits_nothing_of_that_block(chain, stores) -> None:
    node, gen = chain
    store = stores("m")
    tip = await gen.rpc.call("getblockcount")
    Boom.fail_at = tip - 2
    try:
        with pytest.raises(ModelFailedError) as info:
            await crawl(node, store, [Boom()], catchup_batch_blocks=50)
    finally:
        Boom.fail_at = None
    err = info.value
    assert (err.model, err.height) == ("address_balances", tip - 2)
    assert err.block_hash == await gen.rpc.call("getblockhash", tip - 2)
    assert "RuntimeError: boom" in str(err)
    s = await store.open(writer=False)
    try:
        stored_tip = await s.tip()
    finally:
        await s.close()
    assert stored_tip is not None and stored_tip.height == tip - 3
    # restart with the fixed model: resumes there and ends equal to a fresh crawl
    crawler = await crawl(node, store, [AddressBalances()])
    await assert_matches_fresh_crawl(node, store, crawler.models, stores("fresh"))


async def test_model_error_retry_policy_recovers_from_a_transient_failure(
    chain, stores
) -> None:
    node, _gen = chain
    failures = {"left": 2}

    class Flaky(AddressBalances):
        name = "address_balances"

        def process_block(self, block: Block) -> None:
            if failures["left"] and block.height == 5:
                failures["left"] -= 1
                raise RuntimeError("transient")
            super().process_block(block)

    store = stores("flaky")
    crawler = await crawl(node, store, [Flaky()], on_model_error="retry", model_error_retries=3)
    assert failures["left"] == 0
    await assert_matches_fresh_crawl(node, store, crawler.models, stores("fresh"))


async def test_store_of_another_network_is_refused(chain, stores) -> None:
    spec = stores("main")
    store = open_store(spec.url, **({"schema": spec.schema} if spec.schema else {}))
    await store.open(network="mainnet", genesis_hash=MAINNET.genesis_hash)
    # A store holding blocks (an empty one is re-stamped for the writer instead).
    await store.commit([BlockRecord(0, MAINNET.genesis_hash, "00" * 32, 1231006505)], [])
    await store.close()
    with pytest.raises(NetworkMismatchError, match="mainnet"):
        await spec.open()


async def test_node_of_another_network_is_refused(chain, stores) -> None:
    node, _ = chain
    async with client(node) as rpc:
        spec = stores("m")
        s = open_store(spec.url, **({"schema": spec.schema} if spec.schema else {}))
        await s.open(network="mainnet", genesis_hash=MAINNET.genesis_hash)
        try:
            crawler = Crawler(rpc, s, [AddressBalances()], MAINNET)
            with pytest.raises(NodeNetworkMismatchError, match="regtest"):
                await crawler.run(follow=False)
            assert await s.tip() is None
        finally:
            await s.close()


async def test_unreachable_node_is_a_clear_error(stores) -> None:
    rpc = NodeClient("http://u:secret@127.0.0.1:9", retry=RetryPolicy(attempts=2,
                                                                      initial_delay=0.01))
    s = await stores("u").open()
    try:
        crawler = Crawler(rpc, s, [AddressBalances()], REGTEST)
        with pytest.raises(NodeUnreachableError) as info:
            await crawler.run(follow=False)
    finally:
        await s.close()
        await rpc.close()
    assert "127.0.0.1:9" in str(info.value) and "secret" not in str(info.value)


async def test_node_lost_mid_sync_then_resume_loses_nothing(chain, stores) -> None:
    node, _gen = chain
    store = stores("lost")
    async with client(node, attempts=2) as rpc:
        s = await store.open()
        try:
            crawler = Crawler(rpc, s, [AddressBalances()], REGTEST,
                              CrawlerOptions(catchup_batch_blocks=3, fetch_chunk_blocks=1,
                                             fetch_concurrency=1))

            def lose_node(note: object) -> None:
                if isinstance(note, Committed) and node.process is not None:
                    node.stop()

            crawler.subscribe(lose_node)
            with pytest.raises(NodeUnreachableError):
                await crawler.run(follow=False)
            committed = await s.tip()
        finally:
            await s.close()
    assert committed is not None
    node.start()
    async with client(node) as rpc:
        best = await rpc.call("getbestblockhash")
    assert committed.hash != best  # the loss really happened mid-sync
    crawler = await crawl(node, store)
    assert crawler.tip is not None and crawler.tip.hash == best
    await assert_matches_fresh_crawl(node, store, crawler.models, stores("fresh"))


async def test_rebuild_command_recovers_from_a_deep_reorg(chain, stores) -> None:
    node, gen = chain
    store = stores("deep")
    await crawl(node, store, max_reorg_depth=2)
    await gen.reorg(4, 5)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CHAINCRAWLER_")},
        **store.env(),
        "CHAINCRAWLER_NETWORK": "regtest",
        "CHAINCRAWLER_NODE__URLS": node.url_with_auth,
        "CHAINCRAWLER_CRAWLER__MAX_REORG_DEPTH": "2",
    }
    run = [sys.executable, "-m", "chaincrawler", "run", MODEL, "--no-follow"]
    refused = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120,
                             check=False)
    assert refused.returncode == 1
    assert "chaincrawler rebuild" in refused.stderr
    rebuilt = subprocess.run([sys.executable, "-m", "chaincrawler", "rebuild", MODEL, "--yes"],
                             env=env, capture_output=True, text=True, timeout=120, check=False)
    assert rebuilt.returncode == 0, rebuilt.stderr
    s = await store.open(writer=False)
    try:
        tip = await s.tip()
        reorgs = await s.reorgs()
    finally:
        await s.close()
    assert tip is not None and tip.hash == await gen.rpc.call("getbestblockhash")
    assert reorgs == []  # a fresh store: the deep reorg was never replayed into it
    fresh = stores("fresh")
    crawler = await crawl(node, fresh)
    assert await active_log(store) == await active_log(fresh)
    assert crawler.tip == tip


async def test_node_chain_getting_shorter_is_followed_down(chain, stores) -> None:
    node, gen = chain
    store = stores("short")
    before = await crawl(node, store)
    assert before.tip is not None
    dropped = await gen.rpc.call("getblockhash", before.tip.height - 2)
    await gen.rpc.call("invalidateblock", dropped)  # the node's tip is now 3 blocks lower
    try:
        after = await crawl(node, store)
        assert after.tip is not None and after.tip.height == before.tip.height - 3
        assert after.tip.hash == await gen.rpc.call("getbestblockhash")
        await assert_matches_fresh_crawl(node, store, after.models, stores("fresh"))
    finally:
        await gen.rpc.call("reconsiderblock", dropped)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_signal_stops_cleanly_with_a_snapshot_at_the_tip(chain, stores, sig) -> None:
    node, gen = chain
    store = stores("sig")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CHAINCRAWLER_")},
        **store.env(),
        "CHAINCRAWLER_NETWORK": "regtest",
        "CHAINCRAWLER_NODE__URLS": node.url_with_auth,
        "CHAINCRAWLER_CRAWLER__POLL_INTERVAL": "0.05",
    }
    proc = subprocess.Popen([sys.executable, "-m", "chaincrawler", "run", MODEL], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        best = await gen.rpc.call("getbestblockhash")
        for _ in range(600):  # following the tip once caught up
            try:
                s = await store.open(writer=False)
            except SchemaMissingError:  # the crawler has not created the store yet
                await asyncio.sleep(0.05)
                continue
            try:
                tip = await s.tip()
            finally:
                await s.close()
            if tip is not None and tip.hash == best:
                break
            await asyncio.sleep(0.05)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    s = await store.open(writer=False)
    try:
        tip = await s.tip()
        assert tip is not None and tip.hash == best
        for model in ("chain", "address_balances"):
            snapshot = await s.latest_snapshot(model)
            assert snapshot is not None and snapshot.block_height == tip.height, model
    finally:
        await s.close()
