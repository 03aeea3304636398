"""Example model: ``AddressBalances`` with its state in a stored collection.

The same events as :mod:`chaincrawler.examples.balances` (one ``BalancesChanged`` per
transaction), but each address's balance and transaction count live in the event store,
in one collection whose value holds both (``[balance, tx_count]`` as JSON: one key, one
row and one read per address), so the model's memory is bounded by the collection's
cache, not by the number of addresses. ``process_block`` builds the block's events
first, prefetches every address they touch in one batched read (``prefetch_events``,
which a rebuild from the stored events calls per block too), then applies them; the
handler reads only those.
"""

from __future__ import annotations

from collections.abc import Sequence

from chaincrawler.chain.types import Block
from chaincrawler.examples.balances import AddressBalance, BalancesChanged
from chaincrawler.models import Event, Model, StoredDict, on, query


def balance_changes(block: Block) -> list[BalancesChanged]:
    """What each transaction of ``block`` paid to and spent from each address."""
    changes = []
    for tx in block.transactions:
        credited: dict[str, int] = {}
        for out in tx.outputs:
            if out.address is not None:
                credited[out.address] = credited.get(out.address, 0) + out.value
        debited: dict[str, int] = {}
        if not tx.is_coinbase:
            for txin in tx.inputs:
                prev = txin.prev_txout
                if prev is not None and prev.address is not None:
                    debited[prev.address] = debited.get(prev.address, 0) + prev.value
        if credited or debited:
            changes.append(BalancesChanged(txid=tx.txid, credited=credited, debited=debited))
    return changes


class StoredAddressBalances(Model):
    """Per-address balance in satoshis and transaction count, kept in the store."""

    needs_prevouts = True

    accounts: StoredDict[str, tuple[int, int]] = StoredDict()  # (balance, tx count)

    async def process_block(self, block: Block) -> None:
        changes = balance_changes(block)
        await self.prefetch_events(changes)
        for change in changes:
            self.apply(change)

    async def prefetch_events(self, events: Sequence[Event]) -> None:
        """Load every address the block's ``BalancesChanged`` events touch, in one read
        (``process_block`` and a rebuild from stored events both call it)."""
        await self.accounts.prefetch({a for e in events if isinstance(e, BalancesChanged)
                                      for a in (*e.credited, *e.debited)})

    @on(BalancesChanged)
    def _changed(self, event: BalancesChanged) -> None:
        accounts = self.accounts
        for address, value in event.credited.items():
            balance, count = accounts.get(address, (0, 0))
            accounts[address] = (balance + value, count + 1)
        for address, value in event.debited.items():
            balance, count = accounts.get(address, (0, 0))
            # a transaction that also pays the address was counted with its credit
            accounts[address] = (balance - value,
                                 count if address in event.credited else count + 1)

    @query
    async def balance(self, address: str) -> AddressBalance:
        """Balance and transaction count of ``address`` (zero if never seen), read from
        the store at the state served (the committed tip, or a height of the window)."""
        balance, count = (await self.accounts.fetch([address])).get(address, (0, 0))
        return AddressBalance(address=address, balance=balance, tx_count=count)
