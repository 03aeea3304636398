"""A history-heavy model for the benchmarks: an event per output created and per input."""

from __future__ import annotations

from chaincrawler.chain.types import Block
from chaincrawler.models import Event, Model, on


class OutputCreated(Event):
    txid: str
    vout: int
    value: int
    address: str | None


class OutputSpent(Event):
    txid: str
    vin: int
    prev_txid: str
    prev_vout: int


class OutputLog(Model):
    """Counts outputs and spends; its log is the point (about 3.5 events per transaction)."""

    created: int = 0
    spent: int = 0

    def process_block(self, block: Block) -> None:
        apply = self.apply
        for tx in block.transactions:
            txid = tx.txid
            if not tx.is_coinbase:
                for i, txin in enumerate(tx.inputs):
                    point = txin.prevout
                    apply(OutputSpent(txid=txid, vin=i, prev_txid=point.txid,
                                      prev_vout=point.vout))
            for n, out in enumerate(tx.outputs):
                apply(OutputCreated(txid=txid, vout=n, value=out.value, address=out.address))

    @on(OutputCreated)
    def _created(self, event: OutputCreated) -> None:
        self.created += 1

    @on(OutputSpent)
    def _spent(self, event: OutputSpent) -> None:
        self.spent += 1
