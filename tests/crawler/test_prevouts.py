"""PrevoutResolver: cache hits, the -txindex path, and the fallback to getblock verbosity 3."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block, BlockHeader, OutPoint, Transaction, TxIn, TxOut
from chaincrawler.chain.wire import compact_size
from chaincrawler.crawler.prevouts import PrevoutError, PrevoutResolver
from chaincrawler.node.errors import NoTxIndexError

P2WPKH = b"\x00\x14" + b"\x07" * 20
NO_TXINDEX = ("No such mempool or blockchain transaction. Use -txindex or provide a block "
              "hash to enable blockchain transaction queries.")


def coinbase(tag: int) -> Transaction:
    return Transaction([TxIn(OutPoint(b"\x00" * 32, 0xFFFFFFFF), bytes([1, tag]))],
                       [TxOut(50_000, P2WPKH, REGTEST)], network=REGTEST)


def spend(prev: Transaction, value: int) -> Transaction:
    return Transaction([TxIn(OutPoint(prev.txid_bytes, 0))], [TxOut(value, b"\x51", REGTEST)],
                       network=REGTEST)


def block(*txs: Transaction) -> Block:
    return Block(BlockHeader(1, b"\x00" * 32, b"\x00" * 32, 0, 0, 0), list(txs), REGTEST)


class Node:
    """Knows ``old`` transactions; with ``txindex=False`` answers getrawtransaction as Core."""

    def __init__(self, old: Sequence[Transaction], txindex: bool) -> None:
        self.old = {tx.txid: tx for tx in old}
        self.txindex = txindex
        self.calls: list[str] = []
        self.nodes = ["http://127.0.0.1:1"]

    async def get_raw_transactions(self, txids: Sequence[str]) -> list[bytes | None]:
        self.calls.append("getrawtransaction")
        if not self.txindex:
            raise NoTxIndexError(-5, NO_TXINDEX, "getrawtransaction", "fake")
        return [self.old[txid].serialize() for txid in txids]

    async def get_block_verbose(self, block_hash: str, verbosity: int) -> dict[str, Any]:
        self.calls.append(f"getblock {verbosity}")
        assert verbosity == 3
        return {"tx": [self._tx_json(tx) for tx in self.block.transactions]}

    def _tx_json(self, tx: Transaction) -> dict[str, Any]:
        if tx.is_coinbase:
            return {"vin": [{"coinbase": "00"}]}
        vin = []
        for txin in tx.inputs:
            prev = self.old[txin.prevout.txid].outputs[txin.prevout.vout]
            vin.append({"prevout": {"value": prev.value / 1e8,
                                    "scriptPubKey": {"hex": prev.script_pubkey.hex()}}})
        return {"vin": vin}


async def test_spends_of_cached_outputs_need_no_node_call() -> None:
    first = coinbase(1)
    second = block(coinbase(2), spend(first, 40_000))
    node = Node([], txindex=True)
    resolver = PrevoutResolver(node)  # type: ignore[arg-type]
    await resolver.resolve(block(first))
    await resolver.resolve(second)
    prev = second.transactions[1].inputs[0].prev_txout
    assert prev is not None and prev.value == 50_000 and prev.address is not None
    assert node.calls == [] and resolver.hits == 1


@pytest.mark.parametrize("txindex", [True, False])
async def test_missing_prevouts_come_from_the_node(txindex: bool) -> None:
    old = coinbase(9)
    node = Node([old], txindex=txindex)
    resolver = PrevoutResolver(node)  # type: ignore[arg-type]
    for round_ in range(2):
        node.block = block(coinbase(3 + round_), spend(old, 10_000 + round_))
        await resolver.resolve(node.block)
        prev = node.block.transactions[1].inputs[0].prev_txout
        assert prev is not None
        assert (prev.value, prev.script_pubkey) == (50_000, P2WPKH)
    if txindex:
        assert node.calls == ["getrawtransaction", "getrawtransaction"]
    else:  # learns once that the node has no index, then goes straight to the undo data
        assert node.calls == ["getrawtransaction", "getblock 3", "getblock 3"]


async def test_a_node_answering_with_another_transaction_is_refused() -> None:
    old, other = coinbase(9), coinbase(10)
    node = Node([old], txindex=True)
    node.old[old.txid] = other
    resolver = PrevoutResolver(node)  # type: ignore[arg-type]
    with pytest.raises(PrevoutError, match="returned transaction"):
        await resolver.resolve(block(coinbase(3), spend(old, 1)))


async def test_a_transaction_that_does_not_parse_names_txid_and_block() -> None:
    old = coinbase(9)
    node = Node([old], txindex=True)

    async def truncated(txids: Sequence[str]) -> list[bytes | None]:
        return [old.serialize()[:-3] for _ in txids]

    node.get_raw_transactions = truncated  # type: ignore[method-assign]
    spending = block(coinbase(3), spend(old, 1))
    with pytest.raises(PrevoutError) as caught:
        await PrevoutResolver(node).resolve(spending)  # type: ignore[arg-type]
    assert old.txid in str(caught.value) and spending.hash in str(caught.value)
    assert "http://127.0.0.1:1" in str(caught.value)


def spent_bin(*per_tx: list[TxOut]) -> bytes:
    """A ``/rest/spenttxouts/<hash>.bin`` body listing ``per_tx`` (coinbase first)."""
    out = compact_size(len(per_tx))
    for outputs in per_tx:
        out += compact_size(len(outputs)) + b"".join(o.serialize() for o in outputs)
    return out


async def test_spent_outputs_given_with_the_block_fill_misses_without_node_calls() -> None:
    cached, old_a, old_b = coinbase(5), coinbase(7), coinbase(8)
    inputs = [TxIn(OutPoint(old_a.txid_bytes, 0)), TxIn(OutPoint(cached.txid_bytes, 0))]
    two_inputs = Transaction(inputs, [TxOut(90_000, b"\x51", REGTEST)], network=REGTEST)
    spending = block(coinbase(3), spend(old_b, 1), two_inputs)
    raw = spent_bin([], [TxOut(40_000, b"\x51", REGTEST)],
                    [TxOut(30_000, P2WPKH, REGTEST), cached.outputs[0]])
    node = Node([], txindex=True)
    resolver = PrevoutResolver(node)  # type: ignore[arg-type]
    await resolver.resolve(block(cached))
    await resolver.resolve(spending, raw)
    got = [(i.prev_txout.value, i.prev_txout.script_pubkey)
           for tx in spending.transactions[1:] for i in tx.inputs if i.prev_txout]
    assert got == [(40_000, b"\x51"), (30_000, P2WPKH), (50_000, P2WPKH)]
    # a cache hit keeps the very output object (and the address a model derived for it)
    assert two_inputs.inputs[1].prev_txout is cached.outputs[0]
    assert two_inputs.inputs[0].prev_txout.address is not None  # type: ignore[union-attr]
    assert node.calls == [] and (resolver.hits, resolver.misses) == (1, 2)


@pytest.mark.parametrize(("raw", "problem"), [
    (spent_bin([]), "lists 1 transactions"),
    (spent_bin([TxOut(1, b"", REGTEST)], [TxOut(1, b"", REGTEST)]), "spends for the coinbase"),
    (spent_bin([], []), "0 spent outputs"),
    (spent_bin([], [TxOut(1, b"", REGTEST), TxOut(2, b"", REGTEST)]), "2 spent outputs"),
    (spent_bin([], [TxOut(1, b"", REGTEST)])[:-1], "do not parse"),
])
async def test_spent_outputs_not_matching_the_block_are_refused(raw: bytes, problem: str) -> None:
    spending = block(coinbase(3), spend(coinbase(9), 1))
    with pytest.raises(PrevoutError, match=problem) as caught:
        await PrevoutResolver(Node([], txindex=True)).resolve(spending, raw)  # type: ignore[arg-type]
    assert spending.hash in str(caught.value)


def paying(tag: int, outputs: int) -> Transaction:
    """A coinbase-like transaction (tagged) with ``outputs`` outputs of 1,000 sat each."""
    return Transaction([TxIn(OutPoint(b"\x00" * 32, 0xFFFFFFFF), bytes([1, tag]))],
                       [TxOut(1_000 + i, P2WPKH, REGTEST) for i in range(outputs)],
                       network=REGTEST)


def spending(*points: tuple[Transaction, int]) -> Transaction:
    return Transaction([TxIn(OutPoint(tx.txid_bytes, vout)) for tx, vout in points],
                       [TxOut(1, b"\x51", REGTEST)], network=REGTEST)


async def test_an_output_is_served_once_and_the_oldest_are_dropped_beyond_the_bound() -> None:
    old, new = paying(1, 3), paying(2, 3)
    resolver = PrevoutResolver(Node([], txindex=True), max_entries=4)  # type: ignore[arg-type]
    await resolver.resolve(block(old))
    await resolver.resolve(block(new))  # 6 outputs held > 4: the oldest transaction goes
    first = spending((new, 2), (new, 0))
    await resolver.resolve(block(coinbase(3), first))
    assert [i.prev_txout for i in first.inputs] == [new.outputs[2], new.outputs[0]]
    assert resolver.hits == 2
    again = block(coinbase(4), spending((new, 2)), spending((old, 0)), spending((new, 1)))
    missed: list[str] = []

    async def fill(b: Block) -> None:
        missed.extend(f"{i.prevout.txid_bytes == new.txid_bytes}:{i.prevout.vout}"
                      for tx in b.transactions[1:] for i in tx.inputs if i.prev_txout is None)

    resolver._fill_from_node = fill  # type: ignore[method-assign,assignment]
    await resolver.resolve(again)
    assert missed == ["True:2", "False:0"]  # spent already; evicted
    assert again.transactions[3].inputs[0].prev_txout is new.outputs[1]
    assert resolver.hits == 3
