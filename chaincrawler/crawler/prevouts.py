"""Resolve the outputs that a block's inputs spend (value, scriptPubKey, address).

Outputs created by crawled blocks are kept in a bounded cache keyed by outpoint and
dropped when spent; most spends hit it, and reuse the output object whose address a model
already derived. When some of a block's inputs miss (an old coin, a start above height 0,
a restart, a reorg), they come from the block's REST ``spenttxouts`` reply (Bitcoin Core
>= 30; fetched with the block by :class:`~chaincrawler.crawler.source.BlockSource`, read
only then). Without it, the transactions that created them are fetched raw in one
``getrawtransaction`` batch, which needs the node's ``-txindex``; a node without it
answers from its undo data instead, through one ``getblock <hash> 3`` (verbose JSON,
slower) for each block with a miss.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NoReturn

from chaincrawler.chain.types import Block, Transaction, TxOut
from chaincrawler.crawler.errors import InconsistentNodeError
from chaincrawler.errors import ChainDataError
from chaincrawler.node.client import NodeClient
from chaincrawler.node.errors import NoTxIndexError
from chaincrawler.node.rest import parse_spent_txouts

_SATS = Decimal(100_000_000)


class PrevoutError(InconsistentNodeError):
    """The node's answer about a block's prevouts does not match the block."""


class PrevoutResolver:
    """Fills ``TxIn.prev_txout`` for every non-coinbase input of a block."""

    def __init__(self, node: NodeClient, max_entries: int = 300_000) -> None:
        self._node = node
        self._max = max_entries
        # txid -> [its outputs not spent yet, then each output (None once spent)]: a spend
        # reuses the output object whose address a model already derived. One entry a
        # transaction, not one an output: a block's outputs go in with one insert each
        # transaction. Insertion order is eviction order.
        self._cache: dict[bytes, list[Any]] = {}
        self._held = 0  # outputs in the cache not spent yet (bounded by max_entries)
        self.hits = 0
        self.misses = 0
        self._txindex = True  # until the node shows it has none

    async def resolve(self, block: Block, spent: bytes | None = None) -> None:
        """Resolve every input of ``block`` and remember its outputs for later blocks.

        ``spent`` is the block's ``/rest/spenttxouts/<hash>.bin`` body, if fetched: it
        resolves what the cache misses without asking the node.
        """
        cache = self._cache
        missing = False
        hits = 0
        held = self._held
        for tx in block.transactions:
            if not tx.is_coinbase:
                for txin in tx.inputs:
                    if txin.prev_txout is not None:
                        continue
                    point = txin.prevout
                    entry = cache.get(point.txid_bytes)
                    slot = point.vout + 1
                    if entry is None or slot >= len(entry) or entry[slot] is None:
                        missing = True
                        continue
                    txin.prev_txout = entry[slot]
                    entry[slot] = None
                    entry[0] -= 1
                    if not entry[0]:
                        del cache[point.txid_bytes]
                    hits += 1
            outputs = tx.outputs
            replaced = cache.get(tx.txid_bytes)  # a duplicate txid (BIP 30), or a reorg
            if replaced is not None:
                held -= replaced[0]
            cache[tx.txid_bytes] = [len(outputs), *outputs]
            held += len(outputs) - hits
            self.hits += hits
            hits = 0
        self._held = held
        if missing and spent is not None:
            self._fill_from_spent(block, spent)
        elif missing:
            await self._fill_from_node(block)
        if self._held > self._max:
            self._evict(self._held - self._max)

    def _evict(self, outputs: int) -> None:
        """Drop the oldest transactions' entries holding at least ``outputs`` outputs."""
        oldest = []
        for txid, entry in self._cache.items():
            oldest.append(txid)
            outputs -= entry[0]
            if outputs <= 0:
                break
        for txid in oldest:
            self._held -= self._cache.pop(txid)[0]

    def _fill_from_spent(self, block: Block, raw: bytes) -> None:
        try:
            spent = parse_spent_txouts(raw)
        except ValueError as exc:
            self._fail(f"the spenttxouts of block {block.hash} do not parse: {exc}")
        txs = block.transactions
        if len(spent) != len(txs) or spent[0]:
            self._fail(
                f"spenttxouts of block {block.hash} lists {len(spent)} transactions"
                f"{' and spends for the coinbase' if spent and spent[0] else ''}, "
                f"the block has {len(txs)}"
            )
        network = block.network
        for tx, outputs in zip(txs[1:], spent[1:], strict=True):
            inputs = tx.inputs
            if len(outputs) != len(inputs):
                self._fail(
                    f"spenttxouts of block {block.hash} lists {len(outputs)} spent outputs "
                    f"for {tx.txid}, which has {len(inputs)} inputs"
                )
            for txin, (value, script) in zip(inputs, outputs, strict=True):
                if txin.prev_txout is None:
                    txin.prev_txout = TxOut(value, script, network)
                    self.misses += 1

    async def _fill_from_node(self, block: Block) -> None:
        if self._txindex and await self._fill_from_txindex(block):
            return
        await self._fill_from_undo(block)

    async def _fill_from_txindex(self, block: Block) -> bool:
        """Fetch the missing prevouts' transactions raw; False if the node cannot."""
        wanted = {
            txin.prevout.txid
            for tx in block.transactions[1:]
            for txin in tx.inputs
            if txin.prev_txout is None
        }
        txids = sorted(wanted)
        try:
            raws = await self._node.get_raw_transactions(txids)
        except NoTxIndexError:
            self._txindex = False  # the node has no index: use its undo data
            return False
        found: dict[bytes, Transaction] = {}
        for txid, raw in zip(txids, raws, strict=True):
            if raw is None:
                return False  # not indexed (yet): the undo data has it
            try:
                tx = Transaction.from_bytes(raw, network=block.network)
            except ChainDataError as exc:
                self._fail(f"getrawtransaction {txid} (spent in block {block.hash}): {exc}")
            if tx.txid != txid:
                self._fail(f"getrawtransaction {txid} returned transaction {tx.txid}")
            found[tx.txid_bytes] = tx
        for tx in block.transactions[1:]:
            for txin in tx.inputs:
                if txin.prev_txout is None:
                    point = txin.prevout
                    outputs = found[point.txid_bytes].outputs
                    if point.vout >= len(outputs):
                        self._fail(f"{point.txid} has no output {point.vout}")
                    txin.prev_txout = outputs[point.vout]
                    self.misses += 1
        return True

    async def _fill_from_undo(self, block: Block) -> None:
        verbose = await self._node.get_block_verbose(block.hash, 3)
        jtxs: list[dict[str, Any]] = verbose.get("tx", [])
        if len(jtxs) != len(block.transactions):
            self._fail(
                f"getblock {block.hash} 3 lists {len(jtxs)} transactions, "
                f"the block has {len(block.transactions)}"
            )
        for tx, jtx in zip(block.transactions, jtxs, strict=True):
            if tx.is_coinbase:
                continue
            for txin, jin in zip(tx.inputs, jtx.get("vin", []), strict=True):
                if txin.prev_txout is not None:
                    continue
                prevout = jin.get("prevout")
                if prevout is None:
                    self._fail(
                        f"getblock {block.hash} 3 gave no prevout for {tx.txid} (does the "
                        "node still have the block's undo data?)"
                    )
                value = int(Decimal(str(prevout["value"])) * _SATS)
                script = bytes.fromhex(prevout["scriptPubKey"]["hex"])
                txin.prev_txout = TxOut(value, script, block.network)
                self.misses += 1

    def _fail(self, problem: str) -> NoReturn:
        raise PrevoutError(self._node.nodes, problem)
