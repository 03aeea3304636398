"""pytest fixtures to test your models on a simulated node.

Installing chaincrawler registers this plugin (entry point ``pytest11``: ``chaincrawler``);
its fixtures need pytest-asyncio (``pip install 'chaincrawler[testing]'``). Each is
made for one test and cleaned up after it:

- ``simnode``: a :class:`~chaincrawler.testing.simnode.SimNode` on 127.0.0.1 (a free
  port, REST on, an empty regtest chain), stopped after the test.
- ``simnode_client``: a :class:`~chaincrawler.NodeClient` connected to it.
- ``chaingen``: a :class:`~chaincrawler.testing.chaingen.ChainGenerator` on it.
- ``chaincrawler_store``: an open SQLite :class:`~chaincrawler.EventStore` in ``tmp_path``.
- ``crawl``: ``await crawl(models, until=None)`` crawls the node's chain (to its tip, or
  to height ``until``) with a :class:`~chaincrawler.Crawler` into that store and returns
  the models. Call it again with the same models after mining or a reorg: the crawler
  resumes from the store, rolling back orphaned blocks as in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from chaincrawler.eventstore import EventStore
    from chaincrawler.models import Model
    from chaincrawler.node.client import NodeClient
    from chaincrawler.testing.chaingen import ChainGenerator
    from chaincrawler.testing.simnode import SimNode

M = TypeVar("M", bound="Model")
F = TypeVar("F", bound=Callable[..., Any])


def _needs_pytest_asyncio(func: F) -> F:
    """Stand-in for a fixture when pytest-asyncio is missing: fails saying so."""

    @pytest.fixture(name=func.__name__)
    def missing() -> None:
        pytest.fail("chaincrawler's fixtures need pytest-asyncio: "
                    "pip install 'chaincrawler[testing]'")

    return missing  # type: ignore[return-value]


try:
    from pytest_asyncio import fixture as _fixture
except ImportError:  # without pytest-asyncio the fixtures fail, saying what to install
    _fixture = _needs_pytest_asyncio  # type: ignore[assignment]


@_fixture
async def simnode(tmp_path: Path) -> AsyncIterator[SimNode]:
    """A simulated regtest node on 127.0.0.1 (free port, REST on), stopped after the test."""
    from chaincrawler.testing.simnode import SimNode

    async with SimNode(tmp_path / "simnode", rpc_port=0, rest=True) as node:
        yield node


@_fixture
async def simnode_client(simnode: SimNode) -> AsyncIterator[NodeClient]:
    """A node client (JSON-RPC and REST) on the ``simnode``."""
    from chaincrawler import NodeClient

    user, password = simnode.auth
    async with NodeClient(simnode.rpc_url, user=user, password=password, rest=True) as client:
        yield client


@_fixture
async def chaingen(simnode_client: NodeClient) -> ChainGenerator:
    """A chain generator on the ``simnode``: ``await chaingen.ensure_funds(COIN)`` first."""
    from chaincrawler.testing.chaingen import ChainGenerator

    return ChainGenerator(simnode_client)


@_fixture
async def chaincrawler_store(tmp_path: Path) -> AsyncIterator[EventStore]:
    """An open SQLite event store for regtest in ``tmp_path``, closed after the test."""
    from chaincrawler.chain.networks import REGTEST
    from chaincrawler.eventstore import open_store

    store = open_store(f"sqlite:///{tmp_path / 'chaincrawler.db'}")
    await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    try:
        yield store
    finally:
        await store.close()


class Crawl:
    """``await crawl(models, until=None)``: crawl the node into the store, return ``models``."""

    def __init__(self, client: NodeClient, store: EventStore) -> None:
        self.client = client
        self.store = store

    async def __call__(self, models: Sequence[M], until: int | None = None) -> list[M]:
        """Crawl to the node's tip (or to height ``until``) without following it; the
        models then hold the state at that block."""
        from chaincrawler import Crawler
        from chaincrawler.chain.networks import REGTEST

        crawler = Crawler(self.client, self.store, models, REGTEST)
        await crawler.run(follow=False, until_height=until)
        return list(models)


@_fixture
async def crawl(simnode_client: NodeClient, chaincrawler_store: EventStore) -> Crawl:
    """Crawl the ``simnode``'s chain with given models into ``chaincrawler_store``."""
    return Crawl(simnode_client, chaincrawler_store)
