import pytest

from chaincrawler import Block, Event, Model, on
from chaincrawler.testing.blocks import address

SHOP = address("shop")  # a regtest address the model watches


class Paid(Event):
    txid: str
    value: int


class ShopPayments(Model):
    """Satoshis the shop received, per transaction."""

    received: dict[str, int] = {}  # noqa: RUF012 (state: each instance gets a copy)

    def process_block(self, block: Block) -> None:
        for tx in block.transactions:
            for out in tx.outputs:
                if out.address == SHOP:
                    self.apply(Paid(txid=tx.txid, value=out.value))

    @on(Paid)
    def _paid(self, event: Paid) -> None:
        self.received[event.txid] = self.received.get(event.txid, 0) + event.value


@pytest.mark.asyncio
async def test_a_double_spent_payment_is_forgotten(chaingen, crawl):
    await chaingen.ensure_funds(100_000)  # a fresh node: mines until a coin is mature
    txid = await chaingen.send([(SHOP, 50_000)])  # (address, satoshis) pairs
    await chaingen.mine(1)
    [shop] = await crawl([ShopPayments()])
    assert shop.received == {txid: 50_000}

    reorg = await chaingen.reorg(1, double_spend=True)  # the new branch spends txid's input
    assert reorg.double_spent_txid == txid
    [shop] = await crawl([shop])  # resumes: rolls the old block back, crawls the new branch
    assert shop.received == {}
