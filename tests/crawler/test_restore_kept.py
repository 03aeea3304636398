"""A model restores the snapshot it took itself from memory, when its block is canonical."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.crawler.restore import restore_model
from chaincrawler.eventstore import (
    BlockRecord,
    EventStore,
    PendingEvent,
    PendingSnapshot,
    SQLiteEventStore,
)
from chaincrawler.models import Event, Model, StateError, Tip, on


class Paid(Event):
    address: str
    value: int


class Ledger(Model):
    """A dict copied as a table, and a dict of lists decoded from the kept text."""

    balances: dict[str, int] = {}  # noqa: RUF012
    history: dict[str, list[int]] = {}  # noqa: RUF012
    payments: int = 0

    @on(Paid)
    def _paid(self, event: Paid) -> None:
        self.balances[event.address] = self.balances.get(event.address, 0) + event.value
        self.history.setdefault(event.address, []).append(event.value)
        self.payments += 1


FORK = 4  # branch "b" replaces the blocks from this height up


def block(height: int, branch: str = "a") -> BlockRecord:
    branch = branch if height >= FORK else "a"
    prev = "00" * 32 if height == 0 else block(height - 1, branch).hash
    return BlockRecord(height, f"{branch}{height:063x}", prev, 1_700_000_000 + height)


def payment(height: int, branch: str = "a") -> Paid:
    return Paid(address=f"addr{height % 3}{branch}", value=height + 1)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EventStore]:
    s = SQLiteEventStore(tmp_path / "store.db")
    await s.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    yield s
    await s.close()


async def extend(store: EventStore, model: Model, heights: range, branch: str = "a",
                 *, snapshot_at: int | None = None) -> None:
    """Commit ``heights`` of ``branch``, one payment each, applied to ``model`` too."""
    for height in heights:
        record, event = block(height, branch), payment(height, branch)
        model.replay(event)
        model.tip = Tip(record.height, record.hash)
        snapshots = [] if height != snapshot_at else [
            PendingSnapshot(model.name, height, record.hash, model.snapshot_state())]
        pending = PendingEvent(model.name, event.event_type, event.event_version,
                               event.to_json(), height, record.hash)
        await store.commit([record], [pending], snapshots)


async def replayed(store: EventStore) -> dict[str, object]:
    model = Ledger()
    await restore_model(model, store, await store.tip(), use_snapshot=False)
    return model.state_dict()


def test_restore_kept_gives_the_state_at_the_snapshot_and_shares_nothing_mutable() -> None:
    model = Ledger()
    model.replay(Paid(address="x", value=5))
    model.tip = Tip(1, "11" * 32)
    model.snapshot_state()
    model.replay(Paid(address="x", value=7))
    model.restore_kept()
    assert model.state_dict() == {"balances": {"x": 5}, "history": {"x": [5]}, "payments": 1}
    assert model.tip == Tip(1, "11" * 32)
    model.replay(Paid(address="x", value=9))  # mutates the restored dict and list
    model.restore_kept()
    assert model.state_dict() == {"balances": {"x": 5}, "history": {"x": [5]}, "payments": 1}


def test_without_a_snapshot_at_a_tip_nothing_is_kept() -> None:
    model = Ledger()
    model.snapshot_state()  # no block processed yet: no tip
    assert model.kept_snapshot() is None
    with pytest.raises(StateError, match="'ledger' has no snapshot kept in memory"):
        model.restore_kept()


async def test_a_reorg_above_the_snapshot_restores_from_memory(store: EventStore) -> None:
    model = Ledger()
    await extend(store, model, range(6), snapshot_at=3)
    await store.rollback(4)
    restored = await restore_model(model, store, await store.tip())
    assert restored.snapshot_height == 3 and restored.replayed == 1
    assert model.state_dict() == await replayed(store)
    assert model.tip == Tip(4, block(4).hash)


async def test_a_snapshot_kept_of_an_orphaned_block_is_not_used(store: EventStore) -> None:
    model = Ledger()
    await extend(store, model, range(4), snapshot_at=2)
    await extend(store, model, range(4, 6), snapshot_at=5)  # kept: block 5 of branch a
    await store.rollback(FORK - 1)
    await extend(store, Ledger(), range(FORK, 7), branch="b")  # 5 is now another block
    restored = await restore_model(model, store, await store.tip())
    assert restored.snapshot_height == 2  # the store's snapshot, not the orphaned one
    assert model.state_dict() == await replayed(store)
    assert model.kept_snapshot() == Tip(5, block(5).hash)  # kept until the next snapshot


async def test_use_snapshot_false_ignores_the_kept_snapshot(store: EventStore) -> None:
    model = Ledger()
    await extend(store, model, range(3), snapshot_at=2)
    restored = await restore_model(model, store, await store.tip(), use_snapshot=False)
    assert restored == type(restored)(None, 3)
    assert model.payments == 3
