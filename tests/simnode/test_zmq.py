"""ZMQ publications: three frames, display-order hashes, per-topic counters, Core's
order of events for transactions, blocks and reorgs."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import zmq
import zmq.asyncio

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Transaction, TxOut
from chaincrawler.testing.rawrpc import RawRpc
from chaincrawler.testing.recorded import recorded
from chaincrawler.testing.simnode import SimNode
from tests.simnode.helpers import DESCRIPTOR, mature_coins, spend

OTHER = "raw(0014" + "44" * 20 + ")"


class Subscriber:
    def __init__(self, address: str) -> None:
        self.ctx = zmq.asyncio.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(address)

    async def frames(self, count: int) -> list[tuple[str, bytes, int]]:
        out = []
        for _ in range(count):
            topic, body, seq = await asyncio.wait_for(self.sock.recv_multipart(), 10)
            out.append((topic.decode(), body, struct.unpack("<I", seq)[0]))
        return out

    async def drain(self) -> list[tuple[str, bytes, int]]:
        out = []
        while await self.sock.poll(300):
            topic, body, seq = await self.sock.recv_multipart()
            out.append((topic.decode(), body, struct.unpack("<I", seq)[0]))
        return out

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.term()


@pytest.fixture
async def sub(node: SimNode) -> AsyncIterator[Subscriber]:
    subscriber = Subscriber(node.zmq_endpoints["sequence"])
    await asyncio.sleep(0.3)  # let the subscription reach the publisher
    yield subscriber
    subscriber.close()


async def test_transaction_then_block_frames(rpc: RawRpc, sub: Subscriber) -> None:
    (coin,) = await mature_coins(rpc, 1)
    await sub.drain()
    tx = spend(coin[0], 0, coin[1])
    await rpc("sendrawtransaction", tx.hex())
    (h,) = await rpc("generatetodescriptor", 1, DESCRIPTOR)
    frames = await sub.drain()
    kinds = [(t, b[32:33] if t == "sequence" else b"") for t, b, _ in frames]
    assert kinds == [
        ("hashtx", b""), ("rawtx", b""), ("sequence", b"A"),  # mempool acceptance
        ("hashtx", b""), ("rawtx", b""), ("hashtx", b""), ("rawtx", b""),  # block's txs
        ("sequence", b"C"), ("hashblock", b""), ("rawblock", b""),
    ]
    by_topic = {t: [(b, n) for tt, b, n in frames if tt == t] for t in ("hashtx", "sequence")}
    assert by_topic["hashtx"][0][0] == bytes.fromhex(tx.txid)  # display order, like Core
    seq_body, _ = by_topic["sequence"][0]
    assert seq_body[:32] == bytes.fromhex(tx.txid)
    mempool_seq = struct.unpack("<Q", seq_body[33:])[0]
    assert mempool_seq == 1
    assert by_topic["sequence"][1][0] == bytes.fromhex(h) + b"C"
    counters = [n for t, _, n in frames if t == "hashtx"]
    assert counters == list(range(counters[0], counters[0] + 3))
    assert frames[-2][1] == bytes.fromhex(h)
    assert frames[-1][1] == bytes.fromhex(await rpc("getblock", h, 0))


async def test_reorg_publishes_disconnects_then_connects(rpc: RawRpc, sub: Subscriber) -> None:
    base = await rpc("generatetodescriptor", 3, DESCRIPTOR)
    await sub.drain()
    await rpc("invalidateblock", base[1])
    new = await rpc("generatetodescriptor", 3, OTHER)
    frames = [(t, b) for t, b, _ in await sub.drain() if t in ("sequence", "hashblock")]
    assert frames[:2] == [("sequence", bytes.fromhex(base[2]) + b"D"),
                          ("sequence", bytes.fromhex(base[1]) + b"D")]
    connects = [b for t, b in frames if t == "sequence" and b.endswith(b"C")]
    assert connects == [bytes.fromhex(h) + b"C" for h in new]
    await sub.drain()
    await rpc("reconsiderblock", base[1])  # equal work... new chain is longer, no change
    assert await rpc("getbestblockhash") == new[-1]
    await rpc("invalidateblock", new[0])  # back to the old branch in one step
    frames = [(t, b) for t, b, _ in await sub.drain() if t in ("sequence", "hashblock")]
    assert [b[-1:] for t, b in frames if t == "sequence"] == [b"D"] * 3 + [b"C"] * 2
    # After InvalidateBlock, ActivateBestChain extends the tip one block per round, and
    # Core's UpdatedBlockTip (hashblock) fires after each round.
    assert [b for t, b in frames if t == "hashblock"] == [bytes.fromhex(h) for h in base[1:]]


# -- the recorded Core session (file 50), replayed ------------------------------------

P2WPKH_1 = b"\x00\x14" + b"\x11" * 20
P2WPKH_2 = b"\x00\x14" + b"\x22" * 20


class Normalizer:
    """Replaces every hash by the order it first appeared in, so two sessions compare."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def name(self, hash_hex: str) -> str:
        return self.names.setdefault(hash_hex, f"h{len(self.names)}")

    def frame(self, topic: str, body: bytes, counter: int) -> tuple[object, ...]:
        if topic == "rawtx":
            return (topic, self.name(Transaction.from_bytes(body, REGTEST).txid), counter)
        if topic == "sequence":
            label = body[32:33].decode()
            mempool_seq = struct.unpack("<Q", body[33:])[0] if len(body) == 41 else None
            return (topic, self.name(body[:32].hex()), label, mempool_seq, counter)
        return (topic, self.name(body.hex()), counter)

    def mempool(self, snapshot: dict[str, object]) -> tuple[object, ...]:
        txids = snapshot["txids"]
        assert isinstance(txids, list)
        return tuple(self.name(t) for t in txids), snapshot["mempool_sequence"]


async def test_recorded_core_session_is_replayed_frame_for_frame(tmp_path: Path) -> None:
    """Core's frames of file 50 (sequence, rawtx, hashblock on one endpoint): the same
    steps on a fresh simnode give the same topics, labels, mempool sequence numbers and
    per-topic counters (the genesis block's rawtx and C included, as on a new datadir)."""
    steps = recorded("50-")["steps"]
    want, got = Normalizer(), Normalizer()
    one = "tcp://127.0.0.1:0"
    topics = {"sequence": one, "rawtx": one, "hashblock": one}
    async with SimNode(tmp_path, rpc_port=0, zmq=topics) as simnode, aiohttp.ClientSession() as s:
        rpc = RawRpc(simnode.rpc_url + "/", simnode.auth, session=s)
        sub = Subscriber(simnode.zmq_endpoints["sequence"])
        await asyncio.sleep(0.3)
        try:

            async def step_frames() -> list[tuple[object, ...]]:
                return [got.frame(*f) for f in await sub.drain()]

            async def mempool() -> tuple[object, ...]:
                return got.mempool(await rpc("getrawmempool", False, True))

            ((coinbase, value),) = await mature_coins(rpc, 1)
            last_blocks = (await sub.drain())[-len(steps[0]["frames"]) :]
            actual: dict[int, object] = {0: [got.frame(*f) for f in last_blocks]}
            first = spend(coinbase, 0, value, 10_000, [TxOut(value - 10_000, P2WPKH_1, REGTEST)])
            await rpc("sendrawtransaction", first.hex())
            actual[1] = await step_frames(), await mempool()
            second = spend(coinbase, 0, value, 50_000, [TxOut(value - 50_000, P2WPKH_2, REGTEST)])
            await rpc("sendrawtransaction", second.hex())
            actual[2] = await step_frames(), await mempool()
            (block,) = await rpc("generatetodescriptor", 1, DESCRIPTOR)
            actual[3] = await step_frames()
            await rpc("invalidateblock", block)
            actual[4] = await step_frames(), await mempool()
            await rpc("reconsiderblock", block)
            actual[5] = await step_frames(), await mempool()
        finally:
            sub.close()
    for n, step in enumerate(steps):
        frames = [want.frame(t, bytes.fromhex(b), int.from_bytes(bytes.fromhex(c), "little"))
                  for t, b, c in step["frames"]]
        expected: object = frames
        if "rpc_getrawmempool_sequence" in step:
            expected = frames, want.mempool(step["rpc_getrawmempool_sequence"])
        assert actual[n] == expected, step["step"]
