"""The simulated node's mempool.

Transactions are accepted when their inputs exist and are unspent (in the UTXO set
or in the mempool), amounts add up, coinbase spends are mature, and Core's main
standardness rules hold (version, size, output types, dust, minimum relay fee).
NO script or signature is evaluated: any witness or scriptSig is taken as valid.
A transaction spending an output another mempool transaction spends replaces it
when it pays more in total and enough extra to relay itself (BIP125 rules 3 and 4).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from chaincrawler.chain.consensus import (
    COINBASE_MATURITY,
    MAX_STANDARD_TX_WEIGHT,
    MIN_STANDARD_TX_NONWITNESS_SIZE,
    dust_threshold,
)
from chaincrawler.chain.script import ScriptType, classify, is_push_only
from chaincrawler.chain.types import Block, Transaction
from chaincrawler.errors import ChaincrawlerError
from chaincrawler.testing.simnode.chainstate import (
    BlockValidationError,
    ChainState,
    Coin,
    Outpoint,
    check_transaction,
    is_final,
)
from chaincrawler.testing.simnode.jsonenc import format_money

MIN_RELAY_FEERATE = 100  # sat/kvB (Core 29+: 0.000001 BTC/kvB)
INCREMENTAL_RELAY_FEERATE = 100
MAX_REPLACEMENTS = 100
MEMPOOL_HEIGHT = 0x7FFFFFFF

# Bitcoin Core RPC error codes used by mempool rejections.
RPC_TRANSACTION_ERROR = -25
RPC_TRANSACTION_REJECTED = -26
RPC_TRANSACTION_ALREADY_IN_CHAIN = -27


class MempoolReject(ChaincrawlerError):
    """A transaction was refused; ``code`` is the RPC error code Core answers with."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


def fee_for(feerate: int, vsize: int) -> int:
    """Core's ``CFeeRate::GetFee`` (sat/kvB times vbytes, rounded up)."""
    return math.ceil(feerate * vsize / 1000)


@dataclass(eq=False, slots=True)
class MempoolEntry:
    """A transaction in the mempool with what Core reports about it."""

    tx: Transaction
    fee: int
    time: int
    height: int
    unbroadcast: bool
    parents: set[bytes] = field(default_factory=set)
    children: set[bytes] = field(default_factory=set)

    @property
    def txid(self) -> bytes:
        return self.tx.txid_bytes

    @property
    def vsize(self) -> int:
        return self.tx.vsize

    @property
    def weight(self) -> int:
        return self.tx.weight


class MempoolListener(Protocol):
    """Receives what Core's validation interface signals about the mempool."""

    def transaction_added(self, tx: Transaction, sequence: int) -> None: ...

    def transaction_removed(self, tx: Transaction, sequence: int) -> None: ...


class Mempool:
    """Unconfirmed transactions keyed by txid, with their in-mempool links."""

    def __init__(
        self, chain: ChainState, listener: MempoolListener, clock: Callable[[], int]
    ) -> None:
        self.chain = chain
        self.listener = listener
        self.clock = clock
        self.entries: dict[bytes, MempoolEntry] = {}
        self.spenders: dict[Outpoint, bytes] = {}
        self.sequence = 1

    def __contains__(self, txid: bytes) -> bool:
        return txid in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def _next_sequence(self) -> int:
        seq = self.sequence
        self.sequence += 1
        return seq

    # -- acceptance ---------------------------------------------------------------

    def _coin(self, key: Outpoint) -> Coin | None:
        coin = self.chain.utxo.get(key)
        if coin is not None:
            return coin
        parent = self.entries.get(key[0])
        if parent is None or key[1] >= len(parent.tx.outputs):
            return None
        txout = parent.tx.outputs[key[1]]
        return Coin(txout.value, txout.script_pubkey, MEMPOOL_HEIGHT, False)

    def accept(
        self,
        tx: Transaction,
        *,
        unbroadcast: bool = True,
        bypass_limits: bool = False,
        max_fee_rate: int | None = None,
    ) -> MempoolEntry:
        """Validate ``tx`` and add it (returns the existing entry for a known wtxid).

        Raises MempoolReject with Core's code and message.
        """
        txid = tx.txid_bytes
        existing = self.entries.get(txid)
        if existing is not None:
            if existing.tx.wtxid_bytes == tx.wtxid_bytes:
                return existing
            raise MempoolReject(RPC_TRANSACTION_REJECTED, "txn-same-nonwitness-data-in-mempool")
        try:
            check_transaction(tx)
        except BlockValidationError as exc:
            raise MempoolReject(RPC_TRANSACTION_REJECTED, exc.reason) from None
        if tx.is_coinbase:
            raise MempoolReject(RPC_TRANSACTION_REJECTED, "coinbase")
        self._check_standard(tx)
        chain = self.chain
        next_height = chain.height + 1
        if not is_final(tx, next_height, chain.tip.median_time):
            raise MempoolReject(RPC_TRANSACTION_REJECTED, "non-final")
        conflicts: set[bytes] = set()
        parents: set[bytes] = set()
        value_in = 0
        for txin in tx.inputs:
            key = (txin.prevout.txid_bytes, txin.prevout.vout)
            coin = self._coin(key)
            if coin is None:
                if any((txid, n) in chain.utxo for n in range(len(tx.outputs))):
                    raise MempoolReject(RPC_TRANSACTION_REJECTED, "txn-already-known")
                raise MempoolReject(RPC_TRANSACTION_ERROR, "bad-txns-inputs-missingorspent")
            spender = self.spenders.get(key)
            if spender is not None:
                conflicts.add(spender)
            if coin.height == MEMPOOL_HEIGHT:
                parents.add(key[0])
            elif coin.coinbase and next_height - coin.height < COINBASE_MATURITY:
                raise MempoolReject(
                    RPC_TRANSACTION_REJECTED,
                    "bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth "
                    f"{next_height - coin.height}",
                )
            value_in += coin.value
        value_out = sum(o.value for o in tx.outputs)
        if value_in < value_out:
            raise MempoolReject(
                RPC_TRANSACTION_REJECTED,
                f"bad-txns-in-belowout, value in ({format_money(value_in)}) < "
                f"value out ({format_money(value_out)})",
            )
        fee = value_in - value_out
        vsize = tx.vsize
        if not bypass_limits and fee < fee_for(MIN_RELAY_FEERATE, vsize):
            raise MempoolReject(
                RPC_TRANSACTION_REJECTED,
                f"min relay fee not met, {fee} < {fee_for(MIN_RELAY_FEERATE, vsize)}",
            )
        replaced = self._check_replacement(tx, fee, conflicts, parents) if conflicts else []
        if max_fee_rate is not None and fee > fee_for(max_fee_rate, vsize):
            raise MempoolReject(
                RPC_TRANSACTION_ERROR,
                "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)",
            )
        for old in replaced:
            self._remove(old)
        entry = MempoolEntry(tx, fee, self.clock(), chain.height, unbroadcast, parents)
        self._add(entry)
        return entry

    def _check_standard(self, tx: Transaction) -> None:
        """Core's ``IsStandardTx`` (main rules)."""
        def reject(reason: str) -> MempoolReject:
            return MempoolReject(RPC_TRANSACTION_REJECTED, reason)

        if not 1 <= tx.version <= 3:
            raise reject("version")
        if tx.weight > MAX_STANDARD_TX_WEIGHT:
            raise reject("tx-size")
        if tx.base_size < MIN_STANDARD_TX_NONWITNESS_SIZE:
            raise reject("tx-size-small")
        for txin in tx.inputs:
            if len(txin.script_sig) > 1650:
                raise reject("scriptsig-size")
            if not is_push_only(txin.script_sig):
                raise reject("scriptsig-not-pushonly")
        for txout in tx.outputs:
            kind = classify(txout.script_pubkey)
            if kind is ScriptType.NONSTANDARD:
                raise reject("scriptpubkey")
            if kind is ScriptType.MULTISIG and txout.script_pubkey[-2] > 0x53:
                raise reject("scriptpubkey")
            if txout.value < dust_threshold(txout.script_pubkey):
                raise reject("dust")

    def _check_replacement(
        self, tx: Transaction, fee: int, conflicts: set[bytes], parents: set[bytes]
    ) -> list[MempoolEntry]:
        """BIP125 rules 3 and 4 as Core words them; returns the entries to evict."""
        txid_hex = tx.txid
        doomed = self.with_descendants(self.entries[c] for c in conflicts)
        if len(doomed) > MAX_REPLACEMENTS:
            raise MempoolReject(
                RPC_TRANSACTION_REJECTED,
                f"too many potential replacements, rejecting replacement {txid_hex}; "
                f"too many potential replacements ({len(doomed)} > {MAX_REPLACEMENTS})",
            )
        doomed_ids = {e.txid for e in doomed}
        if parents & doomed_ids:
            raise MempoolReject(
                RPC_TRANSACTION_REJECTED,
                f"bad-txns-spends-conflicting-tx, {txid_hex} spends conflicting transaction",
            )
        old_fees = sum(e.fee for e in doomed)
        if fee < old_fees:
            raise MempoolReject(
                RPC_TRANSACTION_REJECTED,
                f"insufficient fee, rejecting replacement {txid_hex}, less fees than "
                f"conflicting txs; {format_money(fee)} < {format_money(old_fees)}",
            )
        needed = fee_for(INCREMENTAL_RELAY_FEERATE, tx.vsize)
        if fee - old_fees < needed:
            raise MempoolReject(
                RPC_TRANSACTION_REJECTED,
                f"insufficient fee, rejecting replacement {txid_hex}, not enough additional "
                f"fees to relay; {format_money(fee - old_fees)} < {format_money(needed)}",
            )
        return doomed

    def _add(self, entry: MempoolEntry) -> None:
        tx = entry.tx
        txid = entry.txid
        self.entries[txid] = entry
        for txin in tx.inputs:
            self.spenders[(txin.prevout.txid_bytes, txin.prevout.vout)] = txid
        for parent in entry.parents:
            self.entries[parent].children.add(txid)
        self.listener.transaction_added(tx, self._next_sequence())

    # -- removal --------------------------------------------------------------------

    def _unlink(self, entry: MempoolEntry) -> None:
        txid = entry.txid
        del self.entries[txid]
        for txin in entry.tx.inputs:
            key = (txin.prevout.txid_bytes, txin.prevout.vout)
            if self.spenders.get(key) == txid:
                del self.spenders[key]
        for parent in entry.parents:
            parent_entry = self.entries.get(parent)
            if parent_entry is not None:
                parent_entry.children.discard(txid)
        for child in entry.children:
            child_entry = self.entries.get(child)
            if child_entry is not None:
                child_entry.parents.discard(txid)

    def _remove(self, entry: MempoolEntry) -> None:
        """Remove for a reason other than block inclusion: an ``R`` notification."""
        self._unlink(entry)
        self.listener.transaction_removed(entry.tx, self._next_sequence())

    def with_descendants(self, roots: Iterable[MempoolEntry]) -> list[MempoolEntry]:
        """``roots`` and all their in-mempool descendants, parents before children."""
        seen: dict[bytes, MempoolEntry] = {}
        stack = list(roots)
        while stack:
            entry = stack.pop()
            if entry.txid in seen:
                continue
            seen[entry.txid] = entry
            stack.extend(self.entries[c] for c in entry.children)
        return self.topological(seen.values())

    def topological(self, entries: Iterable[MempoolEntry]) -> list[MempoolEntry]:
        """Order ``entries`` so that in-mempool parents come first."""
        wanted = {e.txid: e for e in entries}
        done: set[bytes] = set()
        order: list[MempoolEntry] = []
        for entry in wanted.values():
            stack: list[tuple[MempoolEntry, bool]] = [(entry, False)]
            while stack:
                node, expanded = stack.pop()
                if node.txid in done:
                    continue
                if expanded:
                    done.add(node.txid)
                    order.append(node)
                    continue
                stack.append((node, True))
                stack.extend(
                    (wanted[p], False) for p in node.parents if p in wanted and p not in done
                )
        return order

    def remove_recursive(self, txid: bytes) -> None:
        """Remove a transaction and its descendants (each gets an ``R``)."""
        entry = self.entries.get(txid)
        if entry is not None:
            for doomed in reversed(self.with_descendants([entry])):
                self._remove(doomed)

    def remove_orphans_of(self, tx: Transaction) -> None:
        """Core's ``removeRecursive`` for a transaction: it and whatever spends it."""
        if tx.txid_bytes in self.entries:
            self.remove_recursive(tx.txid_bytes)
            return
        txid = tx.txid_bytes
        for n in range(len(tx.outputs)):
            child = self.spenders.get((txid, n))
            if child is not None:
                self.remove_recursive(child)

    def remove_for_block(self, block: Block) -> None:
        """Core's ``removeForBlock``: per transaction, drop it (no ``R``, but it takes a
        mempool sequence number), then evict what spends its inputs (``R`` each)."""
        for tx in block.transactions:
            entry = self.entries.get(tx.txid_bytes)
            if entry is not None:
                self._unlink(entry)
                self._next_sequence()
            for txin in tx.inputs:
                spender = self.spenders.get((txin.prevout.txid_bytes, txin.prevout.vout))
                if spender is not None and spender != tx.txid_bytes:
                    self.remove_recursive(spender)

    def adopt_children(self, txid: bytes) -> None:
        """Link a transaction returned by a reorg to the mempool entries spending it
        (Core's ``UpdateTransactionsFromBlock``)."""
        entry = self.entries[txid]
        for n in range(len(entry.tx.outputs)):
            child = self.spenders.get((txid, n))
            if child is not None:
                entry.children.add(child)
                self.entries[child].parents.add(txid)

    def remove_for_reorg(self) -> None:
        """Evict transactions a shorter chain made invalid: immature or missing inputs."""
        next_height = self.chain.height + 1
        mtp = self.chain.tip.median_time
        bad: list[bytes] = []
        for entry in self.entries.values():
            if not is_final(entry.tx, next_height, mtp):
                bad.append(entry.txid)
                continue
            for txin in entry.tx.inputs:
                key = (txin.prevout.txid_bytes, txin.prevout.vout)
                coin = self._coin(key)
                if coin is None or (
                    coin.coinbase and next_height - coin.height < COINBASE_MATURITY
                ):
                    bad.append(entry.txid)
                    break
        for txid in bad:
            self.remove_recursive(txid)

    # -- queries --------------------------------------------------------------------

    def ancestors(self, entry: MempoolEntry) -> list[MempoolEntry]:
        """All in-mempool ancestors of ``entry`` (excluding itself)."""
        seen: dict[bytes, MempoolEntry] = {}
        stack = [self.entries[p] for p in entry.parents]
        while stack:
            node = stack.pop()
            if node.txid not in seen:
                seen[node.txid] = node
                stack.extend(self.entries[p] for p in node.parents)
        return list(seen.values())

    def descendants(self, entry: MempoolEntry) -> list[MempoolEntry]:
        """All in-mempool descendants of ``entry`` (excluding itself)."""
        return [e for e in self.with_descendants([entry]) if e is not entry]


