"""Example model: ``AddressBalances`` with its state in stored collections.

The same events as :mod:`chaincrawler.examples.balances` (one ``BalancesChanged`` per
transaction), but balances and transaction counts live in the event store, so the
model's memory is bounded by the collections' caches, not by the number of addresses.
``process_block`` builds the block's events first, prefetches every address they touch
in one batched read per collection, then applies them; the handler reads only those.
"""

from __future__ import annotations

from chaincrawler.chain.types import Block
from chaincrawler.examples.balances import AddressBalance, BalancesChanged, apply_change
from chaincrawler.models import Model, StoredDict, on, query


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

    balances: StoredDict[str, int] = StoredDict()
    tx_counts: StoredDict[str, int] = StoredDict()

    async def process_block(self, block: Block) -> None:
        changes = balance_changes(block)
        touched = {a for c in changes for a in (*c.credited, *c.debited)}
        await self.balances.prefetch(touched)
        await self.tx_counts.prefetch(touched)
        for change in changes:
            self.apply(change)

    @on(BalancesChanged)
    def _changed(self, event: BalancesChanged) -> None:
        apply_change(event, self.balances, self.tx_counts)

    @query
    async def balance(self, address: str) -> AddressBalance:
        """Balance and transaction count of ``address`` (zero if never seen), read from
        the store at the state served (the committed tip, or a height of the window)."""
        balances = await self.balances.fetch([address])
        counts = await self.tx_counts.fetch([address])
        return AddressBalance(address=address, balance=balances.get(address, 0),
                              tx_count=counts.get(address, 0))
