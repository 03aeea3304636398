"""The crawler loop on a simulated node: state rebuilds, the store's models, failing events,
idle runs, node outages, the committed-state gate, the model's tip and configuration."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block
from chaincrawler.crawler.errors import CrawlerError, ModelFailedError, ModelNotInStoreError
from chaincrawler.crawler.follow import TipFollower
from chaincrawler.crawler.pipeline import Committed, Crawler, CrawlerOptions, Notification
from chaincrawler.crawler.restore import replay_events, restore_model
from chaincrawler.eventstore import EventQuery, EventStore, SQLiteEventStore
from chaincrawler.models import Event, EventLoadError, Model, ReplayError, Tip, on, query
from chaincrawler.node.client import NodeClient, RetryPolicy
from chaincrawler.node.errors import NodeUnreachableError
from chaincrawler.testing.simnode import SimNode


class Seen(Event):
    height: int


class Heights(Model):
    """One event per block: its height; ``confirmations`` reads the model's tip."""

    heights: list[int] = []  # noqa: RUF012
    tips: list[int] = []  # noqa: RUF012

    def process_block(self, block: Block) -> None:
        assert block.height is not None and self.tip is not None
        self.tips.append(self.tip.height)
        self.apply(Seen(height=block.height))

    @on(Seen)
    def _seen(self, event: Seen) -> None:
        self.heights.append(event.height)

    @query
    def confirmations(self, height: int) -> int:
        assert self.tip is not None
        return self.tip.height - height + 1


class ReplayRaises(Heights):
    """A new version of ``heights`` whose handler fails on replay (a handler bug)."""

    name = "heights"

    @on(Seen)
    def _seen(self, event: Seen) -> None:
        if self.current_block is None:
            raise RuntimeError("handler bug on replay")
        self.heights.append(event.height)


class SeenV2(Event):
    """``Seen`` with its field renamed and no upcast: stored v1 payloads fail to load."""

    event_type = "Seen"
    at: int


class RenamedField(Model):
    name = "heights"
    heights: list[int] = []  # noqa: RUF012
    tips: list[int] = []  # noqa: RUF012

    @on(SeenV2)
    def _seen(self, event: SeenV2) -> None:
        self.heights.append(event.at)


class Other(Model):
    count: int = 0

    def process_block(self, block: Block) -> None:
        self.apply(Seen(height=block.height or 0))

    @on(Seen)
    def _seen(self, event: Seen) -> None:
        self.count += 1


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimNode]:
    async with SimNode(tmp_path / "node", rpc_port=0, rest=True) as node:
        yield node


@pytest.fixture
async def rpc(sim: SimNode) -> AsyncIterator[NodeClient]:
    async with NodeClient(sim.rpc_url, cookie_file=sim.cookie_file, rest=True,
                          retry=RetryPolicy(attempts=2, initial_delay=0.01)) as client:
        yield client


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EventStore]:
    s = SQLiteEventStore(tmp_path / "store.db")
    await s.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    yield s
    await s.close()


async def mine(rpc: NodeClient, n: int, script: str = "51") -> list[str]:
    """``n`` blocks paying to ``script`` (another script mines a distinct competing branch)."""
    desc = (await rpc.call("getdescriptorinfo", f"raw({script})"))["descriptor"]
    hashes: list[str] = await rpc.call("generatetodescriptor", n, desc)
    return hashes


async def crawl(rpc: NodeClient, store: EventStore, models: Iterable[Model],
                **options: Any) -> Crawler:
    crawler = Crawler(rpc, store, list(models), REGTEST,
                      CrawlerOptions(**{"poll_interval": 0.05, **options}))
    await crawler.run(follow=False)
    return crawler


async def fresh_state(store: EventStore, model: Model) -> dict[str, Any]:
    """The model's state replayed from scratch from the active log."""
    await restore_model(model, store, await store.tip(), use_snapshot=False)
    return dict(model.state_dict())


async def wait_for(condition: Any, task: asyncio.Task[Any] | None = None) -> None:
    for _ in range(600):
        if condition():
            return
        if task is not None and task.done():
            task.result()
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


# -- B1: a failed rebuild after a reorg must not be snapshotted -----------------------------


@pytest.mark.parametrize(("broken", "error"), [
    (ReplayRaises, ReplayError),  # a handler that raises during the replay
    (RenamedField, EventLoadError),  # an event that fails to load
])
async def test_a_failed_rebuild_after_a_reorg_saves_no_snapshot(
    rpc: NodeClient, store: EventStore, broken: type[Model], error: type[Exception]
) -> None:
    await mine(rpc, 10)
    await crawl(rpc, store, [Heights()])  # snapshots at the tip (10) on shutdown
    await rpc.call("invalidateblock", await rpc.get_block_hash(9))
    await mine(rpc, 3, "52")  # fork at 8, new tip 11
    failing = Crawler(rpc, store, [broken()], REGTEST)
    with pytest.raises(error, match=r"'Seen' at position \d+ \(block 0\) raised while rebuilding "
                                    r"state: RuntimeError: handler bug on replay|cannot load "
                                    r"event 'Seen'"):
        await failing.run(follow=False)
    with pytest.raises(CrawlerError, match="uncommitted state"):  # nothing serves it either
        async with failing.committed():
            pass
    snapshot = await store.latest_snapshot("heights")
    if snapshot is not None:  # any snapshot left must be exact
        assert json.loads(snapshot.state)["heights"] == list(range(snapshot.block_height + 1))
    # the first version again: its state equals a replay of the final chain
    crawler = await crawl(rpc, store, [Heights()])
    live = crawler.models[1]
    assert isinstance(live, Heights)
    assert live.heights == list(range(12))
    assert live.heights == (await fresh_state(store, Heights()))["heights"]


# -- B2: a model the store has no history of never starts at the tip ---------------------


async def test_a_model_added_to_a_crawled_store_is_refused(
    rpc: NodeClient, store: EventStore
) -> None:
    await mine(rpc, 5)
    await crawl(rpc, store, [Heights()])
    before = await store.max_position()
    with pytest.raises(ModelNotInStoreError, match=r"'other' was never crawled.*chaincrawler "
                                                   r"rebuild") as info:
        await crawl(rpc, store, [Heights(), Other()])
    assert info.value.models.keys() == {"other"} and info.value.tip_height == 5
    assert await store.max_position() == before
    assert await store.read_events(EventQuery(model="other")) == []


async def test_a_model_left_out_then_added_back_is_refused(
    rpc: NodeClient, store: EventStore
) -> None:
    await mine(rpc, 3)
    await crawl(rpc, store, [Heights(), Other()])
    await mine(rpc, 2)
    await crawl(rpc, store, [Heights()])  # other falls behind at height 3
    await mine(rpc, 1)
    with pytest.raises(ModelNotInStoreError, match=r"'other' was left out of a run at height 3"):
        await crawl(rpc, store, [Heights(), Other()])
    again = await crawl(rpc, store, [Heights()])  # the others go on
    assert again.tip is not None and again.tip.height == 6


async def test_the_models_of_a_first_crawl_are_registered_and_run_again(
    rpc: NodeClient, tmp_path: Path
) -> None:
    await mine(rpc, 3)
    path = tmp_path / "reopened.db"
    for _ in range(2):  # the registry outlives the store object
        store = SQLiteEventStore(path)
        await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
        try:
            await crawl(rpc, store, [Heights(), Other()])
            assert await store.known_models() >= {"heights", "other"}
        finally:
            await store.close()
        await mine(rpc, 1)
    store = SQLiteEventStore(path)
    await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    try:
        assert (await store.tip() or pytest.fail("no tip")).height == 4

        class Late(Other):
            name = "late"

        with pytest.raises(ModelNotInStoreError, match="'late' was never crawled"):
            await crawl(rpc, store, [Heights(), Other(), Late()])
    finally:
        await store.close()


# -- B5: an event that cannot be serialised gets the model error policy -----------------------


class Weird(Event):
    value: Any


class Unserialisable(Model):
    calls: ClassVar[list[int]] = []

    def process_block(self, block: Block) -> None:
        assert block.height is not None
        type(self).calls.append(block.height)
        if block.height == 4:
            self.apply(Weird(value=object()))

    @on(Weird)
    def _weird(self, event: Weird) -> None:
        pass


@pytest.mark.parametrize(("policy", "calls_at_4"), [("stop", 1), ("retry", 2)])
async def test_an_unserialisable_event_names_model_type_and_height(
    rpc: NodeClient, store: EventStore, policy: str, calls_at_4: int
) -> None:
    await mine(rpc, 6)
    Unserialisable.calls = []
    with pytest.raises(ModelFailedError) as info:
        await crawl(rpc, store, [Unserialisable()], on_model_error=policy,
                    model_error_retries=1)
    err = info.value
    assert (err.model, err.height) == ("unserialisable", 4)
    assert "cannot serialise event 'Weird'" in str(err)
    assert Unserialisable.calls.count(4) == calls_at_4
    tip = await store.tip()
    assert tip is not None and tip.height == 3  # nothing of block 4


# -- B6: a run with nothing to do says so; an outage while following is waited out ----------


async def test_a_start_height_beyond_the_node_tip_says_so(
    rpc: NodeClient, store: EventStore
) -> None:
    await mine(rpc, 2)
    crawler = Crawler(rpc, store, [Heights()], REGTEST, CrawlerOptions(start_height=50))
    summary = await crawler.run(follow=False)
    assert summary.blocks == 0 and summary.tip is None
    assert "start_height 50 is beyond the node's tip (height 2)" in summary.describe()


async def test_a_run_at_the_node_tip_says_there_was_nothing_to_do(
    rpc: NodeClient, store: EventStore
) -> None:
    await mine(rpc, 2)
    first = await Crawler(rpc, store, [Heights()], REGTEST).run(follow=False)
    assert first.blocks == 3 and "committed 3 block(s); tip 2" in first.describe()
    again = await Crawler(rpc, store, [Heights()], REGTEST).run(follow=False)
    assert again.blocks == 0
    assert "nothing crawled: already at the node's tip (height 2)" in again.describe()
    until = await Crawler(rpc, store, [Heights()], REGTEST).run(follow=False, until_height=1)
    assert "at or above until_height 1" in until.describe()


async def test_a_node_outage_while_following_is_waited_out(
    tmp_path: Path, store: EventStore
) -> None:
    datadir = tmp_path / "outage-node"
    node = SimNode(datadir, rpc_port=0)
    await node.start()
    port = node.rpc_port
    async with NodeClient(node.rpc_url, cookie_file=node.cookie_file, rest=True,
                          retry=RetryPolicy(attempts=2, initial_delay=0.01)) as rpc:
        await mine(rpc, 3)
        crawler = Crawler(rpc, store, [Heights()], REGTEST, CrawlerOptions(poll_interval=0.05))
        task = asyncio.create_task(crawler.run(follow=True))
        try:
            await wait_for(lambda: crawler.tip is not None and crawler.tip.height == 3, task)
            await node.stop()
            await wait_for(lambda: crawler.node_outage_since is not None, task)
            node = SimNode(datadir, rpc_port=port)
            await node.start()
            await mine(rpc, 2)
            await wait_for(lambda: crawler.tip is not None and crawler.tip.height == 5, task)
            assert crawler.node_outage_since is None and not task.done()
        finally:
            crawler.stop()
            await task
            await node.stop()


async def test_an_unreachable_node_without_follow_still_ends_the_run(
    rpc: NodeClient, sim: SimNode, store: EventStore
) -> None:
    await mine(rpc, 2)
    crawler = Crawler(rpc, store, [Heights()], REGTEST)
    await crawler.start()
    await sim.stop()
    with pytest.raises(NodeUnreachableError, match="no node reachable"):
        await crawler.run(follow=False)


# -- committed(): the models at committed state, for transports -----------------------------


async def test_committed_holds_the_models_at_the_committed_tip(
    rpc: NodeClient, store: EventStore
) -> None:
    await mine(rpc, 3)
    model = Heights()
    crawler = Crawler(rpc, store, [model], REGTEST, CrawlerOptions(poll_interval=0.02))
    task = asyncio.create_task(crawler.run(follow=True))
    try:
        async with crawler.committed() as tip:  # after start(): the store is empty yet
            assert tip is None and model.heights == []
        await wait_for(lambda: crawler.tip is not None and crawler.tip.height == 3, task)
        async with crawler.committed() as tip:
            assert tip is not None and tip.height == 3
            assert model.heights == [0, 1, 2, 3]
            await mine(rpc, 1)
            for _ in range(20):  # many polls: the crawler starts no block meanwhile
                await asyncio.sleep(0.02)
            assert crawler.tip == tip and model.heights == [0, 1, 2, 3]
            assert model.tip == Tip(tip.height, tip.hash)
        await wait_for(lambda: crawler.tip is not None and crawler.tip.height == 4, task)
        async with crawler.committed() as tip:
            assert tip is not None and model.heights[-1] == tip.height == 4
    finally:
        crawler.stop()
        await task


# -- the follower seam ----------------------------------------------------------------------


class CountingFollower(TipFollower):
    def __init__(self, crawler_stop: list[Crawler]) -> None:
        self.waits = 0
        self.entered = False
        self._crawler = crawler_stop

    async def __aenter__(self) -> CountingFollower:
        self.entered = True
        return self

    async def wait(self, stopping: asyncio.Event) -> None:
        self.waits += 1
        if self.waits == 2:
            self._crawler[0].stop()


async def test_the_crawler_waits_on_the_follower_it_is_given(
    rpc: NodeClient, store: EventStore
) -> None:
    await mine(rpc, 2)
    holder: list[Crawler] = []
    follower = CountingFollower(holder)
    crawler = Crawler(rpc, store, [Heights()], REGTEST, follower=follower)
    holder.append(crawler)
    summary = await crawler.run(follow=True)
    assert follower.entered and follower.waits == 2
    assert summary.tip is not None and summary.tip.height == 2


# -- restore: the one implementation, usable by readers -------------------------------------


async def test_a_reader_restores_then_applies_newly_committed_events(
    rpc: NodeClient, store: EventStore
) -> None:
    await mine(rpc, 4)
    await crawl(rpc, store, [Heights()], snapshot_interval=2)
    reader = Heights()
    restored = await restore_model(reader, store, await store.tip())
    assert restored.snapshot_height == 4 and reader.heights == [0, 1, 2, 3, 4]
    notes: list[Notification] = []
    await mine(rpc, 3)
    crawler = Crawler(rpc, store, [Heights()], REGTEST, CrawlerOptions(snapshot_interval=2))
    crawler.subscribe(notes.append)
    await crawler.run(follow=False)
    for note in notes:
        assert isinstance(note, Committed)
        events = await store.read_events(EventQuery(from_position=note.positions.start,
                                                    to_position=note.positions.stop - 1))
        await replay_events(reader, events, note.blocks[-1])
    assert reader.heights == list(range(8))
    assert reader.tip is not None and crawler.tip is not None
    assert reader.tip.hash == crawler.tip.hash
    assert reader.run_query("confirmations", {"height": 7}) == 1


# -- the model's tip and configuration ------------------------------------------------------


class Deposits(Model):
    """Configured with keyword arguments; the watch list is not state."""

    seen: dict[int, int] = {}  # noqa: RUF012

    def __init__(self, *, every: int, label: str = "deposits") -> None:
        super().__init__()
        self.every = every
        self.label = label

    def process_block(self, block: Block) -> None:
        assert block.height is not None
        if block.height % self.every == 0:
            self.apply(Seen(height=block.height))

    @on(Seen)
    def _seen(self, event: Seen) -> None:
        self.seen[event.height] = event.height // self.every


async def test_a_configured_model_crawls_snapshots_and_replays(
    rpc: NodeClient, store: EventStore
) -> None:
    await mine(rpc, 7)
    crawler = await crawl(rpc, store, [Deposits(every=3)], snapshot_interval=4)
    live = crawler.models[1]
    assert isinstance(live, Deposits) and live.seen == {0: 0, 3: 1, 6: 2}
    assert "every" not in json.loads(live.snapshot_state())
    rebuilt = Deposits(every=3)
    restored = await restore_model(rebuilt, store, await store.tip())
    assert restored.snapshot_height is not None and rebuilt.seen == live.seen
    assert (await fresh_state(store, Deposits(every=3)))["seen"] == live.seen
    again = await crawl(rpc, store, [Deposits(every=3, label="x")])  # restored from the store
    assert again.models[1].state_dict() == live.state_dict()


async def test_the_model_tip_is_the_block_being_processed_then_the_committed_tip(
    rpc: NodeClient, store: EventStore
) -> None:
    await mine(rpc, 3)
    crawler = await crawl(rpc, store, [Heights()])
    model = crawler.models[1]
    assert isinstance(model, Heights) and crawler.tip is not None
    assert model.tips == [0, 1, 2, 3]  # in process_block: the block being processed
    assert model.tip == Tip(crawler.tip.height, crawler.tip.hash)
    assert model.run_query("confirmations", {"height": 1}) == 3
    restarted = Heights()
    await Crawler(rpc, store, [restarted], REGTEST).start()
    assert restarted.tip == model.tip  # restored: the committed tip
