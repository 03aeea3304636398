"""Example model: the balance (in satoshis) and transaction count of every address.

One ``BalancesChanged`` event per transaction carries, per address, what the
transaction's outputs paid to it (``credited``) and what its inputs spent from it
(``debited``). Aggregating per transaction rather than emitting one event per
output and input keeps the log about three times smaller, and lets the handler
count each transaction once per address even when an address both pays and
receives (change back to itself).

Debits need the outputs being spent: the crawler resolves them into
``txin.prev_txout``. Inputs it did not resolve are skipped, so run this model
with prevout resolution on, or balances only ever grow.
"""

from __future__ import annotations

import heapq
from typing import Annotated, Protocol

import pydantic

from chaincrawler.chain.types import Block
from chaincrawler.models import Event, Model, on, query


class BalancesChanged(Event):
    """What one transaction paid to and spent from each address, in satoshis."""

    txid: str
    credited: dict[str, int]
    debited: dict[str, int]


class AddressBalance(pydantic.BaseModel):
    """An address with its balance in satoshis and number of transactions."""

    address: str
    balance: int
    tx_count: int


class AddressBalances(Model):
    """Per-address balance in satoshis and transaction count."""

    needs_prevouts = True

    balances: dict[str, int] = {}  # noqa: RUF012 (state: each instance gets a copy)
    tx_counts: dict[str, int] = {}  # noqa: RUF012

    def process_block(self, block: Block) -> None:
        apply = self.apply
        for tx in block.transactions:
            credited: dict[str, int] = {}
            for out in tx.outputs:
                address = out.address
                if address is not None:
                    credited[address] = credited.get(address, 0) + out.value
            debited: dict[str, int] = {}
            if not tx.is_coinbase:
                for txin in tx.inputs:
                    prev = txin.prev_txout
                    if prev is not None:
                        address = prev.address
                        if address is not None:
                            debited[address] = debited.get(address, 0) + prev.value
            if credited or debited:
                apply(BalancesChanged(txid=tx.txid, credited=credited, debited=debited))

    @on(BalancesChanged)
    def _changed(self, event: BalancesChanged) -> None:
        apply_change(event, self.balances, self.tx_counts)

    @query
    def balance(self, address: str) -> AddressBalance:
        """Balance in satoshis and transaction count of ``address`` (zero if never seen)."""
        return AddressBalance(
            address=address,
            balance=self.balances.get(address, 0),
            tx_count=self.tx_counts.get(address, 0),
        )

    @query
    def top(self, n: Annotated[int, pydantic.Field(ge=1, le=1000)] = 10) -> list[AddressBalance]:
        """The ``n`` addresses with the largest balances, largest first."""
        counts = self.tx_counts
        best = heapq.nlargest(n, self.balances.items(), key=lambda item: item[1])
        return [
            AddressBalance(address=a, balance=b, tx_count=counts.get(a, 0)) for a, b in best
        ]


class _Counts(Protocol):
    def get(self, key: str, default: int, /) -> int: ...
    def __setitem__(self, key: str, value: int, /) -> None: ...


def apply_change(event: BalancesChanged, balances: _Counts, tx_counts: _Counts) -> None:
    """Add a transaction's credits and debits to the balances and per-address tx counts."""
    for address, value in event.credited.items():
        balances[address] = balances.get(address, 0) + value
        tx_counts[address] = tx_counts.get(address, 0) + 1
    for address, value in event.debited.items():
        balances[address] = balances.get(address, 0) - value
        if address not in event.credited:
            tx_counts[address] = tx_counts.get(address, 0) + 1
