"""A MiniWallet-style transaction and chain generator for regtest nodes.

:class:`ChainGenerator` drives a regtest node (the simulated node or a real ``bitcoind``)
over JSON-RPC. Its coins sit at P2WSH(OP_TRUE) (witness script ``51``), so spending
them needs no keys: the witness is just ``[OP_TRUE]``. Blocks are mined to that script
with ``generatetodescriptor n raw(<script>)``; coinbases mature after 100 blocks.

A test typically does::

    gen = ChainGenerator(node_client)
    await gen.ensure_funds(COIN)                  # a fresh node: mines 101+ blocks
    txid = await gen.send([(address, 50_000)])    # (address or scriptPubKey, satoshis)
    await gen.mine(1)
    result = await gen.reorg(1, double_spend=True)  # the new branch spends txid's input
    assert result.double_spent_txid == txid

Only coins paying :data:`WALLET_ADDRESS` can be spent by the generator: to test a model
that follows spends of a watched address, watch ``WALLET_ADDRESS`` (or pay to it with
``send``) and spend the coin with ``create_transaction([gen.coin(txid, vout)], ...)``
and ``send_transaction``.

Transactions pay realistic destinations (P2PKH, P2SH, P2WPKH, P2WSH, P2TR and OP_RETURN)
drawn from a pool of pseudo-random addresses derived from the seed, and keep to Bitcoin
Core's standardness rules so a real node relays them: version 2, at most 400,000 weight
units, no dust outputs, one OP_RETURN of at most 80 bytes, 2 sat/vB of fee, and
unconfirmed chains kept small enough for the mempool's ancestor, descendant and cluster
limits.

The generator follows the node: before it acts it reconciles its coins with the active
chain (undoing blocks that left it) and with the mempool, so reorgs made by anyone,
``invalidateblock`` included, are handled. Choices (coins, destinations, amounts) are
deterministic for a seed and a chain state; block hashes also depend on the node's
clock. One generator must not be used by several tasks at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chaincrawler.chain.consensus import (
    COINBASE_MATURITY,
    MAX_OP_RETURN_RELAY,
    MAX_STANDARD_TX_WEIGHT,
    MIN_STANDARD_TX_NONWITNESS_SIZE,
    block_subsidy,
    dust_threshold,
)
from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.script import (
    ScriptType,
    address_from_script,
    push_data,
    script_from_address,
)
from chaincrawler.chain.types import Block, OutPoint, Transaction, TxIn, TxOut
from chaincrawler.chain.wire import compact_size
from chaincrawler.errors import ChaincrawlerError

__all__ = [
    "COINBASE_MATURITY",
    "FEE_RATE",
    "WALLET_ADDRESS",
    "WALLET_SCRIPT_PUBKEY",
    "WITNESS_SCRIPT",
    "ChainGenerator",
    "Coin",
    "GeneratorError",
    "Payment",
    "ReorgResult",
    "RpcClient",
    "dust_threshold",
]

WITNESS_SCRIPT = b"\x51"
"""The witness script of the generator's coins: OP_TRUE."""
WALLET_SCRIPT_PUBKEY = b"\x00\x20" + hashlib.sha256(WITNESS_SCRIPT).digest()
"""P2WSH(OP_TRUE), the scriptPubKey every coin of the generator is locked by."""
WALLET_ADDRESS = address_from_script(WALLET_SCRIPT_PUBKEY, REGTEST) or ""
FEE_RATE = 2
"""Fee rate of generated transactions, sat/vB (Core relays from 1 sat/vB)."""
SEQUENCE = 0xFFFFFFFD
MAX_BLOCK_TX_WEIGHT = 3_900_000
"""Weight of transactions one fill round may put in a block (Core's limit is 3,996,000)."""
MAX_CLUSTER = 25
"""Largest group of connected unconfirmed transactions the generator builds (Core: 25
ancestors, 25 descendants, clusters of 64)."""
FANOUT_OUTPUTS = 1000
_MAX_PAYMENT = 50_000
_OTHER_MINER_TAG = b"chaincrawler/other-miner"

Payment = tuple[str | bytes, int]
"""A destination (an address, or a raw scriptPubKey) and an amount in satoshis."""

_DESTINATION_KINDS = (
    ScriptType.P2WPKH, ScriptType.P2TR, ScriptType.P2PKH, ScriptType.P2SH, ScriptType.P2WSH,
)  # fmt: skip
_DESTINATION_WEIGHTS = (35, 20, 18, 15, 12)


class GeneratorError(ChaincrawlerError):
    """The generator cannot do what was asked (no coins, bad arguments, node refused)."""


class RpcClient(Protocol):
    """What the generator needs of an RPC client; :class:`~chaincrawler.node.client.NodeClient`
    fits."""

    async def call(self, method: str, *params: Any) -> Any: ...

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]: ...


@dataclass(slots=True)
class Coin:
    """An output locked by :data:`WALLET_SCRIPT_PUBKEY`; ``height`` is None while unconfirmed."""

    outpoint: OutPoint
    value: int
    height: int | None
    coinbase: bool = False

    def is_mature(self, tip_height: int) -> bool:
        """True when a transaction spending this coin may enter the mempool now."""
        if self.height is None:
            return not self.coinbase
        return not self.coinbase or tip_height + 1 - self.height >= COINBASE_MATURITY


@dataclass(frozen=True, slots=True)
class ReorgResult:
    """What :meth:`ChainGenerator.reorg` did.

    The old branch stays *invalid* on the node (``invalidateblock`` is sticky) until
    ``reconsiderblock <disconnected[0]>`` is called; the node then switches back only if
    the old branch has more work than the active one.
    """

    fork_height: int
    disconnected: list[str]
    connected: list[str]
    double_spent_txid: str | None = None
    """The old branch's transaction whose input the new branch spent, if asked."""
    double_spend_txid: str | None = None
    """The new branch's conflicting transaction, if asked."""

    @property
    def old_tip(self) -> str:
        return self.disconnected[-1]

    @property
    def new_tip(self) -> str:
        return self.connected[-1]


@dataclass(slots=True)
class _Pending:
    """An unconfirmed transaction touching the generator's coins."""

    txid: str
    spent: list[OutPoint]
    created: list[Coin]
    cluster: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Undo:
    """What connecting one block did to the confirmed coins."""

    created: list[OutPoint]
    spent: list[tuple[Coin, str]]  # (coin, txid that spent it)


def _change(tx: Transaction) -> Coin:
    """The change output (the last one) of a generated transaction, as a coin."""
    index = len(tx.outputs) - 1
    out = tx.outputs[index]
    if out.script_pubkey != WALLET_SCRIPT_PUBKEY:
        raise GeneratorError(f"transaction {tx.txid} has no change output")
    return Coin(OutPoint(tx.txid_bytes, index), out.value, None)


def _vsize(n_inputs: int, scripts: Sequence[bytes]) -> int:
    """Virtual size of a transaction spending ``n_inputs`` generator coins to ``scripts``."""
    base = 4 + len(compact_size(n_inputs)) + 41 * n_inputs + len(compact_size(len(scripts))) + 4
    base += sum(9 + len(s) + (len(s) >= 0xFD) * 2 for s in scripts)
    witness = 2 + 3 * n_inputs  # marker and flag; per input: 1 item of 1 byte (OP_TRUE)
    return (base * 4 + witness + 3) // 4


class ChainGenerator:
    """Mines blocks and sends standard transactions on a regtest node.

    ``rpc`` is any client with ``call`` and ``batch`` (see :class:`RpcClient`). ``seed``
    fixes every random choice; ``address_pool`` is how many distinct destinations of
    each type payments are drawn from (so addresses are reused, as in real chains).
    """

    def __init__(self, rpc: RpcClient, seed: int | str = 0, *, address_pool: int = 500) -> None:
        if address_pool < 1:
            raise GeneratorError(f"address_pool must be >= 1, got {address_pool}")
        self.rpc = rpc
        self.seed = seed
        self._rng = random.Random(f"chaingen:{seed}")
        self._seed_bytes = str(seed).encode()
        self._pool = address_pool
        self._destinations: dict[tuple[ScriptType, int], bytes] = {}
        self._descriptor: str | None = None
        self._chain: list[str] = []
        self._undo: list[_Undo] = []
        self._confirmed: dict[OutPoint, Coin] = {}
        self._pending: dict[str, _Pending] = {}
        self._pending_spends: dict[OutPoint, str] = {}
        self._coins: dict[OutPoint, Coin] = {}
        self._foreign: set[str] = set()  # mempool txids that touch none of our coins
        self._reorgs = 0

    # ------------------------------------------------------------------ state

    @property
    def height(self) -> int:
        """Height of the tip as of the last sync (-1 before the first)."""
        return len(self._chain) - 1

    @property
    def tip(self) -> str | None:
        """Hash of the tip as of the last sync."""
        return self._chain[-1] if self._chain else None

    def coins(self, *, spendable: bool = True) -> list[Coin]:
        """The generator's unspent coins, largest first (only spendable ones by default:
        mature, and not in an unconfirmed group at the mempool's limits)."""
        coins = [c for c in self._coins.values() if not spendable or self._spendable(c)]
        return sorted(coins, key=lambda c: (-c.value, c.outpoint.txid_bytes, c.outpoint.vout))

    @property
    def balance(self) -> int:
        """Total value of the generator's unspent coins (mature or not), in satoshis."""
        return sum(c.value for c in self._coins.values())

    def coin(self, txid: str, vout: int) -> Coin:
        """The generator's unspent coin at ``txid:vout`` (an output paying
        :data:`WALLET_ADDRESS`), to spend it with :meth:`create_transaction` and
        :meth:`send_transaction`; as of the last sync (every send and mine syncs)."""
        found = self._coins.get(OutPoint(bytes.fromhex(txid)[::-1], vout))
        if found is None:
            raise GeneratorError(
                f"{txid}:{vout} is not an unspent coin of the generator: only outputs paying "
                "WALLET_ADDRESS are, and only until spent"
            )
        return found

    def _spendable(self, coin: Coin) -> bool:
        if coin.height is None:
            txid = coin.outpoint.txid
            pending = self._pending.get(txid)
            return pending is not None and len(pending.cluster) < MAX_CLUSTER
        return coin.is_mature(self.height)

    # ------------------------------------------------------------------ following the node

    async def sync(self) -> None:
        """Reconcile the generator's coins with the node's active chain and mempool."""
        # One batch, so the mempool listed matches the chain listed.
        count, txids = await self.rpc.batch([("getblockcount", []), ("getrawmempool", [False])])
        fork = await self._find_fork(int(count))
        reorged = fork < self.height
        while self.height > fork:
            self._disconnect()
        conflict = False
        heights = list(range(fork + 1, int(count) + 1))
        for start in range(0, len(heights), 50):
            chunk = heights[start : start + 50]
            hashes = await self.rpc.batch([("getblockhash", [h]) for h in chunk])
            raws = await self.rpc.batch([("getblock", [h, 0]) for h in hashes])
            for block_hash, raw in zip(hashes, raws, strict=True):
                conflict |= self._connect(block_hash, Block.from_hex(raw, REGTEST))
        relevant = set(txids) - self._foreign
        if reorged or conflict or relevant != set(self._pending):
            await self._sync_mempool(txids)

    async def _find_fork(self, node_height: int) -> int:
        """Height of the last block of our chain that is still on the node's active chain."""
        h = min(self.height, node_height)
        while h >= 0:
            low = max(0, h - 15)
            hashes = await self.rpc.batch([("getblockhash", [i]) for i in range(low, h + 1)])
            for i in range(h, low - 1, -1):
                if hashes[i - low] == self._chain[i]:
                    return i
            h = low - 1
        return -1

    def _connect(self, block_hash: str, block: Block) -> bool:
        """Apply one block to the coins; True when it spent a coin a pending tx spends."""
        height = len(self._chain)
        undo = _Undo([], [])
        conflict = False
        confirmed, coins, pending_spends = self._confirmed, self._coins, self._pending_spends
        for index, tx in enumerate(block.transactions):
            txid = tx.txid
            record = self._pending.pop(txid, None)
            if record is not None:
                spent, created = record.spent, record.created
                record.cluster.remove(txid)
                for outpoint in spent:
                    pending_spends.pop(outpoint, None)
            else:
                spent = [] if index == 0 else [txin.prevout for txin in tx.inputs]
                created = [
                    Coin(OutPoint(tx.txid_bytes, n), out.value, height, index == 0)
                    for n, out in enumerate(tx.outputs)
                    if out.script_pubkey == WALLET_SCRIPT_PUBKEY
                ]
            for outpoint in spent:
                coin = confirmed.pop(outpoint, None)
                if coin is not None:
                    undo.spent.append((coin, txid))
                if record is None:
                    coins.pop(outpoint, None)
                    conflict |= outpoint in pending_spends
            for coin in created:
                coin.height = height
                confirmed[coin.outpoint] = coin
                undo.created.append(coin.outpoint)
                if record is None and coin.outpoint not in pending_spends:
                    coins[coin.outpoint] = coin
        self._chain.append(block_hash)
        self._undo.append(undo)
        return conflict

    def _disconnect(self) -> None:
        """Undo the tip block (the mempool is re-read afterwards)."""
        self._chain.pop()
        undo = self._undo.pop()
        for outpoint in undo.created:
            self._confirmed.pop(outpoint, None)
        for coin, _ in undo.spent:
            self._confirmed[coin.outpoint] = coin

    async def _sync_mempool(self, txids: Sequence[str]) -> None:
        """Rebuild the unconfirmed view from the node's mempool (``txids``)."""
        wanted = set(txids)
        kept = {t: p for t, p in self._pending.items() if t in wanted}
        missing = [t for t in txids if t not in kept and t not in self._foreign]
        known = set(self._confirmed) | {c.outpoint for p in kept.values() for c in p.created}
        fetched: list[Transaction] = []
        for start in range(0, len(missing), 500):
            raws = await self.rpc.batch(
                [("getrawtransaction", [t, 0]) for t in missing[start : start + 500]]
            )
            fetched.extend(Transaction.from_hex(r, REGTEST) for r in raws)
        # Mempool transactions may spend each other: repeat until nothing is added.
        progress = True
        while progress:
            progress = False
            for tx in fetched:
                if tx.txid in kept:
                    continue
                spent = [i.prevout for i in tx.inputs if i.prevout in known]
                created = [
                    Coin(OutPoint(tx.txid_bytes, n), out.value, None)
                    for n, out in enumerate(tx.outputs)
                    if out.script_pubkey == WALLET_SCRIPT_PUBKEY
                ]
                if spent or created:
                    kept[tx.txid] = _Pending(tx.txid, spent, created)
                    known.update(c.outpoint for c in created)
                    progress = True
        self._foreign = (self._foreign & wanted) | {t.txid for t in fetched} - set(kept)
        self._pending = {}
        self._pending_spends = {}
        self._coins = dict(self._confirmed)
        # Parents first, so clusters are joined correctly.
        while kept:
            ready = [
                p
                for p in kept.values()
                if not any(o.txid in kept and o.txid != p.txid for o in p.spent)
            ]
            for record in ready or list(kept.values()):
                record.cluster = []
                self._add_pending(record)
                del kept[record.txid]

    def _add_pending(self, record: _Pending) -> None:
        """Register an unconfirmed transaction: its spends, outputs and cluster."""
        cluster = [record.txid]
        seen: set[int] = set()
        for outpoint in record.spent:
            coin = self._coins.pop(outpoint, None)
            self._pending_spends[outpoint] = record.txid
            if coin is not None and coin.height is not None:
                continue  # a confirmed coin: no unconfirmed parent
            parent = self._pending.get(outpoint.txid)
            if parent is not None and id(parent.cluster) not in seen:
                seen.add(id(parent.cluster))
                cluster.extend(parent.cluster)
        for txid in cluster:
            member = self._pending.get(txid)
            if member is not None:
                member.cluster = cluster
        record.cluster = cluster
        self._pending[record.txid] = record
        for coin in record.created:
            self._coins[coin.outpoint] = coin

    # ------------------------------------------------------------------ mining

    async def descriptor(self) -> str:
        """``raw(<P2WSH(OP_TRUE)>)#checksum``, the descriptor blocks are mined to."""
        if self._descriptor is None:
            info = await self.rpc.call("getdescriptorinfo", f"raw({WALLET_SCRIPT_PUBKEY.hex()})")
            self._descriptor = str(info["descriptor"])
        return self._descriptor

    async def mine(self, n: int = 1) -> list[str]:
        """Mine ``n`` blocks (with the mempool's transactions) paying the generator."""
        if n < 1:
            raise GeneratorError(f"mine needs n >= 1, got {n}")
        hashes = list(await self.rpc.call("generatetodescriptor", n, await self.descriptor()))
        await self.sync()
        return hashes

    async def ensure_funds(self, value: int) -> None:
        """Mine until mature confirmed coins worth at least ``value`` satoshis exist."""
        await self.sync()
        for _ in range(20):
            confirmed = [c for c in self._coins.values() if c.height is not None]
            mature = sum(c.value for c in confirmed if c.is_mature(self.height))
            if mature >= value:
                return
            shortfall = value - sum(c.value for c in confirmed)
            if shortfall > 0:
                per_block = block_subsidy(self.height + 1, REGTEST)
                blocks = -(-shortfall // per_block) if per_block else 0
                if not 0 < blocks <= 1000:
                    raise GeneratorError(
                        f"cannot fund {value} sat: the regtest subsidy at height "
                        f"{self.height + 1} is {per_block} sat"
                    )
                await self.mine(blocks)
            await self.mine_until_mature()
        raise GeneratorError(f"could not fund {value} sat")

    async def mine_until_mature(self) -> None:
        """Mine just enough blocks for every coinbase coin of the generator to mature.

        When the generator has no coinbase coin yet (a fresh node), mine
        :data:`COINBASE_MATURITY` blocks, so the first of them is spendable after.
        """
        await self.sync()
        youngest = max(
            (c.height for c in self._coins.values() if c.coinbase and c.height is not None),
            default=None,
        )
        if youngest is None:
            await self.mine(COINBASE_MATURITY)
            return
        missing = youngest + COINBASE_MATURITY - 1 - self.height
        if missing > 0:
            await self.mine(missing)

    # ------------------------------------------------------------------ destinations

    def destination(self, kind: ScriptType, index: int) -> bytes:
        """The scriptPubKey of destination ``index`` of type ``kind`` (deterministic)."""
        key = (kind, index)
        script = self._destinations.get(key)
        if script is None:
            material = hashlib.sha256(
                self._seed_bytes + b"/" + kind.value.encode() + b"/" + str(index).encode()
            ).digest()
            if kind == ScriptType.P2PKH:
                script = b"\x76\xa9\x14" + material[:20] + b"\x88\xac"
            elif kind == ScriptType.P2SH:
                script = b"\xa9\x14" + material[:20] + b"\x87"
            elif kind == ScriptType.P2WPKH:
                script = b"\x00\x14" + material[:20]
            elif kind == ScriptType.P2WSH:
                script = b"\x00\x20" + material
            elif kind == ScriptType.P2TR:
                script = b"\x51\x20" + material
            else:
                raise GeneratorError(f"no destinations of type {kind.value}")
            self._destinations[key] = script
        return script

    def random_payments(self, n: int = 2, *, op_return: bool | None = None) -> list[Payment]:
        """``n`` payments to pseudo-random destinations, plus (5% of the time, or when
        ``op_return`` is true) an OP_RETURN output carrying 4 to 40 bytes."""
        rng = self._rng
        payments: list[Payment] = []
        for _ in range(n):
            kind = rng.choices(_DESTINATION_KINDS, _DESTINATION_WEIGHTS)[0]
            script = self.destination(kind, rng.randrange(self._pool))
            payments.append((script, rng.randrange(dust_threshold(script), _MAX_PAYMENT)))
        if op_return is None:
            op_return = rng.random() < 0.05
        if op_return:
            data = rng.randbytes(rng.randrange(4, 41))
            payments.append((b"\x6a" + push_data(data), 0))
        return payments

    def other_miner_address(self) -> str:
        """A P2WPKH address, not the generator's, that competing branches are mined to.

        Each call gives the next of a deterministic series: two reorgs at the same fork
        within one second would otherwise mine the very same (now invalid) block, which
        Core refuses ("ProcessNewBlock, block not accepted").
        """
        self._reorgs += 1
        tag = _OTHER_MINER_TAG + self._seed_bytes + self._reorgs.to_bytes(4, "little")
        digest = hashlib.sha256(tag).digest()[:20]
        return address_from_script(b"\x00\x14" + digest, REGTEST) or ""

    # ------------------------------------------------------------------ transactions

    def create_transaction(
        self, coins: Sequence[Coin], payments: Sequence[Payment], *, fee_rate: int = FEE_RATE
    ) -> Transaction:
        """Build (not send) a transaction spending ``coins`` to ``payments``.

        What is left after the fee (``fee_rate`` sat/vB) returns to the generator as a
        change output, unless it would be dust, in which case it is added to the fee.
        Raises :class:`GeneratorError` when the result would not be standard.
        """
        if not coins:
            raise GeneratorError("a transaction needs at least one coin to spend")
        outputs = [self._txout(dest, value) for dest, value in payments]
        if sum(1 for o in outputs if o.script_pubkey[:1] == b"\x6a") > 1:
            raise GeneratorError("Core relays at most one OP_RETURN output per transaction")
        total_in = sum(c.value for c in coins)
        total_out = sum(o.value for o in outputs)
        scripts = [o.script_pubkey for o in outputs]
        fee = _vsize(len(coins), [*scripts, WALLET_SCRIPT_PUBKEY]) * fee_rate
        change = total_in - total_out - fee
        if change >= dust_threshold(WALLET_SCRIPT_PUBKEY):
            outputs.append(TxOut(change, WALLET_SCRIPT_PUBKEY, REGTEST))
        elif total_in - total_out < _vsize(len(coins), scripts) * fee_rate:
            raise GeneratorError(
                f"coins worth {total_in} sat cannot pay {total_out} sat plus a fee of "
                f"{fee_rate} sat/vB"
            )
        if not outputs:
            raise GeneratorError("a transaction needs at least one output")
        inputs = [TxIn(c.outpoint, b"", SEQUENCE, [WITNESS_SCRIPT]) for c in coins]
        tx = Transaction(inputs, outputs, version=2, locktime=0, network=REGTEST)
        if tx.weight > MAX_STANDARD_TX_WEIGHT:
            raise GeneratorError(f"transaction weight {tx.weight} exceeds the standard 400,000")
        if tx.base_size < MIN_STANDARD_TX_NONWITNESS_SIZE:
            raise GeneratorError(
                f"transaction is {tx.base_size} bytes without witness; Core needs at least 65"
            )
        return tx

    @staticmethod
    def _txout(destination: str | bytes, value: int) -> TxOut:
        script = (
            script_from_address(destination, REGTEST)
            if isinstance(destination, str)
            else destination
        )
        if script[:1] == b"\x6a":
            if len(script) > MAX_OP_RETURN_RELAY:
                raise GeneratorError(f"OP_RETURN output of {len(script)} bytes is too large")
        elif value < dust_threshold(script):
            raise GeneratorError(
                f"{value} sat to {script.hex()} is dust (minimum {dust_threshold(script)} sat)"
            )
        return TxOut(value, script, REGTEST)

    async def send_transaction(self, tx: Transaction) -> str:
        """Send ``tx`` with ``sendrawtransaction`` and track it; returns its txid."""
        txid = str(await self.rpc.call("sendrawtransaction", tx.hex()))
        self._track(tx)
        return txid

    def _track(self, tx: Transaction) -> None:
        txid = tx.txid
        created = [
            Coin(OutPoint(tx.txid_bytes, n), out.value, None)
            for n, out in enumerate(tx.outputs)
            if out.script_pubkey == WALLET_SCRIPT_PUBKEY
        ]
        self._add_pending(_Pending(txid, [i.prevout for i in tx.inputs], created))

    async def send(self, payments: Sequence[Payment] | None = None, *, outputs: int = 2) -> str:
        """Send one transaction paying ``payments`` from one spendable coin; returns its txid.

        ``payments`` are ``(destination, satoshis)`` pairs, the destination an address of
        the node's network or a raw scriptPubKey, e.g. ``await gen.send([(addr, 50_000)])``
        pays output 0 to ``addr``; the change comes last and returns to the generator.
        Without ``payments``, ``outputs`` random payments are made. The transaction is in
        the mempool until :meth:`mine`. Needs a mature coin: on a fresh node call
        :meth:`ensure_funds` first. A payment to :data:`WALLET_ADDRESS` is a coin the
        generator can spend again (see :meth:`coin`).
        """
        await self.sync()
        if payments is None:
            payments = self.random_payments(outputs)
        scripts = [self._txout(dest, value).script_pubkey for dest, value in payments]
        needed = (
            sum(v for _, v in payments)
            + _vsize(1, [*scripts, WALLET_SCRIPT_PUBKEY]) * FEE_RATE
            + dust_threshold(WALLET_SCRIPT_PUBKEY)
        )
        coin = self._pick_coin(needed)
        return await self.send_transaction(self.create_transaction([coin], payments))

    def _pick_coin(self, needed: int) -> Coin:
        best: Coin | None = None
        for coin in self._coins.values():
            if coin.value < needed or not self._spendable(coin):
                continue
            if (
                best is None
                or (best.height is None) > (coin.height is None)
                or ((best.height is None) == (coin.height is None) and coin.value > best.value)
            ):
                best = coin
        if best is None:
            raise GeneratorError(
                f"no spendable coin of at least {needed} sat (the generator holds "
                f"{self.balance} sat, mature or not): call `await gen.ensure_funds({needed})` "
                "first; it mines until mature coins cover that (a coinbase matures after "
                f"{COINBASE_MATURITY} blocks)"
            )
        return best

    # ------------------------------------------------------------------ bulk

    async def fill(self, blocks: int, txs_per_block: int, *, outputs: int = 2) -> list[str]:
        """Mine ``blocks`` blocks of ``txs_per_block`` transactions each; return their hashes.

        Coins are first split by fan-out transactions (one block, mined before), then
        every round spends each coin once (1 input, ``outputs`` random payments, change
        back), sends the round in JSON-RPC batches and mines it. The next round is built
        in a worker thread while the node accepts and mines the current one.
        """
        if blocks < 1 or txs_per_block < 1:
            raise GeneratorError("fill needs blocks >= 1 and txs_per_block >= 1")
        per_tx = outputs * _MAX_PAYMENT + _vsize(1, [b"\x00" * 34] * (outputs + 2)) * FEE_RATE
        coin_value = blocks * per_tx + dust_threshold(WALLET_SCRIPT_PUBKEY) + 1000
        coins = await self._fan_out(txs_per_block, coin_value)
        txs = self._fill_round(coins, outputs)
        hashes: list[str] = []
        for round_ in range(blocks):
            sending = self.rpc.batch([("sendrawtransaction", [tx.hex()]) for tx in txs])
            if round_ + 1 < blocks:
                following = asyncio.create_task(
                    asyncio.to_thread(self._fill_round, [_change(tx) for tx in txs], outputs)
                )
            await sending
            for tx in txs:
                self._track(tx)
            hashes.extend(await self.mine(1))
            left = sum(1 for tx in txs if tx.txid in self._pending)
            if left:
                raise GeneratorError(f"block {hashes[-1]} left {left} fill transactions out")
            if round_ + 1 < blocks:
                txs = await following
        return hashes

    def _fill_round(self, coins: Sequence[Coin], outputs: int) -> list[Transaction]:
        """One transaction per coin, checked to fit in one block."""
        txs = [self.create_transaction([c], self.random_payments(outputs)) for c in coins]
        weight = sum(tx.weight for tx in txs)
        if weight > MAX_BLOCK_TX_WEIGHT:
            raise GeneratorError(f"{len(txs)} transactions weigh {weight}, more than a block holds")
        return txs

    async def _fan_out(self, count: int, value: int) -> list[Coin]:
        """Create ``count`` confirmed coins of ``value`` sat (mining what is needed)."""
        n_txs = -(-count // FANOUT_OUTPUTS)
        fee_budget = n_txs * _vsize(20, [WALLET_SCRIPT_PUBKEY] * (FANOUT_OUTPUTS + 1)) * FEE_RATE
        await self.ensure_funds(count * value + fee_budget)
        pool = [c for c in self.coins() if c.height is not None]
        made: list[tuple[Transaction, int]] = []
        remaining = count
        while remaining:
            n = min(FANOUT_OUTPUTS, remaining)
            scripts = [WALLET_SCRIPT_PUBKEY] * (n + 1)
            picked: list[Coin] = []
            while (
                sum(c.value for c in picked) < n * value + _vsize(len(picked), scripts) * FEE_RATE
            ):
                if not pool:
                    raise GeneratorError(f"not enough mature coins to make {count} of {value} sat")
                picked.append(pool.pop(0))
            tx = self.create_transaction(picked, [(WALLET_SCRIPT_PUBKEY, value)] * n)
            await self.send_transaction(tx)
            made.append((tx, n))
            change = self._coins.get(OutPoint(tx.txid_bytes, n))
            if change is not None:  # the next fan-out may spend it unconfirmed
                pool.insert(0, change)
            remaining -= n
        await self.mine(1)
        return [self._confirmed[OutPoint(tx.txid_bytes, i)] for tx, n in made for i in range(n)]

    # ------------------------------------------------------------------ reorgs

    async def reorg(
        self, depth: int, new_blocks: int | None = None, *, double_spend: bool = False
    ) -> ReorgResult:
        """Replace the top ``depth`` blocks with ``new_blocks`` (default ``depth + 1``) others.

        ``invalidateblock`` is called on the block at height ``tip - depth + 1``; the
        node returns that branch's transactions to its mempool. The new branch's first
        block pays :meth:`other_miner_address` (so it differs from the block it replaces
        even within the same second); the rest pay the generator and confirm the mempool.
        With ``double_spend`` the first new block is made by ``generateblock`` with one
        transaction spending an input of a generator transaction confirmed in the old
        branch: the node evicts that transaction (and its descendants) from the mempool.
        The old branch stays invalid until reconsidered (see :class:`ReorgResult`).
        """
        await self.sync()
        if new_blocks is None:
            new_blocks = depth + 1
        if not 1 <= depth <= self.height or new_blocks < 1:
            raise GeneratorError(
                f"reorg needs 1 <= depth <= {self.height} and new_blocks >= 1, "
                f"got depth={depth}, new_blocks={new_blocks}"
            )
        fork = self.height - depth
        before = list(self._chain)
        victim = self._double_spend_victim(fork) if double_spend else None
        await self.rpc.call("invalidateblock", before[fork + 1])
        await self.sync()
        miner = self.other_miner_address()
        ds_txid = None
        if victim is not None:
            ds_tx = self.create_transaction([victim[0]], self.random_payments(1))
            reply = await self.rpc.call("generateblock", miner, [ds_tx.hex()])
            connected = [str(reply["hash"])]
            ds_txid = ds_tx.txid
        else:
            connected = [str(h) for h in await self.rpc.call("generatetoaddress", 1, miner)]
        if new_blocks > 1:
            more = await self.rpc.call(
                "generatetodescriptor", new_blocks - 1, await self.descriptor()
            )
            connected.extend(str(h) for h in more)
        await self.sync()
        common = next(
            (
                h
                for h in range(min(len(before), len(self._chain)) - 1, -1, -1)
                if before[h] == self._chain[h]
            ),
            -1,
        )
        return ReorgResult(
            common, before[common + 1 :], connected, victim[1] if victim else None, ds_txid
        )

    def _double_spend_victim(self, fork: int) -> tuple[Coin, str]:
        """A coin existing at ``fork`` that a transaction of a later block spent."""
        for undo in self._undo[fork + 1 :]:
            for coin, txid in undo.spent:
                if (
                    coin.height is not None
                    and coin.height <= fork
                    and (not coin.coinbase or fork + 1 - coin.height >= COINBASE_MATURITY)
                ):
                    return coin, txid
        raise GeneratorError(
            "double_spend: no transaction of the reorged blocks spends a generator coin "
            "that exists below the fork; send one first (gen.send()) and mine it"
        )
