"""The harness itself: a node keeps its chain across a restart and answers at once."""

from __future__ import annotations

from chaincrawler.node.client import NodeClient, RetryPolicy
from chaincrawler.node.zmq import ZMQ_TOPICS
from chaincrawler.testing.chaingen import ChainGenerator


async def test_restart_keeps_the_chain_and_the_mempool_is_usable(fresh_node):
    handle = fresh_node()
    async with NodeClient(handle.url_with_auth, retry=RetryPolicy(attempts=1)) as client:
        assert await client.get_block_count() == 0
        gen = ChainGenerator(client, seed="restart")
        hashes = await gen.mine(5)
    handle.restart()
    async with NodeClient(handle.url_with_auth, retry=RetryPolicy(attempts=1)) as client:
        assert await client.get_block_count() == 5
        assert await client.get_best_block_hash() == hashes[-1]
        assert await client.get_block_hashes(range(1, 6)) == hashes
        tips = await client.call("getchaintips")
        assert [t["status"] for t in tips] == ["active"]


async def test_handle_exposes_endpoints(node, rpc):
    assert node.rpc_url.startswith("http://127.0.0.1:")
    assert set(node.zmq_endpoints) == set(ZMQ_TOPICS)
    info = await rpc.rest_chaininfo()
    assert info["chain"] == "regtest"
