"""The crawler with a model mixing plain attributes and stored collections: writes commit
with their blocks, reorgs restore both kinds without replay, restarts restore the plain
attributes, a failing block commits nothing, and a fresh crawl stores the same values."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

import pytest

from chaincrawler.chain.types import Block
from chaincrawler.crawler.errors import ModelFailedError
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
from chaincrawler.crawler.restore import restore_model
from chaincrawler.eventstore import EventStore, open_store
from chaincrawler.models import Event, Model, StateError, StoredDict, on
from tests.crawler.fakes import FakeNode, make_chain
from tests.crawler.test_stored_retention import fork_of, network_of


class Mined(Event):
    height: int
    hash: str


class Mixed(Model):
    """Blocks per height mod 7 and the newest hash per height mod 5 in the store (every
    fourth block deletes a key), the count and last hash of blocks in memory."""

    fail_at: ClassVar[int | None] = None

    per_slot: StoredDict[str, int] = StoredDict()
    latest: StoredDict[str, str] = StoredDict()
    blocks: int = 0
    last_hash: str = ""

    async def process_block(self, block: Block) -> None:
        assert block.height is not None
        h = block.height
        await self.per_slot.prefetch([str(h % 7)])
        await self.latest.prefetch([str(h % 5), str((h + 1) % 5)])
        self.apply(Mined(height=h, hash=block.hash))
        if h == type(self).fail_at:
            raise RuntimeError("boom")

    @on(Mined)
    def _mined(self, event: Mined) -> None:
        slot = str(event.height % 7)
        self.per_slot[slot] = self.per_slot.get(slot, 0) + 1
        self.latest[str(event.height % 5)] = event.hash
        gone = str((event.height + 1) % 5)
        if event.height % 4 == 0 and gone in self.latest:
            del self.latest[gone]
        self.blocks += 1
        self.last_hash = event.hash


def expected(chain: list[Block]) -> tuple[dict[str, int], dict[str, str]]:
    per_slot: dict[str, int] = {}
    latest: dict[str, str] = {}
    for b in chain:
        h = b.height or 0
        per_slot[str(h % 7)] = per_slot.get(str(h % 7), 0) + 1
        latest[str(h % 5)] = b.hash
        if h % 4 == 0:
            latest.pop(str((h + 1) % 5), None)
    return per_slot, latest


async def scan(store: EventStore, model: str, collection: str) -> list[tuple[str, str]]:
    return (await store.scan(model, collection, limit=10_000)).result


async def new_store(chain: list[Block]) -> EventStore:
    s = open_store("sqlite://")
    await s.open(network="fake", genesis_hash=chain[0].hash)
    return s


@pytest.fixture
async def store() -> AsyncIterator[EventStore]:
    s = await new_store(make_chain(1))
    yield s
    await s.close()


async def crawl(node: FakeNode, store: EventStore, model: Model, **options: object) -> Crawler:
    crawler = Crawler(node, store, [model], network_of(node.chain),  # type: ignore[arg-type]
                      CrawlerOptions(**{"poll_interval": 0.01, "max_reorg_depth": 10,  # type: ignore[arg-type]
                                        "catchup_batch_blocks": 6, **options}))
    await crawler.run(follow=False)
    return crawler


async def assert_state(store: EventStore, model: Mixed, chain: list[Block]) -> None:
    per_slot, latest = expected(chain)
    assert dict((k, int(v)) for k, v in await scan(store, "mixed", "per_slot")) == per_slot
    assert {k: v.strip('"') for k, v in await scan(store, "mixed", "latest")} == latest
    assert (model.blocks, model.last_hash) == (len(chain), chain[-1].hash)
    for key, value in per_slot.items():  # the cache was dropped or agrees with the store
        await model.per_slot.prefetch([key])
        assert model.per_slot[key] == value


async def test_writes_commit_with_blocks_and_reorgs_restore_without_replay(
    store: EventStore,
) -> None:
    chain = make_chain(40)
    node = FakeNode(chain)
    model = Mixed()
    await crawl(node, store, model)
    await assert_state(store, model, chain)
    # depth 4, 3 and 10 (the window)
    for salt, (fork, length) in enumerate(((35, 6), (38, 3), (31, 12)), 2):
        node.chain = fork_of(node.chain, fork, length, salt)
        node.known.update((b.hash, b) for b in node.chain)
        await crawl(node, store, model)  # the same instance: its cache must not lie
        await assert_state(store, model, node.chain)
    assert [r.depth for r in await store.reorgs()] == [10, 3, 4]
    # A restart: a new instance restores its plain attributes from the tip's snapshot.
    again = Mixed()
    await crawl(node, store, again)
    await assert_state(store, again, node.chain)
    # A fresh crawl of the final chain stores exactly the same collections.
    fresh_store = await new_store(chain)
    try:
        await crawl(FakeNode(node.chain), fresh_store, Mixed(), catchup_batch_blocks=50)
        for collection in ("per_slot", "latest"):
            assert await scan(store, "mixed", collection) == await scan(
                fresh_store, "mixed", collection)
    finally:
        await fresh_store.close()


async def test_a_failing_block_commits_none_of_its_writes(store: EventStore) -> None:
    chain = make_chain(20)
    Mixed.fail_at = 15
    try:
        with pytest.raises(ModelFailedError):
            await crawl(FakeNode(chain), store, Mixed())
    finally:
        Mixed.fail_at = None
    tip = await store.tip()
    assert tip is not None and tip.height == 14
    model = Mixed()
    await crawl(FakeNode(chain[:15]), store, model)
    await assert_state(store, model, chain[:15])
    await crawl(FakeNode(chain), store, model)
    await assert_state(store, model, chain)


async def test_a_stored_model_is_never_replayed(store: EventStore) -> None:
    chain = make_chain(5)
    await crawl(FakeNode(chain), store, Mixed())
    with pytest.raises(StateError, match=r"never replayed.*rebuild model 'mixed'"):
        await restore_model(Mixed(), store, await store.tip(), use_snapshot=False)
