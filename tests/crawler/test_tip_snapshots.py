"""At the tip a due snapshot is written after the block's commit, in a commit of its own,
at exactly the committed state; the garbage collector's full passes are made while idle."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block
from chaincrawler.crawler.follow import TipFollower, pause
from chaincrawler.crawler.heap import IdleCollector
from chaincrawler.crawler.pipeline import (
    IDLE_GRACE,
    Committed,
    Crawler,
    CrawlerOptions,
    Notification,
)
from chaincrawler.crawler.restore import restore_model
from chaincrawler.eventstore import (
    BlockRecord,
    CommitResult,
    PendingEvent,
    PendingSnapshot,
    SQLiteEventStore,
)
from chaincrawler.models import Event, Model, on
from chaincrawler.node.client import NodeClient
from chaincrawler.testing.simnode import SimNode


class Seen(Event):
    height: int


class Heights(Model):
    heights: list[int] = []  # noqa: RUF012

    def process_block(self, block: Block) -> None:
        assert block.height is not None
        self.apply(Seen(height=block.height))

    @on(Seen)
    def _seen(self, event: Seen) -> None:
        self.heights.append(event.height)


class RecordingStore(SQLiteEventStore):
    """Remembers each commit: the heights of its blocks and of its snapshots."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.commits: list[tuple[list[int], list[tuple[str, int, str]]]] = []

    async def commit(self, blocks: Sequence[BlockRecord], events: Sequence[PendingEvent],
                     snapshots: Sequence[PendingSnapshot] = (), *args: Any,
                     **kwargs: Any) -> CommitResult:
        result = await super().commit(blocks, events, snapshots, *args, **kwargs)
        self.commits.append(([b.height for b in blocks],
                             [(s.model, s.block_height, s.state) for s in snapshots]))
        return result


class MiningFollower(TipFollower):
    """Each wait mines one block after the idle grace, until ``blocks`` were mined; then
    stops the crawler."""

    def __init__(self, rpc: NodeClient, blocks: int, crawler: list[Crawler]) -> None:
        self.rpc = rpc
        self.left = blocks
        self.crawler = crawler

    async def wait(self, stopping: asyncio.Event) -> None:
        if self.left == 0:
            self.crawler[0].stop()
            return
        self.left -= 1
        await pause(stopping, IDLE_GRACE + 0.1)  # the crawler idles meanwhile
        desc = (await self.rpc.call("getdescriptorinfo", "raw(51)"))["descriptor"]
        await self.rpc.call("generatetodescriptor", 1, desc)


@pytest.fixture
async def rpc(tmp_path: Path) -> AsyncIterator[NodeClient]:
    async with SimNode(tmp_path / "node", rpc_port=0, rest=True) as sim, \
            NodeClient(sim.rpc_url, cookie_file=sim.cookie_file, rest=True) as client:
        yield client


async def test_a_due_snapshot_at_the_tip_is_its_own_commit_after_the_block(
    rpc: NodeClient, tmp_path: Path
) -> None:
    store = RecordingStore(tmp_path / "store.db")
    await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    holder: list[Crawler] = []
    crawler = Crawler(rpc, store, [Heights()], REGTEST, CrawlerOptions(snapshot_interval=3),
                      follower=MiningFollower(rpc, 7, holder))
    holder.append(crawler)
    summary = await crawler.run(follow=True)
    assert summary.tip is not None and summary.tip.height == 7

    tip_commits = [c for c in store.commits if c[0] and c[0][0] > 0]
    assert [c[0] for c in tip_commits] == [[h] for h in range(1, 8)]
    assert all(not any(m == "heights" for m, _, _ in snaps) for _, snaps in tip_commits)
    taken = [(height, json.loads(state)["heights"]) for blocks, snaps in store.commits
             if not blocks for m, height, state in snaps if m == "heights"]
    # every 3 blocks (from block 0), then at the tip on shutdown; each the committed state
    assert [h for h, _ in taken] == [2, 5, 7]
    assert all(state == list(range(h + 1)) for h, state in taken)
    rebuilt = Heights()
    restored = await restore_model(rebuilt, store, await store.tip())
    assert restored.snapshot_height == 7 and rebuilt.heights == list(range(8))
    await store.close()


async def test_a_snapshot_put_off_by_blocks_back_to_back_goes_in_once_twice_overdue(
    rpc: NodeClient, tmp_path: Path
) -> None:
    store = RecordingStore(tmp_path / "store.db")
    await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    crawler = Crawler(rpc, store, [Heights()], REGTEST, CrawlerOptions(snapshot_interval=2))
    desc = (await rpc.call("getdescriptorinfo", "raw(51)"))["descriptor"]

    async def mine_next(note: Notification) -> None:  # a new block before every idle moment
        if isinstance(note, Committed) and note.blocks[-1].height < 9:
            await rpc.call("generatetodescriptor", 1, desc)

    crawler.subscribe(mine_next)
    await crawler.run(follow=False)
    inline = [(blocks, height, json.loads(state)["heights"]) for blocks, snaps in store.commits
              for m, height, state in snaps if blocks and m == "heights"]
    assert [(blocks, height) for blocks, height, _ in inline] == [([3], 3), ([7], 7)]
    assert all(state == list(range(h + 1)) for _, h, state in inline)
    await store.close()


class Node:
    """A reference cycle, as a model's state may hold."""

    def __init__(self) -> None:
        self.me = self


def test_state_replaced_by_a_restore_is_freed_at_the_next_idle_moment() -> None:
    heap = IdleCollector()
    try:
        old = Node()
        alive = weakref.ref(old)
        heap.settle()  # frozen: the automatic passes no longer scan it
        assert gc.get_freeze_count() > 0
        del old
        heap.replaced_state()
        heap.settle()
        assert alive() is None
    finally:
        heap.release()
    assert gc.get_freeze_count() == 0
