"""Fixtures of the regtest suite: a node, an RPC client and the chain generator.

The node is a real bitcoind when ``BITCOIND=/path/to/bitcoind`` is set, else the
simulated node; both run as a subprocess (see ``chaincrawler/testing/nodeproc.py``). One node serves
the whole session; tests never assume a height, they work relative to the tip.
A failing test's report ends with the node's log tail.
"""

from __future__ import annotations

import asyncio
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from chaincrawler.chain.consensus import COIN
from chaincrawler.node.client import NodeClient, RetryPolicy
from chaincrawler.testing.chaingen import ChainGenerator
from chaincrawler.testing.nodeproc import NodeHandle, launch
from chaincrawler.testing.postgres import drop_schemas
from chaincrawler.testing.rawrpc import RawRpc
from regtest.crawling import StoreFactory, StoreSpec


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "zmq: needs the node's ZMQ publishers")
    config.addinivalue_line("markers", "rest: needs the node's REST interface (-rest)")


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeHandle]:
    """The session's regtest node."""
    handle = launch(tmp_path_factory.mktemp("node"))
    yield handle
    handle.stop()


@pytest.fixture
def fresh_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], NodeHandle]]:
    """A factory of extra nodes with an empty chain, stopped after the test."""
    started: list[NodeHandle] = []

    def make() -> NodeHandle:
        handle = launch(Path(tmp_path_factory.mktemp("fresh")))
        started.append(handle)
        return handle

    yield make
    for handle in started:
        handle.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Test stores by name: SQLite files, or fresh PostgreSQL schemas dropped afterwards."""
    made: dict[str, StoreSpec] = {}
    dsn = request.getfixturevalue("pg_dsn") if request.param == "postgresql" else None
    prefix = f"cc_test_{uuid.uuid4().hex[:8]}"

    def make(name: str) -> StoreSpec:
        if name not in made:
            made[name] = (
                StoreSpec(f"sqlite:///{tmp_path / name}.db") if dsn is None
                else StoreSpec(dsn, f"{prefix}_{name.replace('-', '_')}")
            )
        return made[name]

    yield make
    if dsn is not None:
        asyncio.run(drop_schemas(dsn, [s.schema for s in made.values() if s.schema]))


@pytest.fixture
async def rpc(node: NodeHandle) -> AsyncIterator[NodeClient]:
    """The crawler's node client on the session node (REST on, no retries)."""
    async with NodeClient(node.url_with_auth, rest=True, retry=RetryPolicy(attempts=1)) as client:
        yield client


@pytest.fixture
async def raw(node: NodeHandle) -> AsyncIterator[RawRpc]:
    """Raw HTTP access to the node, to check reply shapes and statuses exactly."""
    async with RawRpc(node.rpc_url, node.auth) as client:
        yield client


@pytest.fixture
async def gen(rpc: NodeClient, request: pytest.FixtureRequest) -> ChainGenerator:
    """A generator seeded by the test's name, with at least 10 BTC of mature coins."""
    generator = ChainGenerator(rpc, seed=zlib.crc32(request.node.nodeid.encode()))
    await generator.ensure_funds(10 * COIN)
    return generator


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    handle = getattr(item, "funcargs", {}).get("node")
    if report.failed and isinstance(handle, NodeHandle):
        report.sections.append((f"{handle.kind} log ({handle.log_file})", handle.log_tail()))
    return report
