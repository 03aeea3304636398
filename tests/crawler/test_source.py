"""BlockSource: order, a node whose chain shrinks mid-fetch, and the byte bound."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from typing import Any

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block
from chaincrawler.crawler.errors import InconsistentNodeError
from chaincrawler.crawler.source import BlockSource, BlockUnavailableError, PrunedBelowStartError
from chaincrawler.errors import ChainDataError
from chaincrawler.node.errors import NodeUnreachableError, RESTError, RPCError
from tests.crawler.fakes import FakeNode, make_chain


async def test_blocks_come_in_height_order_with_their_hashes() -> None:
    chain = make_chain(40)
    source = BlockSource(FakeNode(chain), REGTEST, chunk_blocks=3, concurrency=4)  # type: ignore[arg-type]
    got = [f async for f in source.blocks(5, 39)]
    assert [f.height for f in got] == list(range(5, 40))
    assert [f.hash for f in got] == [b.hash for b in chain[5:]]
    assert all(f.block.height == f.height for f in got)


async def test_a_chain_that_shrinks_mid_fetch_ends_the_stream_early() -> None:
    chain = make_chain(40)
    node = FakeNode(chain, shrink_after=2, shrunk_to=12)
    source = BlockSource(node, REGTEST, chunk_blocks=4, concurrency=1)  # type: ignore[arg-type]
    got = [f.height async for f in source.blocks(0, 39)]
    assert got == list(range(len(got)))  # a gap-free prefix, no error
    assert 8 <= len(got) <= 12


async def test_prefetch_stops_at_the_byte_bound() -> None:
    chain = make_chain(60)
    size = len(chain[0].serialize())
    source = BlockSource(FakeNode(chain), REGTEST, chunk_blocks=2, concurrency=2,  # type: ignore[arg-type]
                         max_bytes=4 * size)
    seen_max = 0
    async for _ in source.blocks(0, 59):
        seen_max = max(seen_max, source._buffered)
    # fetched-but-unconsumed bytes stay within the bound plus the fetches in flight
    assert seen_max <= 4 * size + 2 * 2 * size


class LyingNode(FakeNode):
    """Answers getblockhash truthfully but serves ``bad`` instead of block ``at``."""

    def __init__(self, chain: list[Block], at: int, bad: bytes) -> None:
        super().__init__(chain)
        self.at, self.bad = at, bad

    async def get_raw_blocks(self, hashes: Sequence[str]) -> list[bytes]:
        raws = await super().get_raw_blocks(hashes)
        wanted = self.chain[self.at].hash
        return [self.bad if h == wanted else r for h, r in zip(hashes, raws, strict=True)]


async def test_a_block_other_than_the_one_asked_for_is_refused() -> None:
    chain = make_chain(10)
    node = LyingNode(chain, 4, chain[7].serialize())
    source = BlockSource(node, REGTEST, chunk_blocks=2)  # type: ignore[arg-type]
    with pytest.raises(InconsistentNodeError, match="height 4"):
        [f async for f in source.blocks(0, 9)]


async def test_transactions_not_matching_the_merkle_root_are_refused() -> None:
    chain = make_chain(10)
    raw = bytearray(chain[3].serialize())
    raw[-5] ^= 0xFF  # the coinbase's output script: the header no longer commits to it
    source = BlockSource(LyingNode(chain, 3, bytes(raw)), REGTEST)  # type: ignore[arg-type]
    with pytest.raises(InconsistentNodeError, match="merkle root"):
        [f async for f in source.blocks(0, 9)]


@pytest.mark.parametrize("cut", ["truncated", "random"])
async def test_a_block_that_does_not_parse_names_node_hash_and_height(cut: str) -> None:
    chain = make_chain(10)
    good = chain[6].serialize()
    bad = good[:-7] if cut == "truncated" else good[:80] + bytes([237]) + bytes(range(40))
    source = BlockSource(LyingNode(chain, 6, bad), REGTEST, chunk_blocks=4)  # type: ignore[arg-type]
    with pytest.raises(InconsistentNodeError) as caught:
        [f async for f in source.blocks(0, 9)]
    message = str(caught.value)
    assert "http://127.0.0.1:1" in message  # the node, as FakeNode names it
    assert chain[6].hash in message and "height 6" in message
    assert isinstance(caught.value.__cause__, ChainDataError)


class FailingNode(FakeNode):
    """Answers getblockhash, but every block fetch fails as an unreachable node does."""

    async def get_raw_blocks(self, hashes: Sequence[str]) -> list[bytes]:
        raise NodeUnreachableError("getblock", {"http://127.0.0.1:1": "refused"}, 1)


async def test_a_failed_fetch_leaves_no_unretrieved_task_behind() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        source = BlockSource(FailingNode(make_chain(40)), REGTEST, chunk_blocks=2,  # type: ignore[arg-type]
                             concurrency=1)
        with pytest.raises(NodeUnreachableError):
            [f async for f in source.blocks(0, 39)]
        for _ in range(5):
            await asyncio.sleep(0)  # let any task left running finish
        del source
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert [c["message"] for c in reported] == []


SPENT = b"\x02\x00\x01" + (7).to_bytes(8, "little") + b"\xfd\xe8\x03" + b"\x51" * 1000


class SpentNode(FakeNode):
    """Serves REST spenttxouts: for every block the same 1 kB reply (1 tx spending 1 coin)."""

    def __init__(self, chain: list[Block], served: bool = True) -> None:
        super().__init__(chain)
        self.served = served
        self.spent_fetches = 0

    async def serves_spent_txouts(self) -> bool:
        return self.served

    async def get_raw_spent_txouts(self, hashes: Sequence[str]) -> list[bytes]:
        self.spent_fetches += 1
        assert self.served
        return [SPENT for _ in hashes]


async def test_spent_outputs_come_with_each_block_in_the_byte_budget() -> None:
    chain = make_chain(20)
    block_size = len(chain[0].serialize())
    source = BlockSource(SpentNode(chain), REGTEST, chunk_blocks=4, concurrency=4,  # type: ignore[arg-type]
                         spent_outputs=True)
    seen_max = 0
    got = []
    async for fetched in source.blocks(0, 19):
        seen_max = max(seen_max, source._buffered)
        got.append(fetched)
    assert all(f.spent == SPENT for f in got)
    assert all(f.size == block_size + len(SPENT) for f in got)
    # more than all 20 blocks weigh: the spent outputs count against the prefetch bound
    assert seen_max > 20 * block_size


@pytest.mark.parametrize(("wanted", "served"), [(False, True), (True, False)])
async def test_spent_outputs_are_fetched_only_if_wanted_and_served(
    wanted: bool, served: bool
) -> None:
    node = SpentNode(make_chain(6), served=served)
    source = BlockSource(node, REGTEST, chunk_blocks=2, spent_outputs=wanted)  # type: ignore[arg-type]
    got = [f async for f in source.blocks(0, 5)]
    assert [f.spent for f in got] == [None] * 6 and node.spent_fetches == 0


class PrunedNode(SpentNode):
    """A pruned node: blocks below ``prune_height`` are gone; ``refusal`` fails a fetch."""

    def __init__(self, chain: list[Block], prune_height: int) -> None:
        super().__init__(chain)
        self.prune_height = prune_height
        self.refusal: Exception | None = None
        self.block_fetches = 0

    async def get_blockchain_info(self) -> dict[str, Any]:
        return {"chain": "fake", "pruned": True, "pruneheight": self.prune_height}

    async def get_raw_blocks(self, hashes: Sequence[str]) -> list[bytes]:
        self.block_fetches += 1
        if self.refusal is not None and self.chain[7].hash in hashes:
            raise self.refusal
        return await super().get_raw_blocks(hashes)


async def test_a_start_below_the_prune_height_is_refused_before_any_fetch() -> None:
    node = PrunedNode(make_chain(20), prune_height=12)
    with pytest.raises(PrunedBelowStartError) as caught:
        [f async for f in BlockSource(node, REGTEST).blocks(5, 19)]  # type: ignore[arg-type]
    assert "height 12" in str(caught.value) and "height 5" in str(caught.value)
    assert (caught.value.start, caught.value.prune_height) == (5, 12)
    assert node.lookups == node.block_fetches == 0
    got = [f.height async for f in BlockSource(node, REGTEST).blocks(12, 19)]  # type: ignore[arg-type]
    assert got == list(range(12, 20))


@pytest.mark.parametrize("refusal", [
    RPCError(-1, "Block not available (pruned data)", "getblock", "http://127.0.0.1:1", 1),
    RESTError("http://127.0.0.1:1", "/rest/block/{hash}.bin", 404,
              "{hash} not available (pruned data)\r\n"),
    RESTError("http://127.0.0.1:1", "/rest/spenttxouts/{hash}.bin", 404,
              "{hash} undo not available\r\n"),
])
async def test_a_block_or_undo_data_gone_later_is_a_clear_error(refusal: Exception) -> None:
    chain = make_chain(20)
    node = PrunedNode(chain, prune_height=0)
    gone = chain[7].hash
    if isinstance(refusal, RESTError):
        refusal = RESTError(refusal.node, refusal.path.format(hash=gone), 404,
                            refusal.body.format(hash=gone))
    node.refusal = refusal
    got: list[int] = []
    with pytest.raises(BlockUnavailableError) as caught:
        async for fetched in BlockSource(node, REGTEST, chunk_blocks=2,  # type: ignore[arg-type]
                                         spent_outputs=True).blocks(0, 19):
            got.append(fetched.height)
    assert got == list(range(6))  # everything before it, nothing after: no gap
    assert (caught.value.height, caught.value.block_hash) == (7, gone)
    assert "not available" in str(caught.value) and "height 7" in str(caught.value)


async def test_a_404_without_a_reason_is_no_rest_at_all_and_stays_a_rest_error() -> None:
    node = PrunedNode(make_chain(10), prune_height=0)
    node.refusal = RESTError("http://127.0.0.1:1", f"/rest/block/{node.chain[7].hash}.bin",
                             404, "")
    with pytest.raises(RESTError, match="-rest"):
        [f async for f in BlockSource(node, REGTEST).blocks(0, 9)]  # type: ignore[arg-type]
