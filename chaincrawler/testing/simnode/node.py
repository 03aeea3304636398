"""The simulated node's engine: chain activation, reorgs, mempool updates, notifications.

It follows Bitcoin Core's ``ActivateBestChain``: disconnect to the fork point (each
block's transactions go to a disconnect pool), connect towards the most-work block
(removing confirmed and conflicting mempool transactions), then return the
disconnected transactions to the mempool if still valid, and evict what the new chain
made invalid. Notifications go out in Core's order.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from chaincrawler.chain.consensus import REGTEST_BITS, block_subsidy
from chaincrawler.chain.networks import MAINNET, REGTEST
from chaincrawler.chain.types import Block, BlockHeader, Transaction
from chaincrawler.errors import ChaincrawlerError
from chaincrawler.testing.simnode import mining
from chaincrawler.testing.simnode.chainstate import (
    BlockIndex,
    BlockValidationError,
    ChainState,
)
from chaincrawler.testing.simnode.mempool import Mempool, MempoolEntry
from chaincrawler.testing.simnode.persistence import BLOCK, INVALIDATE, RECONSIDER, Journal

GENESIS_TIME = 1296688602
GENESIS_NONCE = 2
MAX_TIP_AGE = 24 * 60 * 60
MAX_READDED_BLOCKS = 10
"""``invalidateblock`` returns the transactions of this many blocks to the mempool."""
_MAINNET_GENESIS_HEX = (
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b2"
    "7ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c01010000000100"
    "00000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104"
    "455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b20"
    "6f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104"
    "678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504"
    "e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000"
)


class SimRpcError(ChaincrawlerError):
    """An RPC-level failure of the simulated node, with Core's code and message."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{message} (code {code})")


class Notifier(Protocol):
    """What the node tells its publishers (Core's validation interface, ZMQ's view)."""

    def transaction_added(self, tx: Transaction, sequence: int) -> None: ...

    def transaction_removed(self, tx: Transaction, sequence: int) -> None: ...

    def block_connected(self, block: Block) -> None: ...

    def block_disconnected(self, block: Block) -> None: ...

    def updated_tip(self, block: Block) -> None: ...


class _Silent:
    """Notifier used while replaying the journal at startup."""

    def transaction_added(self, tx: Transaction, sequence: int) -> None:
        pass

    def transaction_removed(self, tx: Transaction, sequence: int) -> None:
        pass

    def block_connected(self, block: Block) -> None:
        pass

    def block_disconnected(self, block: Block) -> None:
        pass

    def updated_tip(self, block: Block) -> None:
        pass


def regtest_genesis() -> Block:
    """Bitcoin Core's regtest genesis block."""
    mainnet = Block.from_hex(_MAINNET_GENESIS_HEX, MAINNET)
    h = mainnet.header
    header = BlockHeader(h.version, h.prev_hash_bytes, h.merkle_root_bytes, GENESIS_TIME,
                         REGTEST_BITS, GENESIS_NONCE)
    block = Block.from_bytes(Block(header, mainnet.transactions, MAINNET).serialize(), REGTEST)
    if block.hash != REGTEST.genesis_hash:
        raise AssertionError("regtest genesis hash mismatch")
    return block


class Engine:
    """Chain state, mempool and journal of one simulated node."""

    def __init__(self, netdir: Path, notifier: Notifier | None = None) -> None:
        self.start_time = int(time.time())
        self.mocktime = 0
        self.notifier: Notifier = _Silent()
        self.chain = ChainState(regtest_genesis())
        self.mempool = Mempool(self.chain, self, self.now)
        self.journal = Journal(netdir)
        self._ibd_latched = False
        self._failures: dict[bytes, str] = {}
        fresh = self.journal.size() == 0
        self._replay()
        self.journal.open()
        if notifier is not None:
            self.notifier = notifier
        if fresh:  # Core connects the genesis block on a new datadir (no hashblock: IBD)
            self.notifier.block_connected(self.chain.tip.block)
        for raw in self.journal.load_mempool():
            try:
                self.mempool.accept(Transaction.from_bytes(raw, REGTEST), unbroadcast=False)
            except ChaincrawlerError:
                continue

    # -- clock and status ---------------------------------------------------------

    def now(self) -> int:
        """Current time, or the ``setmocktime`` value."""
        return self.mocktime or int(time.time())

    @property
    def initial_block_download(self) -> bool:
        """Core's latch: true until the tip is less than a day old."""
        if not self._ibd_latched and self.chain.tip.header.time >= self.now() - MAX_TIP_AGE:
            self._ibd_latched = True
        return not self._ibd_latched

    # -- MempoolListener: forward to the notifier -----------------------------------

    def transaction_added(self, tx: Transaction, sequence: int) -> None:
        self.notifier.transaction_added(tx, sequence)

    def transaction_removed(self, tx: Transaction, sequence: int) -> None:
        self.notifier.transaction_removed(tx, sequence)

    # -- journal ------------------------------------------------------------------------

    def _replay(self) -> None:
        for kind, payload in self.journal.records():
            if kind == BLOCK:
                try:
                    self.process_block(Block.from_bytes(payload, REGTEST), record=False)
                except (BlockValidationError, ChaincrawlerError):
                    continue
            elif kind == INVALIDATE:
                idx = self.chain.lookup(payload)
                if idx is not None:
                    self.invalidate(idx, record=False)
            elif kind == RECONSIDER:
                idx = self.chain.lookup(payload)
                if idx is not None:
                    self.reconsider(idx, record=False)

    def close(self) -> None:
        """Save the mempool and close the journal (a clean shutdown)."""
        order = self.mempool.topological(self.mempool.entries.values())
        self.journal.save_mempool([e.tx.serialize() for e in order])
        self.journal.close()

    # -- blocks ---------------------------------------------------------------------------

    def process_block(self, block: Block, record: bool = True) -> BlockIndex:
        """Accept a block into the tree and activate the best chain.

        Raises BlockValidationError when the block itself is invalid (including when
        connecting it failed); a block on a branch with less work is stored quietly.
        """
        on_stored = self._journal_block if record else None
        idx = self.chain.accept_block(block, self.now(), on_stored)
        self.activate_best_chain()
        reason = self._failures.pop(idx.hash, None)
        if reason is not None:
            raise BlockValidationError(reason)
        return idx

    def _journal_block(self, block: Block) -> None:
        self.journal.append(BLOCK, block.serialize())

    def activate_best_chain(self) -> None:
        """Core's ``ActivateBestChain``: steps towards the most-work block; each round
        ends once the tip has more work than where it started, with one ``updated_tip``
        (so a tip extended block by block announces every block)."""
        chain = self.chain
        while chain.best is not chain.tip:
            starting_tip = chain.tip
            while chain.best is not chain.tip:
                self._step(chain.best)
                if chain.tip.chainwork > starting_tip.chainwork:
                    break
            if chain.tip is not chain.fork_point(starting_tip) and not self.initial_block_download:
                self.notifier.updated_tip(chain.tip.block)

    def _step(self, target: BlockIndex) -> None:
        """Core's ``ActivateBestChainStep``: disconnect to the fork (``D`` at once),
        connect towards ``target`` until the tip beats the old one, return disconnected
        transactions to the mempool, and only then announce the connected blocks."""
        chain = self.chain
        old_tip = chain.tip
        fork = chain.fork_point(target)
        disconnect_pool: list[Block] = []
        while chain.tip is not fork:
            idx = chain.disconnect_tip()
            disconnect_pool.append(idx.block)
            self.notifier.block_disconnected(idx.block)
        path: list[BlockIndex] = []
        node: BlockIndex | None = target
        while node is not None and node is not fork:
            path.append(node)
            node = node.prev
        confirmed: set[bytes] = set()
        connected: list[Block] = []
        for idx in reversed(path):
            try:
                chain.connect_tip(idx)
            except BlockValidationError as exc:
                self._failures[idx.hash] = exc.reason
                chain.mark_invalid(idx)
                chain.recompute_best()
                break
            confirmed.update(tx.txid_bytes for tx in idx.block.transactions)
            self.mempool.remove_for_block(idx.block)
            connected.append(idx.block)
            if chain.tip.chainwork > old_tip.chainwork:
                break
        if disconnect_pool:
            self._return_to_mempool(disconnect_pool, confirmed)
        for block in connected:
            self.notifier.block_connected(block)

    def _return_to_mempool(
        self, pool: list[Block], confirmed: set[bytes], add: bool = True
    ) -> None:
        """Core's ``MaybeUpdateMempoolForReorg``: re-add, oldest block first (or, with
        ``add`` false, drop them and what spends them), then evict what became invalid."""
        for block in reversed(pool):
            for tx in block.transactions[1:]:
                if tx.txid_bytes in confirmed:
                    continue
                if not (add and self._readd(tx)):
                    self.mempool.remove_orphans_of(tx)
        self.mempool.remove_for_reorg()

    def _readd(self, tx: Transaction) -> bool:
        """Accept a disconnected transaction again, linking the mempool's spenders of it."""
        try:
            self.mempool.accept(tx, unbroadcast=False, bypass_limits=True)
        except ChaincrawlerError:
            return False
        self.mempool.adopt_children(tx.txid_bytes)
        return True

    def invalidate(self, idx: BlockIndex, record: bool = True) -> None:
        """``invalidateblock``: as Core's ``InvalidateBlock``, disconnect one block at a
        time (``D``, then its transactions back to the mempool, for the first 10), mark
        the block and its descendants invalid, then activate the best chain."""
        if idx.height == 0:
            raise SimRpcError(-20, "Genesis block cannot be invalidated")
        if record:
            self.journal.append(INVALIDATE, idx.hash)
        disconnected = 0
        while self.chain.contains(idx):
            block = self.chain.disconnect_tip().block
            self.notifier.block_disconnected(block)
            disconnected += 1
            self._return_to_mempool([block], set(), add=disconnected <= MAX_READDED_BLOCKS)
        self.chain.mark_invalid(idx)
        self.chain.recompute_best()
        self.activate_best_chain()

    def reconsider(self, idx: BlockIndex, record: bool = True) -> None:
        """``reconsiderblock``: clear invalid marks and activate the best chain."""
        if record:
            self.journal.append(RECONSIDER, idx.hash)
        self.chain.clear_invalid(idx)
        self.chain.recompute_best()
        self.activate_best_chain()
        self._failures.clear()

    # -- mining ---------------------------------------------------------------------------

    def generate(self, script: bytes, count: int) -> list[str]:
        """Mine ``count`` blocks from the mempool paying ``script``; their hashes.

        As in Core, re-mining a block identical to an invalidated one (same parent,
        payout, contents and second) is refused: mine to another script or later.
        """
        hashes = []
        for _ in range(count):
            block = mining.mine_block(self.mempool, self.chain.tip, script, self.now())
            try:
                self.process_block(block)
            except BlockValidationError:
                raise SimRpcError(-32603, "ProcessNewBlock, block not accepted") from None
            hashes.append(block.hash)
        return hashes

    def generate_block(self, script: bytes, txs: Sequence[Transaction], submit: bool) -> Block:
        """``generateblock``: exactly ``txs`` after a coinbase paying only the subsidy."""
        prev = self.chain.tip
        block = mining.build_block(
            prev, script, txs, block_subsidy(prev.height + 1, REGTEST),
            mining.template_time(prev, self.now()),
        )
        self.test_block_validity(block)
        if submit:
            self.process_block(block)
        return block

    def test_block_validity(self, block: Block) -> None:
        """Check a block on the tip without storing it (Core's ``TestBlockValidity``)."""
        self.chain.test_block_validity(block, self.now())

    # -- transactions ---------------------------------------------------------------------

    def send_transaction(self, tx: Transaction, max_fee_rate: int | None) -> MempoolEntry:
        """``sendrawtransaction``'s ``BroadcastTransaction``."""
        txid = tx.txid_bytes
        for n in range(len(tx.outputs)):
            if (txid, n) in self.chain.utxo:
                raise SimRpcError(-27, "Transaction outputs already in utxo set")
        return self.mempool.accept(tx, unbroadcast=True, max_fee_rate=max_fee_rate)
