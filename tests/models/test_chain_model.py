"""The system chain model: tip, window, and reorg history across a reorg note."""

from __future__ import annotations

import pytest

from chaincrawler.models import BlockConnected, ChainModel, ChainReorganized, Event, ModelError
from chaincrawler.testing.blocks import block, chain


async def feed(model: ChainModel, blocks) -> list[Event]:
    events: list[Event] = []
    for b in blocks:
        events.extend(await model.run_block(b))
    return events


async def test_every_block_is_connected_and_moves_the_tip():
    model = ChainModel()
    blocks = chain(3)
    events = await feed(model, blocks)
    assert [type(e) for e in events] == [BlockConnected] * 3
    assert events[1] == BlockConnected(
        height=1, hash=blocks[1].hash, prev_hash=blocks[0].hash, time=blocks[1].header.time,
        tx_count=1,
    )
    assert (model.tip_height, model.tip_hash) == (2, blocks[2].hash)
    assert model.run_query("tip")["hash"] == blocks[2].hash
    assert [b["height"] for b in model.run_query("window")] == [0, 1, 2]


async def test_the_window_keeps_the_last_n_blocks():
    model = ChainModel(window_size=4)
    await feed(model, chain(10))
    assert [b["height"] for b in model.run_query("window")] == [6, 7, 8, 9]


async def test_a_noted_reorg_is_applied_with_the_first_block_of_the_new_branch():
    model = ChainModel()
    old = chain(5)
    await feed(model, old)
    # the pipeline rolled back to height 2 and restored the state there
    fork = ChainModel()
    pre_reorg = await feed(fork, old[:3])
    model.restore_state(fork.snapshot_state())
    model.note_reorg(fork_height=2, depth=2, old_tip_height=4, old_tip_hash=old[4].hash)
    assert model.state_dict() == fork.state_dict()  # nothing happens until the next block
    new = chain(3, start=3, prev_hash=old[2].hash_bytes, tag=b"1")
    events = await feed(model, new)
    assert [type(e) for e in events] == [ChainReorganized] + [BlockConnected] * 3
    reorg = events[0]
    assert isinstance(reorg, ChainReorganized)
    assert (reorg.fork_height, reorg.depth, reorg.old_tip_hash) == (2, 2, old[4].hash)
    assert (reorg.new_tip_height, reorg.new_tip_hash) == (3, new[0].hash)
    assert model.tip_hash == new[-1].hash
    window = [b["hash"] for b in model.run_query("window")]
    assert window == [b.hash for b in old[:3] + new]
    [record] = model.run_query("reorgs", {"limit": 5})
    assert record["old_tip_height"] == 4 and record["time"] == new[0].header.time

    # replaying the canonical log from scratch gives the same state
    replayed = ChainModel()
    for event in pre_reorg + events:
        replayed.replay(event)
    assert replayed.state_dict() == model.state_dict()


async def test_the_reorg_handler_trims_the_window_even_without_a_restore():
    model = ChainModel()
    old = chain(4)
    await feed(model, old)
    model.note_reorg(1, 2, 3, old[3].hash)
    await feed(model, chain(1, start=2, prev_hash=old[1].hash_bytes, tag=b"7"))
    assert [b["height"] for b in model.run_query("window")] == [0, 1, 2]
    assert model.tip_height == 2


async def test_reorgs_are_listed_newest_first_and_limited():
    model = ChainModel()
    blocks = chain(2)
    await feed(model, blocks)
    for i in range(3):
        model.note_reorg(0, 1, 1, f"{i:064x}")
        await feed(model, chain(1, start=1, prev_hash=blocks[0].hash_bytes, tag=bytes([10 + i])))
    reorgs = model.run_query("reorgs", {"limit": 2})
    assert [r["old_tip_hash"][-1] for r in reorgs] == ["2", "1"]
    assert len(model.run_query("reorgs")) == 3


def test_a_reorg_note_is_checked():
    with pytest.raises(ValueError, match="depth"):
        ChainModel().note_reorg(fork_height=3, depth=0, old_tip_height=3, old_tip_hash="00")


async def test_a_block_without_height_is_refused():
    b = block(0, chain(1)[0].transactions)
    b.height = None
    with pytest.raises(ModelError, match="without a height"):
        await ChainModel().run_block(b)


async def test_chain_model_state_survives_a_snapshot():
    model = ChainModel()
    await feed(model, chain(3))
    model.note_reorg(1, 1, 2, "ab" * 32)
    fork_hash = bytes.fromhex(model.recent_blocks[1].hash)[::-1]
    await feed(model, chain(1, start=2, prev_hash=fork_hash, tag=b"3"))
    copy = ChainModel()
    copy.restore_state(model.snapshot_state())
    assert copy.state_dict() == model.state_dict()
