"""Fixtures: an in-process simulated node with every ZMQ topic, and a JSON-RPC client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from chaincrawler.node.zmq import ZMQ_TOPICS
from chaincrawler.testing.rawrpc import RawRpc
from chaincrawler.testing.simnode import SimNode


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[SimNode]:
    topics = {t: "tcp://127.0.0.1:0" for t in ZMQ_TOPICS}
    async with SimNode(tmp_path / "data", rpc_port=0, rest=True, zmq=topics) as simnode:
        yield simnode


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def rpc(node: SimNode, http: aiohttp.ClientSession) -> RawRpc:
    return RawRpc(node.rpc_url + "/", node.auth, session=http)
