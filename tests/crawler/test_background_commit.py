"""A catch-up batch commits while the models process the next one: what a user relies on
still holds (order, all or nothing, readers served, restart where the last commit left)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import pytest

from chaincrawler.chain.networks import Network
from chaincrawler.chain.types import Block
from chaincrawler.crawler.errors import ModelFailedError
from chaincrawler.crawler.pipeline import Committed, Crawler, CrawlerOptions, Notification
from chaincrawler.eventstore import EventStore, StoreOperationalError, open_store
from chaincrawler.examples.stored_balances import StoredAddressBalances
from chaincrawler.models import Event, Model, on
from tests.crawler.fakes import FakeNode, make_chain

CHAIN = make_chain(10)
NETWORK = Network("fake", "bcrt", 0x6F, 0xC4, CHAIN[0].hash, 150, 1)
BATCH = CrawlerOptions(catchup_batch_blocks=3, poll_interval=0.01)  # commits 0-2, 3-5, 6-8, 9


class Seen(Event):
    height: int


class Heights(Model):
    """One event per block; ``fail_at``: the height whose first processing raises."""

    heights: list[int] = []  # noqa: RUF012 (state: annotated)
    processed = 0  # blocks processed by this instance (not state: counts the work)
    fail_at = -1  # not state either: a restore leaves it

    def process_block(self, block: Block) -> None:
        assert block.height is not None
        self.processed += 1
        if block.height == self.fail_at:
            self.fail_at = -1
            raise RuntimeError(f"bug at {block.height}")
        self.apply(Seen(height=block.height))

    @on(Seen)
    def _seen(self, event: Seen) -> None:
        self.heights.append(event.height)


class SlowStore:
    """Wraps a store's ``commit``: each waits (up to 0.3 s) for ``until`` to hold, and
    records how many blocks the watched model had processed when it started and ended."""

    def __init__(self, store: EventStore, processed: Callable[[], int]) -> None:
        self.store = store
        self.processed = processed
        self.until: Callable[[int], bool] = lambda start: False
        self.fail_on: int | None = None  # the commit (1-based) that raises
        self.spans: list[tuple[int, int]] = []
        self.committing = False  # a commit of blocks is under way
        self._commit = store.commit
        store.commit = self.commit  # type: ignore[method-assign]

    async def commit(self, *args: Any, **kwargs: Any) -> Any:
        if not args[0]:  # snapshots only: not waited for, not counted
            return await self._commit(*args, **kwargs)
        self.committing = True
        try:
            return await self._blocks(*args, **kwargs)
        finally:
            self.committing = False

    async def _blocks(self, *args: Any, **kwargs: Any) -> Any:
        start = self.processed()
        for _ in range(30):
            if self.until(start):
                break
            await asyncio.sleep(0.01)
        self.spans.append((start, self.processed()))
        if len(self.spans) == self.fail_on:
            raise StoreOperationalError("the disk went away")
        return await self._commit(*args, **kwargs)


@pytest.fixture
async def store() -> AsyncIterator[EventStore]:
    store = open_store("sqlite://")
    await store.open(network=NETWORK.name, genesis_hash=NETWORK.genesis_hash)
    yield store
    await store.close()


async def stored_heights(store: EventStore) -> list[int]:
    return [e.block_height for e in await store.read_events() if e.model == "heights"]


async def test_a_batch_commits_while_the_next_is_processed_and_listeners_hear_in_order(
    store: EventStore,
) -> None:
    model = Heights()
    slow = SlowStore(store, lambda: model.processed)
    slow.until = lambda start: model.processed > start  # the next batch has begun
    crawler = Crawler(FakeNode(CHAIN), store, [model], NETWORK, BATCH)  # type: ignore[arg-type]
    heard: list[Notification] = []
    crawler.subscribe(heard.append)
    await crawler.run(follow=False)
    first_start, first_end = slow.spans[0]
    assert first_start == 3 and first_end > 3  # block 3 ran while blocks 0-2 committed
    assert [n.blocks[-1].height for n in heard if isinstance(n, Committed)] == [2, 5, 8, 9]
    assert await stored_heights(store) == list(range(10))
    assert crawler.tip is not None and crawler.tip.height == 9
    async with crawler.committed() as tip:  # clean at the end: readers get the tip
        assert tip == crawler.tip and model.heights == list(range(10))


async def test_a_failed_background_commit_stops_the_crawl_and_a_restart_resumes(
    store: EventStore,
) -> None:
    model = Heights()
    slow = SlowStore(store, lambda: model.processed)
    slow.fail_on = 2  # blocks 3-5, committed while 6-8 are processed
    with pytest.raises(StoreOperationalError, match="the disk went away"):
        await Crawler(FakeNode(CHAIN), store, [model], NETWORK,  # type: ignore[arg-type]
                      BATCH).run(follow=False)
    tip = await store.tip()
    assert tip is not None and tip.height == 2  # nothing of the failed batch, or after it
    assert await stored_heights(store) == [0, 1, 2]
    slow.fail_on = None
    again = Heights()
    crawler = Crawler(FakeNode(CHAIN), store, [again], NETWORK, BATCH)  # type: ignore[arg-type]
    await crawler.run(follow=False)
    assert again.processed == 7  # resumed at block 3
    assert await stored_heights(store) == list(range(10))  # each block's event once
    assert again.heights == list(range(10))


async def test_a_model_failing_while_a_commit_is_in_flight_keeps_the_blocks_before_it(
    store: EventStore,
) -> None:
    model = Heights()
    model.fail_at = 4
    slow = SlowStore(store, lambda: model.processed)
    slow.until = lambda start: model.processed >= 5  # block 4 raised meanwhile
    crawler = Crawler(FakeNode(CHAIN), store, [model], NETWORK,  # type: ignore[arg-type]
                      CrawlerOptions(catchup_batch_blocks=3, on_model_error="stop"))
    with pytest.raises(ModelFailedError, match="bug at 4"):
        await crawler.run(follow=False)
    assert slow.spans[0] == (3, 5)  # the failure came while blocks 0-2 were committing
    assert await stored_heights(store) == [0, 1, 2, 3]  # then block 3 committed after them
    assert model.heights == [0, 1, 2, 3]  # rebuilt from the store, block 4 dropped


async def test_a_waiting_reader_is_let_in_between_catch_up_batches(store: EventStore) -> None:
    model = Heights()
    slow = SlowStore(store, lambda: model.processed)
    started = asyncio.Event()

    def first_commit_waits(start: int) -> bool:
        started.set()
        return reader_waiting.is_set()

    reader_waiting = asyncio.Event()
    slow.until = first_commit_waits
    crawler = Crawler(FakeNode(CHAIN), store, [model], NETWORK, BATCH)  # type: ignore[arg-type]
    run = asyncio.create_task(crawler.run(follow=False))
    seen: list[tuple[int, list[int]]] = []

    async def reader() -> None:
        async with crawler.committed() as tip:
            assert tip is not None
            seen.append((tip.height, list(model.heights)))

    await asyncio.wait_for(started.wait(), 5)
    reading = asyncio.create_task(reader())
    await asyncio.sleep(0.05)  # the reader waits for a clean state
    reader_waiting.set()
    await asyncio.wait_for(asyncio.gather(run, reading), 10)
    # not held off until the end of the catch-up (tip 9): the batch after the one in
    # flight committed in the foreground, and the reader saw exactly its state
    assert seen == [(5, [0, 1, 2, 3, 4, 5])]


async def test_a_model_with_stored_collections_commits_before_the_next_block(
    store: EventStore,
) -> None:
    model = StoredAddressBalances()
    processed = 0
    real = model.process_block

    async def counting(block: Block) -> None:
        nonlocal processed
        processed += 1
        await real(block)

    model.process_block = counting  # type: ignore[method-assign]
    slow = SlowStore(store, lambda: processed)
    slow.until = lambda start: processed > start
    await Crawler(FakeNode(CHAIN), store, [model], NETWORK,  # type: ignore[arg-type]
                  BATCH).run(follow=False)
    # each commit waited its full 0.3 s: no block was processed while one was in flight
    assert [end - start for start, end in slow.spans[:3]] == [0, 0, 0]


class Dumps(Heights):
    """Records, for each snapshot taken, whether a commit of blocks was under way."""

    name = "heights"
    store: ClassVar[SlowStore | None] = None
    taken: ClassVar[list[bool]] = []

    def snapshot_state(self) -> str:
        assert self.store is not None
        self.taken.append(self.store.committing)
        return super().snapshot_state()


async def test_a_run_ending_snapshots_while_its_last_batch_commits(store: EventStore) -> None:
    model = Dumps()
    Dumps.taken = []
    Dumps.store = slow = SlowStore(store, lambda: model.processed)
    slow.until = lambda start: bool(Dumps.taken)  # the snapshot is being taken
    await Crawler(FakeNode(CHAIN), store, [model], NETWORK, BATCH).run(  # type: ignore[arg-type]
        follow=False)
    assert Dumps.taken == [True]  # one snapshot, taken while blocks 9 committed
    snapshot = await store.latest_snapshot("heights")
    assert snapshot is not None and snapshot.block_height == 9


async def test_no_snapshot_is_written_when_the_last_commit_fails(store: EventStore) -> None:
    model = Dumps()
    Dumps.taken = []
    Dumps.store = slow = SlowStore(store, lambda: model.processed)
    slow.until = lambda start: bool(Dumps.taken)
    slow.fail_on = 4  # blocks 9: the run's last commit
    with pytest.raises(StoreOperationalError):
        await Crawler(FakeNode(CHAIN), store, [model], NETWORK,  # type: ignore[arg-type]
                      BATCH).run(follow=False)
    assert Dumps.taken == [True]  # taken meanwhile, then dropped
    tip = await store.tip()
    assert tip is not None and tip.height == 8
    assert await store.latest_snapshot("heights") is None
