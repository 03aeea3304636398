"""The block tree, the active chain chosen by most work, and the UTXO set following it.

Blocks are kept in memory with their undo data (the coins each block spent), so
disconnecting a block restores the UTXO set exactly. Consensus checks are Core's
structural and contextual ones plus input existence, maturity and amounts; scripts
and signatures are not evaluated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from chaincrawler.chain.consensus import (
    COINBASE_MATURITY,
    MAX_BLOCK_WEIGHT,
    MAX_MONEY,
    REGTEST_BITS,
    block_subsidy,
    is_unspendable,
)
from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.script import push_data
from chaincrawler.chain.types import Block, BlockHeader, Transaction, encode_script_number
from chaincrawler.chain.wire import compact_size
from chaincrawler.errors import ChaincrawlerError

MAX_FUTURE_BLOCK_TIME = 2 * 60 * 60
MEDIAN_TIME_SPAN = 11

Outpoint = tuple[bytes, int]


class BlockValidationError(ChaincrawlerError):
    """A block breaks a consensus rule; ``reason`` is Core's BIP22 reject string."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}, {detail}" if detail else reason)


@dataclass(slots=True)
class Coin:
    """An unspent output with the height of the block that created it."""

    value: int
    script: bytes
    height: int
    coinbase: bool


@dataclass(eq=False, slots=True)
class BlockIndex:
    """One block of the tree: header, data, cumulative work and validity."""

    block: Block
    height: int
    chainwork: int
    prev: BlockIndex | None
    sequence_id: int
    failed: bool = False  # Core's BLOCK_FAILED_VALID
    failed_child: bool = False  # BLOCK_FAILED_CHILD: an ancestor failed
    connected_once: bool = False  # BLOCK_VALID_SCRIPTS
    undo: list[Coin] | None = None
    median_time: int = 0
    children: list[BlockIndex] = field(default_factory=list)

    @property
    def header(self) -> BlockHeader:
        return self.block.header

    @property
    def hash(self) -> bytes:
        return self.block.header.hash_bytes

    @property
    def hash_hex(self) -> str:
        return self.block.header.hash

    @property
    def is_invalid(self) -> bool:
        return self.failed or self.failed_child

    def ancestor(self, height: int) -> BlockIndex:
        node: BlockIndex | None = self
        while node is not None and node.height > height:
            node = node.prev
        if node is None or node.height != height:
            raise ValueError(f"no ancestor at height {height}")
        return node


def block_proof(bits: int) -> int:
    """Expected hashes for a target (Core's ``GetBlockProof``)."""
    header = BlockHeader(0, b"\0" * 32, b"\0" * 32, 0, bits, 0)
    target = header.target
    return (1 << 256) // (target + 1) if target > 0 else 0


def height_push(height: int) -> bytes:
    """``CScript() << height``: the BIP34 prefix of a coinbase scriptSig."""
    if height == 0:
        return b"\x00"
    if 1 <= height <= 16:
        return bytes((0x50 + height,))
    return push_data(encode_script_number(height))


def check_transaction(tx: Transaction) -> None:
    """Core's context-free ``CheckTransaction``."""
    inputs, outputs = tx.inputs, tx.outputs
    if not inputs:
        raise BlockValidationError("bad-txns-vin-empty")
    if not outputs:
        raise BlockValidationError("bad-txns-vout-empty")
    if tx.base_size * 4 > MAX_BLOCK_WEIGHT:
        raise BlockValidationError("bad-txns-oversize")
    total = 0
    for txout in outputs:
        if txout.value < 0:
            raise BlockValidationError("bad-txns-vout-negative")
        if txout.value > MAX_MONEY:
            raise BlockValidationError("bad-txns-vout-toolarge")
        total += txout.value
        if total > MAX_MONEY:
            raise BlockValidationError("bad-txns-txouttotal-toolarge")
    seen = {(i.prevout.txid_bytes, i.prevout.vout) for i in inputs}
    if len(seen) != len(inputs):
        raise BlockValidationError("bad-txns-inputs-duplicate")
    if tx.is_coinbase:
        if not 2 <= len(inputs[0].script_sig) <= 100:
            raise BlockValidationError("bad-cb-length")
    elif any(i.prevout.is_null for i in inputs):
        raise BlockValidationError("bad-txns-prevout-null")


def is_final(tx: Transaction, height: int, block_time: int) -> bool:
    """Core's ``IsFinalTx``."""
    locktime = tx.locktime
    if locktime == 0:
        return True
    limit = height if locktime < 500_000_000 else block_time
    if locktime < limit:
        return True
    return all(i.sequence == 0xFFFFFFFF for i in tx.inputs)


class ChainState:
    """Block tree plus active chain plus UTXO set; the simulated node's consensus core."""

    def __init__(self, genesis: Block) -> None:
        self.index: dict[bytes, BlockIndex] = {}
        self.active: list[BlockIndex] = []
        self.utxo: dict[Outpoint, Coin] = {}
        # txid -> (block index, position): like Core's -txindex, entries of blocks that
        # were disconnected stay until the transaction is confirmed again elsewhere.
        self.tx_index: dict[bytes, tuple[BlockIndex, int]] = {}
        self._next_sequence = 0
        root = self._add_index(genesis, None)
        root.connected_once = True
        root.undo = []
        self.active.append(root)
        self.best = root

    # -- tree ---------------------------------------------------------------

    @property
    def tip(self) -> BlockIndex:
        return self.active[-1]

    @property
    def height(self) -> int:
        return len(self.active) - 1

    def contains(self, idx: BlockIndex) -> bool:
        """True when ``idx`` is on the active chain."""
        return idx.height < len(self.active) and self.active[idx.height] is idx

    def lookup(self, hash_bytes: bytes) -> BlockIndex | None:
        return self.index.get(hash_bytes)

    def _add_index(self, block: Block, prev: BlockIndex | None) -> BlockIndex:
        height = 0 if prev is None else prev.height + 1
        work = block_proof(block.header.bits) + (prev.chainwork if prev else 0)
        idx = BlockIndex(block, height, work, prev, self._next_sequence)
        self._next_sequence += 1
        times = [block.header.time]
        node = prev
        while node is not None and len(times) < MEDIAN_TIME_SPAN:
            times.append(node.header.time)
            node = node.prev
        idx.median_time = sorted(times)[len(times) // 2]
        if prev is not None:
            prev.children.append(idx)
            idx.failed_child = prev.is_invalid
        self.index[idx.hash] = idx
        return idx

    def _better(self, a: BlockIndex, b: BlockIndex) -> bool:
        """Core's candidate order: more work first, then the block received first."""
        return a.chainwork > b.chainwork or (
            a.chainwork == b.chainwork and a.sequence_id < b.sequence_id
        )

    def recompute_best(self) -> None:
        """Pick the most-work valid block of the whole tree (after validity changes)."""
        best = self.active[0]
        for idx in self.index.values():
            if not idx.is_invalid and self._better(idx, best):
                best = idx
        if not self.tip.is_invalid and self._better(self.tip, best):
            best = self.tip
        self.best = best

    # -- accepting blocks -----------------------------------------------------

    def check_block(self, block: Block) -> None:
        """Core's ``CheckBlock``: proof of work, merkle root, coinbase, sizes, transactions."""
        header = block.header
        if not header.check_proof_of_work():
            raise BlockValidationError("high-hash", "proof of work failed")
        if not block.check_merkle_root():
            raise BlockValidationError("bad-txnmrklroot", "hashMerkleRoot mismatch")
        txids = [tx.txid_bytes for tx in block.transactions]
        if len(set(txids)) != len(txids):
            raise BlockValidationError("bad-txns-duplicate", "duplicate transaction")
        base = 80 + len(compact_size(len(block.transactions)))
        if base + sum(tx.base_size for tx in block.transactions) > MAX_BLOCK_WEIGHT // 4:
            raise BlockValidationError("bad-blk-length", "size limits failed")
        if not block.transactions[0].is_coinbase:
            raise BlockValidationError("bad-cb-missing", "first tx is not coinbase")
        if any(tx.is_coinbase for tx in block.transactions[1:]):
            raise BlockValidationError("bad-cb-multiple", "more than one coinbase")
        for tx in block.transactions:
            check_transaction(tx)

    def _check_header(self, header: BlockHeader, prev: BlockIndex, now: int) -> None:
        """Core's ``ContextualCheckBlockHeader`` on regtest."""
        if header.bits != REGTEST_BITS:
            raise BlockValidationError("bad-diffbits", "incorrect proof of work")
        if header.time <= prev.median_time:
            raise BlockValidationError("time-too-old", "block's timestamp is too early")
        if header.time > now + MAX_FUTURE_BLOCK_TIME:
            raise BlockValidationError("time-too-new", "block timestamp too far in the future")
        if header.version < 4:
            raise BlockValidationError(
                f"bad-version(0x{header.version & 0xFFFFFFFF:08x})",
                "rejected nVersion block",
            )

    def accept_block(
        self, block: Block, now: int, on_stored: Callable[[Block], None] | None = None
    ) -> BlockIndex:
        """Add a checked block to the tree (Core's ``AcceptBlock``).

        Raises BlockValidationError. When a contextual rule fails the block still
        enters the tree, marked invalid, as Core keeps its index entry; ``on_stored``
        is called for every block that enters the tree.
        """
        known = self.index.get(block.hash_bytes)
        if known is not None:
            if known.is_invalid:
                raise BlockValidationError("duplicate", "block is marked invalid")
            return known
        self.check_block(block)
        prev = self.index.get(block.header.prev_hash_bytes)
        if prev is None:
            raise BlockValidationError("prev-blk-not-found")
        if prev.is_invalid:
            raise BlockValidationError("bad-prevblk")
        self._check_header(block.header, prev, now)
        idx = self._add_index(block, prev)
        if on_stored is not None:
            on_stored(block)
        try:
            self._contextual_check(block, idx.height, prev.median_time)
        except BlockValidationError:
            idx.failed = True
            raise
        if not idx.is_invalid and self._better(idx, self.best):
            self.best = idx
        return idx

    def test_block_validity(self, block: Block, now: int) -> None:
        """Every check of a block on the current tip, without storing it."""
        self.check_block(block)
        prev = self.tip
        if block.header.prev_hash_bytes != prev.hash:
            raise BlockValidationError("inconclusive-not-best-prevblk")
        self._check_header(block.header, prev, now)
        self._contextual_check(block, prev.height + 1, prev.median_time)
        self._check_inputs(block, prev.height + 1)

    def _contextual_check(self, block: Block, height: int, cutoff: int) -> None:
        """Core's ``ContextualCheckBlock``: finality, BIP34 height, witness commitment."""
        for tx in block.transactions:
            if not is_final(tx, height, cutoff):
                raise BlockValidationError("bad-txns-nonfinal", "non-final transaction")
        if not block.transactions[0].inputs[0].script_sig.startswith(height_push(height)):
            raise BlockValidationError("bad-cb-height", "block height mismatch in coinbase")
        commitment = block.witness_commitment()
        if commitment is not None:
            witness = block.transactions[0].inputs[0].witness
            if len(witness) != 1 or len(witness[0]) != 32:
                raise BlockValidationError(
                    "bad-witness-nonce-size", "invalid witness reserved value size"
                )
            if block.compute_witness_commitment(witness[0]) != commitment:
                raise BlockValidationError(
                    "bad-witness-merkle-match", "witness merkle commitment mismatch"
                )
        elif any(tx.has_witness for tx in block.transactions):
            raise BlockValidationError("unexpected-witness", "unexpected witness data found")
        if block.weight > MAX_BLOCK_WEIGHT:
            raise BlockValidationError("bad-blk-weight", "weight limit failed")

    # -- connecting and disconnecting -------------------------------------------

    def _check_inputs(
        self, block: Block, height: int
    ) -> tuple[set[Outpoint], dict[Outpoint, Coin], list[Coin]]:
        """Core's ``ConnectBlock`` checks: returns (spent, created, undo) without applying."""
        utxo = self.utxo
        created: dict[Outpoint, Coin] = {}
        spent_keys: set[Outpoint] = set()
        undo: list[Coin] = []
        fees = 0
        txs = block.transactions
        for tx in txs[1:]:
            value_in = 0
            for txin in tx.inputs:
                key = (txin.prevout.txid_bytes, txin.prevout.vout)
                coin = created.pop(key, None)
                if coin is None:
                    coin = utxo.get(key) if key not in spent_keys else None
                    if coin is None:
                        raise BlockValidationError(
                            "bad-txns-inputs-missingorspent",
                            f"CheckTxInputs: inputs missing/spent in transaction {tx.txid}",
                        )
                    spent_keys.add(key)
                if coin.coinbase and height - coin.height < COINBASE_MATURITY:
                    raise BlockValidationError(
                        "bad-txns-premature-spend-of-coinbase",
                        f"tried to spend coinbase at depth {height - coin.height}",
                    )
                undo.append(coin)
                value_in += coin.value
            value_out = sum(o.value for o in tx.outputs)
            if value_in < value_out:
                raise BlockValidationError("bad-txns-in-belowout")
            fees += value_in - value_out
            self._add_outputs(tx, height, created, coinbase=False)
        coinbase = txs[0]
        if sum(o.value for o in coinbase.outputs) > fees + block_subsidy(height, REGTEST):
            raise BlockValidationError("bad-cb-amount", "coinbase pays too much")
        self._add_outputs(coinbase, height, created, coinbase=True)
        if any(key in utxo and key not in spent_keys for key in created):
            raise BlockValidationError("bad-txns-BIP30", "tried to overwrite transaction")
        return spent_keys, created, undo

    def connect_tip(self, idx: BlockIndex) -> None:
        """Apply ``idx`` (whose parent is the tip) to the UTXO set.

        Nothing changes when a rule fails: inputs are checked before any coin moves.
        """
        spent_keys, created, undo = self._check_inputs(idx.block, idx.height)
        utxo = self.utxo
        for key in spent_keys:
            del utxo[key]
        utxo.update(created)
        for pos, tx in enumerate(idx.block.transactions):
            self.tx_index[tx.txid_bytes] = (idx, pos)
        idx.undo = undo
        idx.connected_once = True
        self.active.append(idx)

    @staticmethod
    def _add_outputs(
        tx: Transaction, height: int, into: dict[Outpoint, Coin], coinbase: bool
    ) -> None:
        txid = tx.txid_bytes
        for n, txout in enumerate(tx.outputs):
            script = txout.script_pubkey
            if not is_unspendable(script):
                into[(txid, n)] = Coin(txout.value, script, height, coinbase)

    def disconnect_tip(self) -> BlockIndex:
        """Undo the tip block; return its index."""
        idx = self.active.pop()
        undo = idx.undo or []
        pos = len(undo)
        utxo = self.utxo
        for tx in reversed(idx.block.transactions):
            txid = tx.txid_bytes
            for n in range(len(tx.outputs)):
                utxo.pop((txid, n), None)
            if tx.is_coinbase:
                continue
            inputs = tx.inputs
            pos -= len(inputs)
            for txin, coin in zip(inputs, undo[pos : pos + len(inputs)], strict=True):
                utxo[(txin.prevout.txid_bytes, txin.prevout.vout)] = coin
        return idx

    # -- validity marks ---------------------------------------------------------

    def mark_invalid(self, idx: BlockIndex) -> None:
        """Mark ``idx`` failed and every descendant failed-child."""
        idx.failed = True
        stack = list(idx.children)
        while stack:
            child = stack.pop()
            child.failed_child = True
            stack.extend(child.children)

    def clear_invalid(self, idx: BlockIndex) -> None:
        """Core's ``ResetBlockFailureFlags``: clear ``idx``, its descendants and ancestors."""
        stack = [idx]
        while stack:
            node = stack.pop()
            node.failed = node.failed_child = False
            stack.extend(node.children)
        node_up = idx.prev
        while node_up is not None:
            node_up.failed = node_up.failed_child = False
            node_up = node_up.prev
        self._refresh_child_flags()

    def _refresh_child_flags(self) -> None:
        """Recompute failed-child flags from the failed blocks that remain."""
        for root in self.index.values():
            if root.prev is None:
                stack = [(root, False)]
                while stack:
                    node, parent_bad = stack.pop()
                    node.failed_child = parent_bad
                    bad = node.failed or parent_bad
                    stack.extend((c, bad) for c in node.children)

    def fork_point(self, idx: BlockIndex) -> BlockIndex:
        """The last block ``idx``'s branch shares with the active chain."""
        node: BlockIndex | None = idx
        while node is not None and not self.contains(node):
            node = node.prev
        if node is None:
            raise ValueError("block is not connected to genesis")
        return node
