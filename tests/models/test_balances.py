"""The example AddressBalances model on blocks built with the chain layer."""

from __future__ import annotations

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block, OutPoint, Transaction, TxIn, TxOut
from chaincrawler.examples import AddressBalances, BalancesChanged
from chaincrawler.models import Event
from chaincrawler.testing.blocks import address, block, coinbase, spend

A, B, C = address("alice"), address("bob"), address("carol")


def scenario() -> list[Block]:
    cb0 = coinbase(0, [(A, 50_000)])
    cb1 = coinbase(1, [(B, 50_000)])
    # alice pays carol 20k and herself 29k change (1k fee)
    pay = spend([(cb0, 0)], [(C, 20_000), (A, 29_000)])
    # bob and alice's change together pay carol twice in one tx
    merge = spend([(cb1, 0), (pay, 1)], [(C, 40_000), (C, 38_000)])
    b0 = block(0, [cb0])
    b1 = block(1, [cb1, pay], prev_hash=b0.hash_bytes)
    b2 = block(2, [coinbase(2, [(B, 1)]), merge], prev_hash=b1.hash_bytes)
    return [b0, b1, b2]


async def crawl(model: AddressBalances, blocks: list[Block]) -> list[Event]:
    events: list[Event] = []
    for b in blocks:
        events.extend(await model.run_block(b))
    return events


async def test_balances_and_tx_counts_follow_credits_and_debits():
    model = AddressBalances()
    await crawl(model, scenario())
    assert model.balances == {A: 0, B: 1, C: 98_000}
    assert model.tx_counts == {A: 3, B: 3, C: 2}


async def test_one_event_per_transaction_aggregates_per_address():
    model = AddressBalances()
    blocks = scenario()
    events = await crawl(model, blocks)
    assert len(events) == sum(len(b.transactions) for b in blocks) == 5
    merge = events[-1]
    assert merge == BalancesChanged(
        txid=blocks[2].transactions[1].txid,
        credited={C: 78_000},
        debited={B: 50_000, A: 29_000},
    )


async def test_replay_and_snapshot_rebuild_the_same_state():
    model = AddressBalances()
    events = await crawl(model, scenario())
    replayed = AddressBalances()
    for event in events:
        replayed.replay(event)
    restored = AddressBalances()
    restored.restore_state(model.snapshot_state())
    assert replayed.state_dict() == restored.state_dict() == model.state_dict()


async def test_stored_events_load_back_through_the_registry():
    model = AddressBalances()
    events = await crawl(model, scenario())
    registry = AddressBalances.event_registry()
    loaded = [
        registry.load(e.event_type, e.event_version, e.to_json(), model=model.name, position=i)
        for i, e in enumerate(events, 1)
    ]
    assert loaded == events


async def test_unresolved_prevouts_are_not_debited():
    cb = coinbase(0, [(A, 10)])
    tx = spend([(cb, 0)], [(B, 9)], resolve=False)
    model = AddressBalances()
    await crawl(model, [block(0, [cb, tx])])
    assert model.balances == {A: 10, B: 9}


async def test_outputs_without_an_address_are_ignored():
    cb = coinbase(0, [(A, 10)])
    op_return = Transaction(
        [TxIn(OutPoint(cb.txid_bytes, 0))], [TxOut(0, b"\x6a\x04data", REGTEST)], network=REGTEST
    )
    op_return.inputs[0].prev_txout = cb.outputs[0]
    model = AddressBalances()
    events = await crawl(model, [block(0, [cb, op_return])])
    assert events[-1] == BalancesChanged(txid=op_return.txid, credited={}, debited={A: 10})
    assert model.balances == {A: 0}


async def test_balance_and_top_queries():
    model = AddressBalances()
    await crawl(model, scenario())
    assert model.run_query("balance", {"address": C}) == {
        "address": C, "balance": 98_000, "tx_count": 2,
    }
    assert model.run_query("balance", {"address": "nobody"})["balance"] == 0
    top = model.run_query("top", {"n": 2})
    assert [(r["address"], r["balance"]) for r in top] == [(C, 98_000), (B, 1)]
    assert AddressBalances.queries()["top"].params_schema["properties"]["n"]["maximum"] == 1000
