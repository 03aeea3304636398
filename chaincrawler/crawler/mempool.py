"""A bounded, typed view of the node's mempool, as a stream of changes.

:class:`MempoolWatcher` first loads the whole mempool (``getrawmempool false true`` and
the transactions, raw, in batches) and reports it as one :class:`MempoolLoaded`. Then it
follows the node: ZMQ ``sequence`` ``A``/``R`` (and ``C``/``D`` for blocks) with
``rawtx`` bodies used as they arrive, or, without ZMQ, polling. ZMQ drops messages under
load, so the view is reconciled with ``getrawmempool false true`` on a timer, after
every block, after a gap in a topic's counter and after a disconnect; events older than
the snapshot's ``mempool_sequence`` are ignored.

Every change is typed: :class:`TxAdded` (inputs' ``prev_txout`` filled where the spent
output is known: a mempool parent, or a confirmed output through the node's
``-txindex``), and :class:`TxRemoved` with a :class:`RemovalReason`: confirmed in a
block, replaced (with the replacing txid), conflicted by a block, or evicted (expiry,
size limit, a reorg that invalidated it, or unknown).

Memory: per transaction in the mempool the watcher holds its txid and the outpoints it
spends (about 150 bytes plus 110 per input), never its body; plus a bounded cache of
recent transactions' outputs (for children's prevouts), of recent ``rawtx`` bodies, and
the txids and spent outpoints of the last few blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence

import structlog

from chaincrawler.chain.networks import Network
from chaincrawler.chain.types import Block, Transaction, TxOut
from chaincrawler.errors import ChaincrawlerError, ChainDataError
from chaincrawler.node.client import NodeClient
from chaincrawler.node.errors import (
    NodeConfigError,
    NodeError,
    NodeUnreachableError,
    NoTxIndexError,
    RPCError,
)
from chaincrawler.node.zmq import ZmqMessage, ZmqSubscriber

log = structlog.get_logger(__name__)

MEMPOOL_TOPICS = ("sequence", "rawtx")
"""What the watcher subscribes to: mempool adds/removes and blocks, and raw bodies."""


GRACE = 0.2
"""Seconds an ``R`` waits for the ``A`` of its replacement or the ``C`` of the block
that conflicts it (Core sends them right after) before it counts as an eviction."""


class MempoolWatcherError(ChaincrawlerError):
    """The mempool watcher stopped (its cause, a node error, is chained)."""


class RemovalReason(enum.StrEnum):
    """Why a transaction left the mempool."""

    CONFIRMED = "confirmed"
    REPLACED = "replaced"
    CONFLICTED = "conflicted"
    EVICTED = "evicted"
    """Expired, evicted by the size limit, invalidated by a reorg, or for a reason the
    watcher could not see (a removal found by reconciliation long after the fact)."""


@dataclasses.dataclass(frozen=True, slots=True)
class TxAdded:
    """A transaction entered the mempool (again, after a reorg, if it was confirmed)."""

    tx: Transaction
    mempool_sequence: int | None = None
    """Its ZMQ ``A`` sequence number; None when found by loading or reconciliation."""

    @property
    def txid(self) -> str:
        return self.tx.txid


@dataclasses.dataclass(frozen=True, slots=True)
class TxRemoved:
    """A transaction left the mempool. ``block_hash``/``height`` are set when it was
    confirmed or conflicted by a block; ``replaced_by`` when it was replaced (RBF) by a
    transaction the watcher saw (the replaced transaction's descendants name it too)."""

    txid: str
    reason: RemovalReason
    block_hash: str | None = None
    height: int | None = None
    replaced_by: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class MempoolLoaded:
    """The whole mempool when the watcher started (parents before children)."""

    txs: tuple[TxAdded, ...]
    mempool_sequence: int


MempoolChange = TxAdded | TxRemoved | MempoolLoaded


def _outpoint(txid_bytes: bytes, vout: int) -> bytes:
    return txid_bytes + vout.to_bytes(4, "little")


def _spends(tx: Transaction) -> tuple[bytes, ...]:
    return tuple(_outpoint(i.prevout.txid_bytes, i.prevout.vout) for i in tx.inputs)


@dataclasses.dataclass(frozen=True, slots=True)
class _BlockInfo:
    hash: str
    prev_hash: str
    height: int
    txids: frozenset[bytes]
    spent: dict[bytes, bytes]  # outpoint -> txid of the block transaction spending it

    @classmethod
    def of(cls, block: Block, block_hash: str, height: int) -> _BlockInfo:
        spent = {o: tx.txid_bytes for tx in block.transactions[1:] for o in _spends(tx)}
        txids = frozenset(t.txid_bytes for t in block.transactions)
        return cls(block_hash, block.prev_hash, height, txids, spent)


class MempoolWatcher:
    """Follows one node's mempool; use as ``async with`` and read :meth:`get`.

    ``subscriber`` (subscribed to :data:`MEMPOOL_TOPICS`) makes changes arrive within
    milliseconds; without it the node is polled every ``poll_interval`` seconds.
    Reconciliation runs every ``reconcile_interval`` seconds in any case. At most
    ``queue_size`` changes wait for the reader; then the watcher waits too (and the
    node's ZMQ high-water mark drops messages, which reconciliation heals).
    """

    def __init__(
        self,
        node: NodeClient,
        network: Network,
        subscriber: ZmqSubscriber | None = None,
        *,
        reconcile_interval: float = 30.0,
        poll_interval: float = 2.0,
        batch_size: int = 500,
        recent_blocks: int = 6,
        output_cache: int = 20_000,
        queue_size: int = 10_000,
    ) -> None:
        self._node = node
        self._network = network
        self._subscriber = subscriber
        self._reconcile_interval = reconcile_interval
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._spends: dict[bytes, tuple[bytes, ...]] = {}  # txid -> outpoints it spends
        self._spenders: dict[bytes, bytes] = {}  # outpoint -> mempool txid spending it
        self._outputs: OrderedDict[bytes, list[TxOut]] = OrderedDict()
        self._output_cache = output_cache
        self._raw: OrderedDict[bytes, bytes] = OrderedDict()  # recent rawtx bodies
        self._recent_blocks = recent_blocks
        self._blocks: deque[_BlockInfo] = deque(maxlen=recent_blocks)
        self._tip: str | None = None
        self._sequence = 0
        self._txindex = True
        self._unexplained: dict[bytes, tuple[bytes, ...]] = {}  # R waiting for its reason
        self._removed_at: dict[bytes, float] = {}  # when each of those R arrived
        self._changes: asyncio.Queue[MempoolChange | None] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self.reconciliations = 0
        """How many times the view was reconciled with ``getrawmempool``."""
        self.healed = 0
        """Changes found by reconciliation that ZMQ had not delivered."""

    # ------------------------------------------------------------------ public API

    def __len__(self) -> int:
        return len(self._spends)

    def txids(self) -> set[str]:
        """The txids in the watcher's view of the mempool."""
        return {_hex(t) for t in self._spends}

    def __contains__(self, txid: object) -> bool:
        return isinstance(txid, str) and bytes.fromhex(txid)[::-1] in self._spends

    async def __aenter__(self) -> MempoolWatcher:
        if self._subscriber is not None:
            self._subscriber.connect()  # before the first snapshot: nothing falls between
        self._task = asyncio.create_task(self._run(), name="mempool-watcher")
        self._task.add_done_callback(self._stopped)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ChaincrawlerError):
                await self._task  # a node error reached the reader through get()
            self._task = None

    async def get(self) -> MempoolChange:
        """The next change (the first is the :class:`MempoolLoaded` snapshot).

        Raises :class:`MempoolWatcherError` once the changes before a failure are read.
        """
        task = self._task
        if task is None:
            raise MempoolWatcherError("the mempool watcher is not running (use async with)")
        change = None if self._changes.empty() and task.done() else await self._changes.get()
        if change is None:  # the watcher's task ended
            cause = None if task.cancelled() else task.exception()
            raise MempoolWatcherError(f"the mempool watcher stopped: {cause}") from cause
        return change

    def ready(self) -> list[MempoolChange]:
        """The changes already queued, without waiting (a failure is left for get())."""
        ready: list[MempoolChange] = []
        while not self._changes.empty():
            change = self._changes.get_nowait()
            if change is None:  # the task ended: get() raises its error
                self._changes.put_nowait(None)
                break
            ready.append(change)
        return ready

    def _stopped(self, task: asyncio.Task[None]) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # full: get() finds the task done
            self._changes.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[MempoolChange]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[MempoolChange]:
        while True:
            yield await self.get()

    # ------------------------------------------------------------------ main loop

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        loaded = False
        due = loop.time()
        while True:
            try:
                if not loaded:
                    await self._reconcile(initial=True)
                    loaded = True
                    due = loop.time() + self._reconcile_interval
                    continue
                if await self._step(max(0.0, due - loop.time())) or loop.time() >= due:
                    await self._reconcile()
                    due = loop.time() + self._reconcile_interval
            except (NodeUnreachableError, RPCError) as exc:  # down, or warming up (-28)
                log.warning("mempool.node_error", error=str(exc), retry_in=self._poll_interval)
                await asyncio.sleep(self._poll_interval)
                due = loop.time()  # reconcile as soon as the node answers

    async def _step(self, wait: float) -> bool:
        """Wait for news (at most ``wait`` seconds); True when the view must be reconciled."""
        if self._subscriber is None:
            await asyncio.sleep(min(self._poll_interval, wait))
            return await self._follow_tip()
        timeout = GRACE if self._unexplained else min(wait, self._poll_interval)
        return await self._apply(await self._receive(timeout))

    async def _receive(self, timeout: float) -> list[ZmqMessage]:
        """The first message within ``timeout``, then whatever is already queued."""
        assert self._subscriber is not None
        first = await self._subscriber.receive(timeout)
        if first is None:
            return []
        messages = [first]
        while len(messages) < self._batch_size:
            message = await self._subscriber.receive(0)
            if message is None:
                break
            messages.append(message)
        return messages

    async def _emit(self, changes: Iterable[MempoolChange]) -> None:
        for change in changes:
            await self._changes.put(change)

    # ------------------------------------------------------------------ ZMQ

    async def _apply(self, messages: Sequence[ZmqMessage]) -> bool:
        """Apply a burst of notifications; True when the view must be reconciled."""
        doubt = False
        ops: list[tuple[str, str, int | None]] = []
        for message in messages:
            if message.gap:
                doubt = True
            if message.topic == "rawtx":
                self._remember_raw(message.body)
                continue
            event = message.event
            if event is None:
                continue
            if event.kind in ("A", "R"):
                assert event.mempool_sequence is not None
                if event.mempool_sequence < self._sequence:
                    continue  # already in the last snapshot
                ops.append((event.kind, event.hash, event.mempool_sequence))
            else:  # C or D: reconcile after every block, connected or disconnected
                ops.append((event.kind, event.hash, None))
                doubt = True
        if ops or self._unexplained:
            await self._apply_ops(ops)
        return doubt

    def _remember_raw(self, raw: bytes) -> None:
        try:
            txid = Transaction.from_bytes(raw, self._network).txid_bytes
        except ChainDataError:
            return
        self._raw[txid] = raw
        while len(self._raw) > 2 * self._batch_size:
            self._raw.popitem(last=False)

    async def _apply_ops(self, ops: list[tuple[str, str, int | None]]) -> None:
        wanted = [h for kind, h, _ in ops if kind == "A" and _key(h) not in self._spends]
        fetched = dict(zip(wanted, await self._fetch_txs(wanted), strict=True))
        blocks = {h: await self._block_info(h) for kind, h, _ in ops if kind == "C"}
        await self._resolve_prevouts([tx for tx in fetched.values() if tx is not None])
        changes: list[MempoolChange] = []
        pending = self._unexplained  # removed by R, reason not known yet
        for kind, hash_hex, sequence in ops:
            if kind == "A":
                tx = fetched.get(hash_hex)
                if tx is None or tx.txid_bytes in self._spends:
                    continue
                self._replaced_by(tx, pending, changes)
                self._add(tx)
                changes.append(TxAdded(tx, sequence))
            elif kind == "R":
                spends = self._drop(_key(hash_hex))
                if spends is not None:
                    pending[_key(hash_hex)] = spends
                    self._removed_at[_key(hash_hex)] = asyncio.get_running_loop().time()
            elif kind == "C":
                self._connected(blocks[hash_hex], pending, changes)
            else:  # its transactions come back to the mempool as A
                self._disconnected(hash_hex)
        expired = asyncio.get_running_loop().time() - GRACE
        late = {t: s for t, s in pending.items() if self._removed_at.get(t, 0.0) <= expired}
        self._unexplained = {t: s for t, s in pending.items() if t not in late}
        self._removed_at = {t: self._removed_at[t] for t in self._unexplained}
        changes.extend(self._classify(late, {}))
        await self._emit(changes)

    def _replaced_by(
        self, tx: Transaction, pending: dict[bytes, tuple[bytes, ...]], out: list[MempoolChange]
    ) -> None:
        """Report the removed transactions ``tx`` conflicts with (and their descendants)
        as replaced by it (a live one too: its ``R`` was lost)."""
        spends = set(_spends(tx))
        for live in {self._spenders[o] for o in spends if o in self._spenders}:
            pending[live] = self._drop(live) or ()
        victims = [t for t, s in pending.items() if spends.intersection(s)]
        for victim in self._with_descendants(victims, pending):
            del pending[victim]
            out.append(TxRemoved(_hex(victim), RemovalReason.REPLACED, replaced_by=tx.txid))

    def _connected(
        self, info: _BlockInfo, pending: dict[bytes, tuple[bytes, ...]], out: list[MempoolChange]
    ) -> None:
        """A block connected: its transactions are confirmed, what spends the same
        outputs (and their descendants) is conflicted."""
        if any(b.hash == info.hash for b in self._blocks):
            return  # applied already (found by polling before its C arrived)
        self._blocks.append(info)
        self._tip = info.hash
        for txid in sorted(info.txids & self._spends.keys()):
            self._drop(txid)
            out.append(TxRemoved(_hex(txid), RemovalReason.CONFIRMED, info.hash, info.height))
        live = {self._spenders[o] for o in info.spent if o in self._spenders}
        for txid in live:
            pending[txid] = self._drop(txid) or ()
        victims = [t for t, s in pending.items() if any(o in info.spent for o in s)]
        for victim in self._with_descendants(victims, pending):
            del pending[victim]
            out.append(TxRemoved(_hex(victim), RemovalReason.CONFLICTED, info.hash, info.height))

    def _disconnected(self, block_hash: str) -> None:
        """Forget a disconnected block (and its descendants), so no later removal is
        taken for a confirmation in it."""
        if any(b.hash == block_hash for b in self._blocks):
            while (info := self._blocks.pop()).hash != block_hash:
                pass
            self._tip = info.prev_hash

    def _with_descendants(
        self, roots: Iterable[bytes], pending: dict[bytes, tuple[bytes, ...]]
    ) -> list[bytes]:
        """``roots`` and the pending removals that spend their outputs, transitively."""
        found: list[bytes] = []
        todo = list(roots)
        while todo:
            txid = todo.pop()
            if txid in found:
                continue
            found.append(txid)
            todo.extend(t for t, s in pending.items() if any(o[:32] == txid for o in s))
        return found

    @staticmethod
    def _classify(
        pending: dict[bytes, tuple[bytes, ...]], replacements: dict[bytes, bytes]
    ) -> list[TxRemoved]:
        """Removals no block explains: replaced by a new transaction spending the same
        output (``replacements``: outpoint -> new txid), else evicted."""
        out: list[TxRemoved] = []
        for txid, spends in pending.items():
            by = next((replacements[o] for o in spends if o in replacements), None)
            if by is not None:
                out.append(TxRemoved(_hex(txid), RemovalReason.REPLACED, replaced_by=_hex(by)))
            else:
                out.append(TxRemoved(_hex(txid), RemovalReason.EVICTED))
        return out

    # ------------------------------------------------------------------ polling, reconciling

    async def _follow_tip(self) -> bool:
        """Without ZMQ: True when the tip moved (the blocks in between were applied)."""
        tip = await self._node.get_best_block_hash()
        if tip == self._tip:
            return False
        known = {b.hash for b in self._blocks} | {self._tip}
        path: list[str] = []
        cursor: str | None = tip
        while cursor is not None and cursor not in known and len(path) < self._recent_blocks:
            path.append(cursor)
            header = await self._node.get_block_header(cursor)
            cursor = header.get("previousblockhash")
        while self._blocks and cursor is not None and self._blocks[-1].hash != cursor:
            self._blocks.pop()  # disconnected by a reorg
        infos = [await self._block_info(block_hash) for block_hash in reversed(path)]
        pending: dict[bytes, tuple[bytes, ...]] = {}
        changes: list[MempoolChange] = []
        for info in infos:
            self._connected(info, pending, changes)
        self._tip = tip
        await self._emit(changes)
        return True

    async def _reconcile(self, *, initial: bool = False) -> None:
        """Make the view equal ``getrawmempool false true``: add what is missing, remove
        what is gone (confirmed or conflicted by a recent block, replaced, or evicted).

        The snapshot is taken before the tip is followed: a block connected in between
        confirms what the snapshot still lists, and nothing it settled is added back."""
        if initial:
            self._tip = await self._node.get_best_block_hash()
        snapshot = await self._node.get_raw_mempool(mempool_sequence=True)
        if not initial:
            await self._follow_tip()  # blocks ZMQ missed: confirmations first
        self.reconciliations += 1
        self._sequence = snapshot.mempool_sequence
        present = {_key(t) for t in snapshot.txids}
        settled = {t for info in self._blocks for t in info.txids}
        spent = {o for info in self._blocks for o in info.spent}
        missing = [
            t for t in snapshot.txids if _key(t) not in self._spends and _key(t) not in settled
        ]
        txs = [tx for tx in await self._fetch_txs(missing) if tx is not None]
        txs = _parents_first([tx for tx in txs if spent.isdisjoint(_spends(tx))])
        await self._resolve_prevouts(txs)
        changes: list[MempoolChange] = []
        pending = {t: self._drop(t) or () for t in list(self._spends) if t not in present}
        for info in self._blocks:
            for txid in sorted(info.txids & pending.keys()):
                del pending[txid]
                changes.append(
                    TxRemoved(_hex(txid), RemovalReason.CONFIRMED, info.hash, info.height)
                )
            victims = [t for t, s in pending.items() if any(o in info.spent for o in s)]
            for victim in self._with_descendants(victims, pending):
                del pending[victim]
                changes.append(
                    TxRemoved(_hex(victim), RemovalReason.CONFLICTED, info.hash, info.height)
                )
        replacements = {o: tx.txid_bytes for tx in txs for o in _spends(tx)}
        changes.extend(self._classify(pending, replacements))
        added = [TxAdded(tx) for tx in txs]
        for tx in txs:
            self._add(tx)
        if initial:
            await self._emit([MempoolLoaded(tuple(added), snapshot.mempool_sequence)])
            return
        if changes or added:
            self.healed += len(changes) + len(added)
            log.info("mempool.reconciled", added=len(added), removed=len(changes))
        await self._emit([*changes, *added])

    # ------------------------------------------------------------------ the view

    def _add(self, tx: Transaction) -> None:
        spends = _spends(tx)
        self._spends[tx.txid_bytes] = spends
        for outpoint in spends:
            self._spenders[outpoint] = tx.txid_bytes
        self._outputs[tx.txid_bytes] = tx.outputs
        while len(self._outputs) > self._output_cache:
            self._outputs.popitem(last=False)

    def _drop(self, txid: bytes) -> tuple[bytes, ...] | None:
        spends = self._spends.pop(txid, None)
        for outpoint in spends or ():
            if self._spenders.get(outpoint) == txid:
                del self._spenders[outpoint]
        return spends

    # ------------------------------------------------------------------ fetching

    async def _fetch_txs(self, txids: Sequence[str]) -> list[Transaction | None]:
        """Transactions by txid (rawtx bodies already received, else ``getrawtransaction``
        in batches); None for one the node no longer has."""
        raws: dict[str, bytes | None] = {t: self._raw.pop(_key(t), None) for t in txids}
        unknown = [t for t, raw in raws.items() if raw is None]
        for start in range(0, len(unknown), self._batch_size):
            chunk = unknown[start : start + self._batch_size]
            try:
                got = await self._node.get_raw_transactions(chunk)
            except NoTxIndexError:
                got = [None] * len(chunk)  # one left the mempool and the node has no txindex
                for i, txid in enumerate(chunk):
                    try:
                        (got[i],) = await self._node.get_raw_transactions([txid])
                    except NoTxIndexError:
                        got[i] = None
            raws.update(zip(chunk, got, strict=True))
        return [self._parse(raw) for raw in (raws[t] for t in txids)]

    def _parse(self, raw: bytes | None) -> Transaction | None:
        if raw is None:
            return None
        try:
            return Transaction.from_bytes(raw, self._network)
        except ChainDataError as exc:
            log.warning("mempool.unparsable_transaction", error=str(exc))
            return None

    async def _block_info(self, block_hash: str) -> _BlockInfo:
        header = await self._node.get_block_header(block_hash)
        height = int(header["height"])
        raw = await self._node.get_raw_block(block_hash)
        block = Block.from_bytes(raw, self._network, height=height)
        return _BlockInfo.of(block, block_hash, height)

    async def _resolve_prevouts(self, txs: Sequence[Transaction]) -> None:
        """Fill ``prev_txout`` from the outputs cache, else from the spent outputs'
        transactions fetched raw (mempool parents; confirmed ones need ``-txindex``)."""
        batch = {tx.txid_bytes: tx.outputs for tx in txs}
        missing: set[str] = set()
        for tx in txs:
            for txin in tx.inputs:
                prev = txin.prevout.txid_bytes
                outputs = batch.get(prev) or self._outputs.get(prev)
                if outputs is not None and txin.prevout.vout < len(outputs):
                    txin.prev_txout = outputs[txin.prevout.vout]
                else:
                    missing.add(txin.prevout.txid)
        wanted = sorted(t for t in missing if self._txindex or _key(t) in self._spends)
        # a parent that is in the mempool but not in the cache is fetched like a confirmed one
        parents: dict[bytes, list[TxOut]] = {}
        for start in range(0, len(wanted), self._batch_size):
            chunk = wanted[start : start + self._batch_size]
            try:
                raws = await self._node.get_raw_transactions(chunk)
            except NoTxIndexError:
                self._txindex = False
                log.info("mempool.no_txindex", hint="confirmed prevouts stay unresolved")
                chunk = [t for t in chunk if _key(t) in self._spends]
                raws = await self._node.get_raw_transactions(chunk) if chunk else []
            for raw in raws:
                parent = self._parse(raw)
                if parent is not None:
                    parents[parent.txid_bytes] = parent.outputs
        for tx in txs:
            for txin in tx.inputs:
                outputs = parents.get(txin.prevout.txid_bytes)
                if txin.prev_txout is None and outputs and txin.prevout.vout < len(outputs):
                    txin.prev_txout = outputs[txin.prevout.vout]


def _key(txid_hex: str) -> bytes:
    return bytes.fromhex(txid_hex)[::-1]


def _hex(txid: bytes) -> str:
    return txid[::-1].hex()


def _parents_first(txs: list[Transaction]) -> list[Transaction]:
    """Order ``txs`` so that a transaction comes after those of ``txs`` it spends."""
    by_id = {tx.txid_bytes: tx for tx in txs}
    done: set[bytes] = set()
    order: list[Transaction] = []
    for tx in txs:
        stack: list[tuple[Transaction, bool]] = [(tx, False)]
        while stack:
            node, expanded = stack.pop()
            if node.txid_bytes in done:
                continue
            if expanded:
                done.add(node.txid_bytes)
                order.append(node)
                continue
            stack.append((node, True))
            for txin in node.inputs:
                parent = by_id.get(txin.prevout.txid_bytes)
                if parent is not None and parent.txid_bytes not in done:
                    stack.append((parent, False))
    return order


async def mempool_subscriber(
    node: NodeClient, topic_endpoints: Mapping[str, str]
) -> ZmqSubscriber | None:
    """A subscriber to :data:`MEMPOOL_TOPICS` from ``topic_endpoints`` (the settings) or,
    when they name no ``sequence`` endpoint, from what the node advertises; None when
    ``sequence`` is published nowhere (the watcher then polls)."""
    if "sequence" in topic_endpoints:
        by_endpoint: dict[str, set[str]] = {}
        for topic in MEMPOOL_TOPICS:
            if topic in topic_endpoints:
                by_endpoint.setdefault(topic_endpoints[topic], set()).add(topic)
        return ZmqSubscriber(by_endpoint)
    try:
        notifications = await node.get_zmq_notifications()
        if not any(str(n.get("type")) == "pubsequence" for n in notifications):
            raise NodeConfigError("the node publishes no ZMQ sequence topic")
        return ZmqSubscriber.from_notifications(notifications, MEMPOOL_TOPICS)
    except NodeError as exc:
        log.info("mempool.zmq_not_advertised", reason=str(exc), following="polling")
        return None
