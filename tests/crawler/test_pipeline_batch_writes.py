"""A catch-up batch commits early once its stored-collection writes reach
``catchup_batch_writes``: every block still commits whole, in height order, and the
collections end exactly as one big batch (or a reorg across the early commits) leaves them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chaincrawler.chain.types import Block
from chaincrawler.config import Settings
from chaincrawler.crawler.pipeline import Committed, Crawler, CrawlerOptions, Notification
from chaincrawler.eventstore import EventStore, open_store
from chaincrawler.models import Event, Model, StoredDict, on
from tests.crawler.fakes import FakeNode, make_chain
from tests.crawler.test_stored_retention import fork_of, network_of


class Seen(Event):
    height: int
    hash: str


class Slots(Model):
    """Two writes a block: the newest height per height mod 3, and each block's hash."""

    newest: StoredDict[str, int] = StoredDict()
    hashes: StoredDict[str, str] = StoredDict()

    async def process_block(self, block: Block) -> None:
        assert block.height is not None
        await self.newest.prefetch([str(block.height % 3)])
        await self.hashes.prefetch([str(block.height)])
        self.apply(Seen(height=block.height, hash=block.hash))

    @on(Seen)
    def _seen(self, event: Seen) -> None:
        self.newest[str(event.height % 3)] = event.height
        self.hashes[str(event.height)] = event.hash


@pytest.fixture
async def store() -> AsyncIterator[EventStore]:
    s = open_store("sqlite://")
    await s.open(network="fake", genesis_hash=make_chain(1)[0].hash)
    yield s
    await s.close()


async def crawl(node: FakeNode, store: EventStore, writes: int) -> list[Committed]:
    crawler = Crawler(node, store, [Slots()], network_of(node.chain),  # type: ignore[arg-type]
                      CrawlerOptions(poll_interval=0.01, max_reorg_depth=10,
                                     catchup_batch_blocks=50, catchup_batch_writes=writes))
    commits: list[Committed] = []

    def note(n: Notification) -> None:
        if isinstance(n, Committed) and n.blocks:
            commits.append(n)

    crawler.subscribe(note)
    await crawler.run(follow=False)
    return commits


async def assert_stored(store: EventStore, chain: list[Block]) -> None:
    newest = {str(h % 3): h for h in range(len(chain))}
    assert {k: int(v) for k, v in (await store.scan("slots", "newest")).result} == newest
    hashes = {k: v.strip('"') for k, v in (await store.scan("slots", "hashes",
                                                            limit=1000)).result}
    assert hashes == {str(b.height): b.hash for b in chain}


async def test_a_batch_commits_early_when_its_writes_reach_the_bound(store: EventStore) -> None:
    chain = make_chain(20)
    node = FakeNode(chain)
    commits = await crawl(node, store, writes=5)
    # Two writes a block: the third block of a batch brings it to 6 >= 5.
    heights = [[b.height for b in c.blocks] for c in commits]
    assert heights == [list(range(h, min(h + 3, 20))) for h in range(0, 20, 3)]
    await assert_stored(store, chain)
    # A reorg across two early commits restores the writes of each block, in order.
    node.chain = fork_of(chain, 11, 8)
    node.known.update((b.hash, b) for b in node.chain)
    await crawl(node, store, writes=5)
    await assert_stored(store, node.chain)
    assert [r.depth for r in await store.reorgs()] == [8]


async def test_without_the_bound_the_batch_holds_every_block(store: EventStore) -> None:
    chain = make_chain(20)
    commits = await crawl(FakeNode(chain), store, writes=1_000)
    assert [len(c.blocks) for c in commits] == [20]
    await assert_stored(store, chain)


def test_the_setting_reaches_the_crawler_options() -> None:
    assert Settings(crawler={"catchup_batch_writes": 7}).crawler.options().catchup_batch_writes == 7
    with pytest.raises(ValueError, match="catchup_batch_writes"):
        Settings(crawler={"catchup_batch_writes": 0})
