"""Re-indexing one model that keeps stored collections, on SQLite and PostgreSQL: from the
node its collections equal a fresh crawl's, it rejoins the others through a reorg, a model
new to the store is brought up alone, and a re-index from events of a model lacking
``prefetch_events`` fails naming the model, the key and the hook, writing nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from chaincrawler.crawler.errors import ModelVersionError, ReindexError
from chaincrawler.crawler.pipeline import Crawler, CrawlerOptions
from chaincrawler.crawler.reindex import reindex_from_events, reindex_from_node
from chaincrawler.eventstore import EventQuery, EventStore, PostgresEventStore, open_store
from chaincrawler.models import Model, on
from tests.crawler.fakes import FakeNode, make_chain
from tests.crawler.registry_kit import Other
from tests.crawler.test_stored_collections import Mined, Mixed, scan
from tests.crawler.test_stored_retention import fork_of, network_of

OPTIONS = CrawlerOptions(poll_interval=0.01, max_reorg_depth=10, catchup_batch_blocks=6)
COLLECTIONS = ("per_slot", "latest")


class Doubled(Mixed):
    """The old code of ``mixed``: counted every block twice."""

    name = "mixed"

    @on(Mined)
    def _mined(self, event: Mined) -> None:
        super()._mined(event)
        slot = str(event.height % 7)
        self.per_slot[slot] = self.per_slot.get(slot, 0) + 1


class MixedV2(Mixed):
    """The new code of ``mixed`` (counts once), a new version."""

    name = "mixed"
    version = "2"


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request: pytest.FixtureRequest) -> Callable[[], EventStore]:
    """Makes stores of the parametrised backend (each PostgreSQL one in its own schema)."""
    if request.param == "sqlite":
        return lambda: open_store("sqlite://")
    dsn: str = request.getfixturevalue("pg_dsn")
    schemas: Callable[[], str] = request.getfixturevalue("pg_schemas")
    return lambda: PostgresEventStore(dsn, schema=schemas())


@pytest.fixture
async def store(new_store: Callable[[], EventStore]) -> AsyncIterator[EventStore]:
    s = new_store()
    await s.open(network="fake", genesis_hash=CHAIN[0].hash)
    yield s
    await s.close()


CHAIN = make_chain(40)


async def crawl(node: FakeNode, store: EventStore, *models: Model) -> Crawler:
    crawler = Crawler(node, store, list(models), network_of(node.chain),  # type: ignore[arg-type]
                      OPTIONS)
    await crawler.run(follow=False)
    return crawler


async def collections(store: EventStore) -> dict[str, list[tuple[str, str]]]:
    return {c: await scan(store, "mixed", c) for c in COLLECTIONS}


async def fresh(new_store: Callable[[], EventStore], chain: list[Any]) -> dict[str, Any]:
    """``mixed`` crawled alone into a new store: its collections and plain attributes."""
    store = new_store()
    await store.open(network="fake", genesis_hash=chain[0].hash)
    try:
        crawler = await crawl(FakeNode(chain), store, MixedV2())
        return {"collections": await collections(store),
                "state": crawler.models[1].state_dict()}
    finally:
        await store.close()


async def test_from_node_rebuilds_the_collections_and_rejoins_through_a_reorg(
    store: EventStore, new_store: Callable[[], EventStore]
) -> None:
    node = FakeNode(CHAIN)
    await crawl(node, store, Doubled(), Other())
    other_events = await store.read_events(EventQuery(model="other"))
    assert await collections(store) != (await fresh(new_store, CHAIN))["collections"]
    model = MixedV2()
    done = await reindex_from_node(node, store, [model],  # type: ignore[arg-type]
                                   network_of(CHAIN), OPTIONS)
    assert [(d.model, d.events) for d in done] == [("mixed", 40)]
    assert (await store.model_versions())["mixed"] == "2"
    want = await fresh(new_store, CHAIN)
    assert await collections(store) == want["collections"]
    assert model.state_dict() == want["state"]
    assert await store.read_events(EventQuery(model="other")) == other_events
    # it rejoins the others at the tip, through a depth-5 reorg within the window
    node.chain = fork_of(CHAIN, 34, 8)
    node.known.update((b.hash, b) for b in node.chain)
    crawler = await crawl(node, store, MixedV2(), Other())
    assert [r.depth for r in await store.reorgs()] == [5]
    want = await fresh(new_store, node.chain)
    assert await collections(store) == want["collections"]
    assert crawler.models[1].state_dict() == want["state"]


async def test_a_stored_model_new_to_the_store_is_brought_up_before_it_joins(
    store: EventStore, new_store: Callable[[], EventStore]
) -> None:
    node = FakeNode(CHAIN[:30])
    await crawl(node, store, Other())
    node.chain = CHAIN
    node.known.update((b.hash, b) for b in CHAIN)
    crawler = await crawl(node, store, Other(), MixedV2())
    want = await fresh(new_store, CHAIN)
    assert await collections(store) == want["collections"]
    assert crawler.models[2].state_dict() == want["state"]
    assert (await store.model_versions())["mixed"] == "2"


async def test_bad_input_names_the_command(store: EventStore) -> None:
    node = FakeNode(CHAIN[:10])
    await crawl(node, store, Mixed())
    with pytest.raises(ModelVersionError, match=r"'mixed'.*chaincrawler rebuild --model mixed"):
        await crawl(node, store, MixedV2())
    before = await collections(store), await store.latest_snapshot("mixed")
    with pytest.raises(ReindexError, match=r"'mixed' cannot be rebuilt from its events.*key "
                       r"'0' of stored collection 'per_slot'.*prefetch_events.*does not "
                       r"implement it.*Nothing of the model was written"):
        await reindex_from_events(store, [MixedV2()], OPTIONS)
    assert (await store.model_versions())["mixed"] == "1"
    assert (await collections(store), await store.latest_snapshot("mixed")) == before
    assert (await store.scan("mixed.rebuild", "per_slot")).result == []
