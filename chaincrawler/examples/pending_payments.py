"""Example mempool model: incoming payments to watched addresses, pending and confirmed.

Configure the addresses with ``model_args.pending_payments.addresses`` (or
``PendingPayments(addresses=[...])``). Each transaction paying a watched address is
followed from the mempool to its confirmations:

- in the mempool it is *pending* (0 confirmations); a replacement (RBF) makes it
  *replaced*, naming the replacing txid when the watcher saw it; a block spending the
  same outputs, an expiry or an eviction make it *dropped*;
- once mined it is *confirmed*, with ``tip height - block height + 1`` confirmations,
  until ``settled_after`` confirmations, when it is forgotten.

Confirmations are block state (events ``PaymentConfirmed`` / ``PaymentsSettled``,
rolled back and replayed like any model's), so a reorg takes them back; the
transactions the reorg returns to the mempool come back as pending. The mempool side
(pending, replaced, dropped) is rebuilt from the node on every start and recorded as
mempool events (``PaymentSeen``, ``PaymentReplaced``, ``PaymentDropped``,
``PaymentMined``) in the store's mempool log.

Queries: ``payments(address=None)`` lists what is pending or not yet settled, and
``payment(txid)`` tells what became of one transaction.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Literal

import pydantic

from chaincrawler.chain.types import Block, Transaction
from chaincrawler.crawler.mempool import (
    MempoolChange,
    MempoolLoaded,
    RemovalReason,
    TxAdded,
    TxRemoved,
)
from chaincrawler.crawler.mempool_models import MempoolModel
from chaincrawler.models import Event, on, query

#: How many replaced or dropped transactions the model remembers (the oldest go first).
_GONE_KEPT = 10_000


class PaymentConfirmed(Event):
    """A block paid watched addresses (amounts in satoshis, by address)."""

    txid: str
    amounts: dict[str, int]
    height: int


class PaymentsSettled(Event):
    """These confirmed payments reached ``settled_after`` confirmations: forgotten."""

    txids: list[str]


class PaymentSeen(Event):
    """Mempool event: a transaction paying watched addresses entered the mempool."""

    txid: str
    amounts: dict[str, int]


class PaymentReplaced(Event):
    """Mempool event: a pending payment was replaced (RBF)."""

    txid: str
    replaced_by: str | None


class PaymentDropped(Event):
    """Mempool event: a pending payment left the mempool unconfirmed (conflicted by a
    block, expired or evicted)."""

    txid: str
    reason: str


class PaymentMined(Event):
    """Mempool event: a pending payment left the mempool in a block."""

    txid: str
    height: int | None
    block_hash: str | None


Status = Literal["pending", "confirmed", "replaced", "dropped", "unknown"]


class Payment(pydantic.BaseModel):
    """One transaction's payment to one watched address."""

    txid: str
    address: str
    value: int
    confirmations: int
    """0 while in the mempool."""


class PaymentStatus(pydantic.BaseModel):
    """What became of a transaction paying watched addresses."""

    txid: str
    status: Status
    confirmations: int
    amounts: dict[str, int]
    replaced_by: str | None = None
    """The replacing transaction, when replaced and the watcher saw it."""
    reason: str | None = None
    """Why it was dropped."""


class PendingPayments(MempoolModel):
    """Incoming payments to ``addresses``: pending in the mempool, then confirmed."""

    confirmed_at: dict[str, int] = {}  # noqa: RUF012 (state: txid -> block height)
    confirmed_amounts: dict[str, dict[str, int]] = {}  # noqa: RUF012

    def __init__(self, *, addresses: Iterable[str], settled_after: int = 6) -> None:
        super().__init__()
        self.addresses = frozenset(addresses)
        if not self.addresses:
            raise ValueError("watch at least one address")
        if settled_after < 1:
            raise ValueError(f"settled_after must be >= 1, not {settled_after}")
        self.settled_after = settled_after
        # Mempool state: rebuilt from the node on each start, never snapshotted.
        self.pending: dict[str, dict[str, int]] = {}
        self.gone: OrderedDict[str, PaymentStatus] = OrderedDict()

    # -- blocks ---------------------------------------------------------------------

    def process_block(self, block: Block) -> None:
        height = block.height
        assert height is not None  # the crawler gives blocks with their height
        for tx in block.transactions:
            amounts = self._amounts(tx)
            if amounts:
                self.apply(PaymentConfirmed(txid=tx.txid, amounts=amounts, height=height))
        settled = [t for t, h in self.confirmed_at.items() if height - h + 1 >= self.settled_after]
        if settled:
            self.apply(PaymentsSettled(txids=sorted(settled)))

    @on(PaymentConfirmed)
    def _confirmed(self, event: PaymentConfirmed) -> None:
        self.confirmed_at[event.txid] = event.height
        self.confirmed_amounts[event.txid] = event.amounts

    @on(PaymentsSettled)
    def _settled(self, event: PaymentsSettled) -> None:
        for txid in event.txids:
            self.confirmed_at.pop(txid, None)
            self.confirmed_amounts.pop(txid, None)

    # -- mempool --------------------------------------------------------------------

    def process_mempool(self, change: MempoolChange) -> None:
        if isinstance(change, MempoolLoaded):
            self.pending.clear()
            for added in change.txs:
                self._added(added)
        elif isinstance(change, TxAdded):
            self._added(change)
        else:
            self._removed(change)

    def _added(self, change: TxAdded) -> None:
        amounts = self._amounts(change.tx)
        if amounts:
            self.pending[change.txid] = amounts
            self.gone.pop(change.txid, None)  # back after a reorg
            self.emit(PaymentSeen(txid=change.txid, amounts=amounts), txid=change.txid)

    def _removed(self, change: TxRemoved) -> None:
        amounts = self.pending.pop(change.txid, None)
        if amounts is None:
            return
        txid = change.txid
        if change.reason is RemovalReason.CONFIRMED:
            self.emit(PaymentMined(txid=txid, height=change.height, block_hash=change.block_hash),
                      txid=txid)
            return
        if change.reason is RemovalReason.REPLACED:
            status = PaymentStatus(txid=txid, status="replaced", confirmations=0,
                                   amounts=amounts, replaced_by=change.replaced_by)
            self.emit(PaymentReplaced(txid=txid, replaced_by=change.replaced_by), txid=txid)
        else:
            status = PaymentStatus(txid=txid, status="dropped", confirmations=0,
                                   amounts=amounts, reason=str(change.reason))
            self.emit(PaymentDropped(txid=txid, reason=str(change.reason)), txid=txid)
        self.gone[txid] = status
        while len(self.gone) > _GONE_KEPT:
            self.gone.popitem(last=False)

    # -- queries --------------------------------------------------------------------

    @query
    def payments(self, address: str | None = None) -> list[Payment]:
        """Payments pending in the mempool (0 confirmations) or confirmed and not yet
        settled, to ``address`` or to every watched address; most confirmed first."""
        unconfirmed = [(t, a) for t, a in self.pending.items() if t not in self.confirmed_at]
        out = [
            Payment(txid=txid, address=a, value=v, confirmations=self._confirmations(txid))
            for txid, amounts in [*self.confirmed_amounts.items(), *unconfirmed]
            for a, v in sorted(amounts.items())
            if address is None or a == address
        ]
        return sorted(out, key=lambda p: (-p.confirmations, p.txid, p.address))

    @query
    def payment(self, txid: str) -> PaymentStatus:
        """What became of transaction ``txid``: pending, confirmed (with its
        confirmations), replaced (by which txid), dropped, or unknown."""
        if txid in self.confirmed_amounts:
            return PaymentStatus(txid=txid, status="confirmed",
                                 amounts=self.confirmed_amounts[txid],
                                 confirmations=self._confirmations(txid))
        if txid in self.pending:
            return PaymentStatus(txid=txid, status="pending", confirmations=0,
                                 amounts=self.pending[txid])
        if txid in self.gone:
            return self.gone[txid]
        return PaymentStatus(txid=txid, status="unknown", confirmations=0, amounts={})

    # -- helpers --------------------------------------------------------------------

    def _amounts(self, tx: Transaction) -> dict[str, int]:
        amounts: dict[str, int] = {}
        for out in tx.outputs:
            address = out.address
            if address in self.addresses:
                amounts[address] = amounts.get(address, 0) + out.value
        return amounts

    def _confirmations(self, txid: str) -> int:
        height = self.confirmed_at.get(txid)
        if height is None or self.tip is None:
            return 0
        return self.tip.height - height + 1
