"""Restoring from snapshots of other formats and models: what an older release wrote (the
version-2 stores kept as test data) loads, and one that no longer fits the model is
replayed around or refused naming the way out."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.crawler.restore import restore_model
from chaincrawler.eventstore import (
    BlockRecord,
    EventStore,
    PendingEvent,
    PendingSnapshot,
    PostgresEventStore,
    SQLiteEventStore,
)
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.models import Event, Model, StateError, StoredDict, Tip, on
from chaincrawler.models.state import StateCodec

DATA = Path(__file__).parents[1] / "data" / "stores"
V2_GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
# The state make_v2.py wrote in every snapshot (plain JSON, no fingerprint), at height 7.
V2_TYPES = {"tip": int, "by_addr": dict[str, int | dict[str, int]], "model": str}
V2_STATE = {"tip": 7, "by_addr": {"zz": 2, "aa": 1, "m": {"k2": 0, "k1": 1}},
            "model": "balances"}


async def check_v2_store(store: EventStore) -> None:
    """A store the release with schema version 2 wrote, opened (migrated) by this code:
    its snapshots load, and this code's snapshots go on beside them."""
    await store.open(network="regtest", genesis_hash=V2_GENESIS)
    try:
        snapshot = await store.latest_snapshot("balances")
        assert snapshot is not None and snapshot.block_height == 7
        state = StateCodec("balances", V2_TYPES).load(snapshot.state)
        assert state == V2_STATE
        assert list(state["by_addr"]) == ["zz", "aa", "m"]
        # This code's snapshot (with columns) on the migrated store, restored by a new model.
        tip = await store.tip()
        assert tip is not None
        record = BlockRecord(tip.height + 1, "ab" * 32, tip.hash, 1_700_000_000)
        model = AddressBalances()
        model.balances = {"bc1qzz": 2**70, "1Aa": 0}
        model.tx_counts = {"bc1qzz": 3, "1Aa": 1}
        await store.commit([record], [], [PendingSnapshot(model.name, record.height,
                                                          record.hash, model.snapshot_state())])
        fresh = AddressBalances()
        restored = await restore_model(fresh, store, record)
        assert restored.snapshot_height == record.height
        assert fresh.state_dict() == model.state_dict()
    finally:
        await store.close()


async def test_snapshots_of_the_version_2_sqlite_store_load(tmp_path: Path) -> None:
    shutil.copy(DATA / "sqlite-v2.db", tmp_path / "store.db")
    await check_v2_store(SQLiteEventStore(tmp_path / "store.db"))


async def test_snapshots_of_the_version_2_postgres_store_load(
    pg_dsn: str, pg_schemas: Callable[[], str]
) -> None:
    schema = pg_schemas()
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute((DATA / "postgres-v2.sql").read_text().replace("cc_v2_fixture", schema))
    finally:
        await conn.close()
    await check_v2_store(PostgresEventStore(pg_dsn, schema=schema))


class Paid(Event):
    address: str
    value: int


class Before(Model):
    name = "ledger"
    balances: dict[str, int] = {}  # noqa: RUF012

    @on(Paid)
    def _paid(self, event: Paid) -> None:
        self.balances[event.address] = self.balances.get(event.address, 0) + event.value


class After(Before):
    """The next version of the model: a new state attribute the old snapshot lacks."""

    name = "ledger"
    payments: int = 0

    @on(Paid)
    def _paid(self, event: Paid) -> None:
        super()._paid(event)
        self.payments += 1


def block(height: int) -> BlockRecord:
    prev = "00" * 32 if height == 0 else f"{height - 1:064x}"
    return BlockRecord(height, f"{height:064x}", prev, 1_700_000_000 + height)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EventStore]:
    s = SQLiteEventStore(tmp_path / "store.db")
    await s.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    yield s
    await s.close()


async def commit_payments(store: EventStore, model: Model, heights: range,
                          snapshot_at: int) -> None:
    for height in heights:
        record, event = block(height), Paid(address=f"a{height % 2}", value=height + 1)
        model.replay(event)
        model.tip = Tip(height, record.hash)
        snapshots = [PendingSnapshot(model.name, height, record.hash, model.snapshot_state())
                     ] if height == snapshot_at else []
        await store.commit([record], [PendingEvent(model.name, "Paid", 1, event.to_json(),
                                                   height, record.hash)], snapshots)


async def test_a_snapshot_the_model_outgrew_is_replayed_around(store: EventStore) -> None:
    await commit_payments(store, Before(), range(4), snapshot_at=2)
    snapshot = await store.latest_snapshot("ledger")
    assert snapshot is not None
    with pytest.raises(StateError) as caught:
        After().restore_state(snapshot.state)
    message = str(caught.value)
    assert message.startswith("model 'ledger': snapshot does not match the state attributes")
    assert "it lacks state attribute(s) 'payments'" in message
    assert message.endswith("the crawler restores it from its events instead; to store a "
                            "fitting snapshot: chaincrawler rebuild --model ledger --from-events")
    model = After()
    restored = await restore_model(model, store, block(3))
    assert restored.snapshot_height is None and restored.replayed == 4
    assert model.state_dict() == {"balances": {"a0": 1 + 3, "a1": 2 + 4}, "payments": 4}


class StoredBefore(Model):
    name = "stored"
    seen: StoredDict[str, int] = StoredDict()
    counts: dict[str, int] = {}  # noqa: RUF012


class StoredAfter(Model):
    name = "stored"
    seen: StoredDict[str, int] = StoredDict()
    counts: dict[str, list[int]] = {}  # noqa: RUF012


def test_a_snapshot_a_model_with_stored_collections_outgrew_names_its_re_index() -> None:
    old = StoredBefore()
    old.counts = {"a": 1}
    with pytest.raises(StateError) as caught:
        StoredAfter().restore_state(old.snapshot_state())
    message = str(caught.value)
    assert "state attribute 'counts' at a: Input should be a valid array" in message
    assert message.endswith("re-index it: chaincrawler rebuild --model stored --from-node")
