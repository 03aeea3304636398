"""A restarted node keeps its chain, its invalid marks and its mempool."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from chaincrawler.testing.rawrpc import RawRpc
from chaincrawler.testing.simnode import SimNode
from tests.simnode.helpers import DESCRIPTOR, mature_coins, spend

OTHER = "raw(0014" + "55" * 20 + ")"


async def test_restart_keeps_chain_forks_invalid_marks_and_mempool(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    datadir = tmp_path / "d"
    async with SimNode(datadir) as node:
        rpc = RawRpc(node.rpc_url + "/", node.auth, session=http)
        (coin,) = await mature_coins(rpc, 1)
        (old,) = await rpc("generatetodescriptor", 1, DESCRIPTOR)
        await rpc("invalidateblock", old)
        await rpc("generatetodescriptor", 1, OTHER)
        tx = spend(coin[0], 0, coin[1])
        await rpc("sendrawtransaction", tx.hex())
        before = (await rpc("getbestblockhash"), await rpc("getchaintips"),
                  await rpc("getblockcount"))
    async with SimNode(datadir) as node:
        rpc = RawRpc(node.rpc_url + "/", node.auth, session=http)
        after = (await rpc("getbestblockhash"), await rpc("getchaintips"),
                 await rpc("getblockcount"))
        assert after == before
        assert await rpc("getrawmempool") == [tx.txid]
        assert (await rpc("getmempoolentry", tx.txid))["unbroadcast"] is False
        (h,) = await rpc("generatetodescriptor", 1, DESCRIPTOR)
        assert (await rpc("getblock", h))["tx"][1] == tx.txid
        await rpc("reconsiderblock", old)  # the invalid mark survived the restart
        assert await rpc("getbestblockhash") == h


async def test_torn_journal_tail_is_ignored(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    datadir = tmp_path / "d"
    async with SimNode(datadir) as node:
        rpc = RawRpc(node.rpc_url + "/", node.auth, session=http)
        await rpc("generatetodescriptor", 3, DESCRIPTOR)
    journal = datadir / "regtest" / "simnode-journal.dat"
    with journal.open("ab") as fh:
        fh.write(b"B\xff\xff\x00\x00partial")
    async with SimNode(datadir) as node:
        rpc = RawRpc(node.rpc_url + "/", node.auth, session=http)
        assert await rpc("getblockcount") == 3
