"""Bitcoin chain types parsed from, and serialised back to, raw bytes.

A parsed :class:`Block` keeps the raw bytes it came from. Transactions are located by one
scan over those bytes; their inputs, outputs, ids and addresses are decoded only when
first read and then cached, so a model pays only for what it looks at.

Hashes are ``bytes`` in internal (wire) order on the ``*_bytes`` attributes, and hex in
display order (as Bitcoin Core's RPC shows them) on the plain-named attributes.
Values are integers in satoshis.

Objects are not changed once built, with two exceptions the crawler makes before a model
sees the block: it sets :attr:`Block.height`, and :attr:`TxIn.prev_txout` for models
with ``needs_prevouts``. Every constructor and parser takes the :class:`Network`
explicitly, since addresses depend on it.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import ClassVar

from chaincrawler.chain.address_cache import address_of
from chaincrawler.chain.consensus import WITNESS_COMMITMENT_PREFIX
from chaincrawler.chain.networks import Network
from chaincrawler.chain.script import ScriptType, classify
from chaincrawler.chain.wire import compact_size, hash_to_hex, merkle_root, sha256d
from chaincrawler.errors import ChainDataError

_sha256 = hashlib.sha256
_unpack_h = struct.Struct("<H").unpack_from
_unpack_i = struct.Struct("<I").unpack_from
_unpack_i32 = struct.Struct("<i").unpack_from
_unpack_q = struct.Struct("<Q").unpack_from
_pack_i = struct.Struct("<I").pack
_pack_i32 = struct.Struct("<i").pack
_pack_q = struct.Struct("<Q").pack
_header = struct.Struct("<i32s32sIII")

try:
    from chaincrawler.chain import _speedups as _fast
except ImportError:  # installed without a C compiler: the pure-Python code below
    _fast = None  # type: ignore[assignment]

NULL_HASH = b"\x00" * 32
_COINBASE_INPUTS = b"\x01" + NULL_HASH + b"\xff\xff\xff\xff"
"""How a coinbase's inputs begin: one input, spending the null outpoint."""
_UNSET: object = object()
Buffer = bytes


class OutPoint:
    """A reference to one output of an earlier transaction."""

    __slots__ = ("txid_bytes", "vout")

    def __init__(self, txid_bytes: bytes, vout: int) -> None:
        self.txid_bytes = txid_bytes
        self.vout = vout

    @property
    def txid(self) -> str:
        """The referenced transaction's id, display-order hex."""
        return hash_to_hex(self.txid_bytes)

    @property
    def is_null(self) -> bool:
        """True for the null outpoint a coinbase input spends."""
        return self.vout == 0xFFFFFFFF and self.txid_bytes == NULL_HASH

    def serialize(self) -> bytes:
        return self.txid_bytes + _pack_i(self.vout)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, OutPoint)
            and self.vout == other.vout
            and self.txid_bytes == other.txid_bytes
        )

    def __hash__(self) -> int:
        return hash((self.txid_bytes, self.vout))

    def __repr__(self) -> str:
        return f"OutPoint({self.txid}:{self.vout})"


class TxOut:
    """A transaction output: a value in satoshis locked by a scriptPubKey.

    ``script_type`` and ``address`` (on ``network``) are derived on first access and cached.
    """

    __slots__ = ("_address", "_script_type", "network", "script_pubkey", "value")

    def __init__(self, value: int, script_pubkey: bytes, network: Network) -> None:
        self.value = value
        self.script_pubkey = script_pubkey
        self.network = network
        self._script_type: ScriptType | None = None
        self._address: object = _UNSET

    @property
    def script_type(self) -> ScriptType:
        """The standard type of the scriptPubKey (``ScriptType.NONSTANDARD`` otherwise)."""
        t = self._script_type
        if t is None:
            t = self._script_type = classify(self.script_pubkey)
        return t

    @property
    def address(self) -> str | None:
        """The address this output pays, or None when the script has none."""
        a = self._address
        if a is _UNSET:
            a = self._address = address_of(self.script_pubkey, self.network)
        return a  # type: ignore[return-value]

    def serialize(self) -> bytes:
        return _pack_q(self.value) + compact_size(len(self.script_pubkey)) + self.script_pubkey

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TxOut)
            and self.value == other.value
            and self.script_pubkey == other.script_pubkey
        )

    def __hash__(self) -> int:
        return hash((self.value, self.script_pubkey))

    def __repr__(self) -> str:
        return f"TxOut(value={self.value}, script_pubkey={self.script_pubkey.hex()})"


class TxIn:
    """A transaction input.

    ``prev_txout`` is the output this input spends, when the framework resolved it
    (value, scriptPubKey and address of the prevout); None otherwise and for coinbases.
    It is the one attribute set after construction: by the crawler, before models run.
    """

    __slots__ = ("prev_txout", "prevout", "script_sig", "sequence", "witness")

    def __init__(
        self,
        prevout: OutPoint,
        script_sig: bytes = b"",
        sequence: int = 0xFFFFFFFF,
        witness: Sequence[bytes] = (),
    ) -> None:
        self.prevout = prevout
        self.script_sig = script_sig
        self.sequence = sequence
        self.witness: list[bytes] = list(witness)
        self.prev_txout: TxOut | None = None

    @property
    def is_coinbase(self) -> bool:
        return self.prevout.is_null

    def serialize(self) -> bytes:
        return (
            self.prevout.serialize()
            + compact_size(len(self.script_sig))
            + self.script_sig
            + _pack_i(self.sequence)
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TxIn)
            and self.prevout == other.prevout
            and self.script_sig == other.script_sig
            and self.sequence == other.sequence
            and self.witness == other.witness
        )

    def __hash__(self) -> int:
        return hash((self.prevout, self.script_sig, self.sequence))

    def __repr__(self) -> str:
        return f"TxIn({self.prevout!r}, sequence={self.sequence:#x})"


def _scan_tx(buf: Buffer, start: int) -> tuple[int, int, int, int, int]:
    """Find the boundaries of the transaction at ``start`` without decoding it.

    Returns ``(end, io_start, out_start, io_end, witness_start)``; ``witness_start``
    is -1 for a transaction without witness data. The hot path of block parsing.
    """
    pos = start + 4
    try:
        n = buf[pos]
        segwit = n == 0
        if segwit:
            if buf[pos + 1] != 1:
                raise ChainDataError("bad segwit flag (expected 0x01)", pos + 1)
            pos += 2
        io_start = pos
        n = buf[pos]
        pos += 1
        if n >= 0xFD:
            n, pos = _big_count(buf, pos - 1)
        if n == 0:
            raise ChainDataError("transaction has no inputs", pos - 1)
        for _ in range(n):
            size = buf[pos + 36]
            pos += 37
            if size >= 0xFD:
                size, pos = _big_count(buf, pos - 1)
            pos += size + 4
        out_start = pos
        n = buf[pos]
        pos += 1
        if n >= 0xFD:
            n, pos = _big_count(buf, pos - 1)
        for _ in range(n):
            size = buf[pos + 8]
            pos += 9
            if size >= 0xFD:
                size, pos = _big_count(buf, pos - 1)
            pos += size
        io_end = pos
        if segwit:
            wit_start = pos
            for _ in range(_count_inputs(buf, io_start)):
                items = buf[pos]
                pos += 1
                if items >= 0xFD:
                    items, pos = _big_count(buf, pos - 1)
                for _ in range(items):
                    size = buf[pos]
                    pos += 1
                    if size >= 0xFD:
                        size, pos = _big_count(buf, pos - 1)
                    pos += size
        else:
            wit_start = -1
    except IndexError:
        raise ChainDataError("truncated transaction", min(pos, len(buf))) from None
    end = pos + 4
    if end > len(buf):
        raise ChainDataError("truncated transaction", len(buf))
    return end, io_start, out_start, io_end, wit_start


def _big_count(buf: Buffer, pos: int) -> tuple[int, int]:
    """Decode a multi-byte CompactSize at ``pos`` and reject counts the data cannot hold."""
    try:
        tag = buf[pos]
        if tag == 0xFD:
            n, new = _unpack_h(buf, pos + 1)[0], pos + 3
        elif tag == 0xFE:
            n, new = _unpack_i(buf, pos + 1)[0], pos + 5
        else:
            n, new = _unpack_q(buf, pos + 1)[0], pos + 9
    except struct.error:
        raise ChainDataError("truncated compact size", pos) from None
    if n > len(buf) - new:
        raise ChainDataError(f"count or length {n} exceeds the remaining data", pos)
    return n, new


def _count_inputs(buf: Buffer, io_start: int) -> int:
    n = buf[io_start]
    return n if n < 0xFD else _big_count(buf, io_start)[0]


def _read_size(buf: Buffer, pos: int) -> tuple[int, int]:
    n = buf[pos]
    return (n, pos + 1) if n < 0xFD else _big_count(buf, pos)


class Transaction:
    """A Bitcoin transaction (legacy or BIP141 segwit).

    Build one with ``Transaction(inputs, outputs, network=REGTEST)`` (``version`` 2 and
    ``locktime`` 0 unless given) or parse one with :meth:`from_bytes`; the outputs must
    be of the same network. ``txid``/``wtxid`` are display hex; ``*_bytes`` are internal.
    """

    __slots__ = (
        "_buf",
        "_end",
        "_inputs",
        "_io_end",
        "_io_start",
        "_out_start",
        "_outputs",
        "_start",
        "_txid",
        "_wit_start",
        "_wtxid",
        "network",
    )

    def __init__(
        self,
        inputs: Sequence[TxIn],
        outputs: Sequence[TxOut],
        version: int = 2,
        locktime: int = 0,
        *,
        network: Network,
    ) -> None:
        inputs = list(inputs)
        outputs = list(outputs)
        for txout in outputs:
            if txout.network != network:
                raise ChainDataError(
                    f"an output of {txout.network.name} in a transaction of {network.name}"
                )
        segwit = any(txin.witness for txin in inputs)
        parts = [_pack_i32(version)]
        if segwit:
            parts.append(b"\x00\x01")
        parts.append(compact_size(len(inputs)))
        parts.extend(txin.serialize() for txin in inputs)
        parts.append(compact_size(len(outputs)))
        parts.extend(txout.serialize() for txout in outputs)
        if segwit:
            for txin in inputs:
                parts.append(compact_size(len(txin.witness)))
                for item in txin.witness:
                    parts.append(compact_size(len(item)) + item)
        parts.append(_pack_i(locktime))
        self._locate(b"".join(parts), 0, network)
        self._inputs: list[TxIn] | None = inputs
        self._outputs: list[TxOut] | None = outputs

    def _locate(self, buf: Buffer, start: int, network: Network) -> int:
        end, self._io_start, self._out_start, self._io_end, self._wit_start = _scan_tx(buf, start)
        self._buf = buf
        self._start = start
        self._end = end
        self.network = network
        self._inputs = None
        self._outputs = None
        self._txid: bytes | None = None
        self._wtxid: bytes | None = None
        return end

    @classmethod
    def _at(cls, buf: Buffer, start: int, network: Network) -> tuple[Transaction, int]:
        tx = cls.__new__(cls)
        return tx, tx._locate(buf, start, network)

    @classmethod
    def from_bytes(cls, data: bytes, network: Network) -> Transaction:
        """Parse one serialised transaction; trailing bytes are an error."""
        tx, end = cls._at(bytes(data), 0, network)
        if end != len(data):
            raise ChainDataError(f"{len(data) - end} trailing bytes after transaction", end)
        return tx

    @classmethod
    def from_hex(cls, hex_str: str, network: Network) -> Transaction:
        return cls.from_bytes(_from_hex(hex_str), network)

    # -- identity -------------------------------------------------------------

    @property
    def txid_bytes(self) -> bytes:
        """The transaction id (hash of the serialisation without witness), internal order."""
        h = self._txid
        if h is None:
            buf = self._buf
            if self._wit_start < 0:
                h = _sha256(_sha256(memoryview(buf)[self._start : self._end]).digest()).digest()
            else:
                mv = memoryview(buf)
                inner = _sha256(mv[self._start : self._start + 4])
                inner.update(mv[self._io_start : self._io_end])
                inner.update(mv[self._end - 4 : self._end])
                h = _sha256(inner.digest()).digest()
            self._txid = h
        return h

    @property
    def txid(self) -> str:
        """The transaction id, display-order hex."""
        return self.txid_bytes[::-1].hex()

    @property
    def wtxid_bytes(self) -> bytes:
        """The witness transaction id (equals txid without witness), internal order."""
        h = self._wtxid
        if h is None:
            if self._wit_start < 0:
                h = self.txid_bytes
            else:
                h = sha256d(memoryview(self._buf)[self._start : self._end])
            self._wtxid = h
        return h

    @property
    def wtxid(self) -> str:
        return self.wtxid_bytes[::-1].hex()

    # -- fields ---------------------------------------------------------------

    @property
    def version(self) -> int:
        return int(_unpack_i32(self._buf, self._start)[0])

    @property
    def locktime(self) -> int:
        return int(_unpack_i(self._buf, self._end - 4)[0])

    @property
    def has_witness(self) -> bool:
        return self._wit_start >= 0

    @property
    def inputs(self) -> list[TxIn]:
        """The inputs, decoded on first access (with their witnesses)."""
        ins = self._inputs
        if ins is None:
            ins = self._inputs = self._decode_inputs()
        return ins

    @property
    def outputs(self) -> list[TxOut]:
        """The outputs, decoded on first access."""
        outs = self._outputs
        if outs is None:
            outs = self._outputs = self._decode_outputs()
        return outs

    def _decode_inputs(self) -> list[TxIn]:
        if _fast is not None:
            ins: list[TxIn] | None = _fast.decode_inputs(
                self._buf, self._io_start, self._wit_start, TxIn, OutPoint)
            if ins is not None:
                return ins
        return self._decode_inputs_py()

    def _decode_inputs_py(self) -> list[TxIn]:
        buf = self._buf
        n, pos = _read_size(buf, self._io_start)
        ins = []
        for _ in range(n):
            prevout = OutPoint(buf[pos : pos + 32], _unpack_i(buf, pos + 32)[0])
            size, pos = _read_size(buf, pos + 36)
            script = buf[pos : pos + size]
            pos += size
            txin = TxIn.__new__(TxIn)
            txin.prevout = prevout
            txin.script_sig = script
            txin.sequence = _unpack_i(buf, pos)[0]
            txin.witness = []
            txin.prev_txout = None
            ins.append(txin)
            pos += 4
        if self._wit_start >= 0:
            pos = self._wit_start
            for txin in ins:
                items, pos = _read_size(buf, pos)
                witness = txin.witness
                for _ in range(items):
                    size, pos = _read_size(buf, pos)
                    witness.append(buf[pos : pos + size])
                    pos += size
        return ins

    def _decode_outputs(self) -> list[TxOut]:
        if _fast is not None:
            outs: list[TxOut] | None = _fast.decode_outputs(
                self._buf, self._out_start, self.network, TxOut, _UNSET)
            if outs is not None:
                return outs
        return self._decode_outputs_py()

    def _decode_outputs_py(self) -> list[TxOut]:
        buf = self._buf
        network = self.network
        n, pos = _read_size(buf, self._out_start)
        outs = []
        new = TxOut.__new__
        for _ in range(n):
            value = _unpack_q(buf, pos)[0]
            size = buf[pos + 8]
            pos += 9
            if size >= 0xFD:
                size, pos = _big_count(buf, pos - 1)
            txout = new(TxOut)
            txout.value = value
            txout.script_pubkey = buf[pos : pos + size]
            txout.network = network
            txout._script_type = None
            txout._address = _UNSET
            outs.append(txout)
            pos += size
        return outs

    @property
    def is_coinbase(self) -> bool:
        """True when the transaction has one input spending the null outpoint."""
        return self._buf.startswith(_COINBASE_INPUTS, self._io_start)

    # -- sizes and serialisation ----------------------------------------------

    @property
    def size(self) -> int:
        """Serialised size in bytes, witness included."""
        return self._end - self._start

    @property
    def base_size(self) -> int:
        """Serialised size without witness data."""
        if self._wit_start < 0:
            return self.size
        return 8 + self._io_end - self._io_start

    @property
    def weight(self) -> int:
        return self.base_size * 3 + self.size

    @property
    def vsize(self) -> int:
        return (self.weight + 3) // 4

    def serialize(self) -> bytes:
        """The serialisation with witness data (what ``getrawtransaction`` returns)."""
        return bytes(self._buf[self._start : self._end])

    def serialize_without_witness(self) -> bytes:
        """The legacy serialisation the txid commits to."""
        if self._wit_start < 0:
            return self.serialize()
        buf = self._buf
        return bytes(
            buf[self._start : self._start + 4]
            + buf[self._io_start : self._io_end]
            + buf[self._end - 4 : self._end]
        )

    def hex(self) -> str:
        return self.serialize().hex()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Transaction) and self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash(self.wtxid_bytes)

    def __repr__(self) -> str:
        return f"Transaction({self.txid})"


class BlockHeader:
    """The 80-byte block header."""

    __slots__ = (
        "_hash", "bits", "merkle_root_bytes", "nonce", "prev_hash_bytes", "time", "version",
    )
    SIZE: ClassVar[int] = 80

    def __init__(
        self,
        version: int,
        prev_hash_bytes: bytes,
        merkle_root_bytes: bytes,
        time: int,
        bits: int,
        nonce: int,
    ) -> None:
        self.version = version
        self.prev_hash_bytes = prev_hash_bytes
        self.merkle_root_bytes = merkle_root_bytes
        self.time = time
        self.bits = bits
        self.nonce = nonce
        self._hash: bytes | None = None

    @classmethod
    def from_bytes(cls, data: Buffer, offset: int = 0) -> BlockHeader:
        """Parse the header at ``offset`` (80 bytes are read)."""
        if len(data) - offset < 80:
            raise ChainDataError("truncated block header", offset)
        version, prev, merkle, time, bits, nonce = _header.unpack_from(data, offset)
        header = cls(version, prev, merkle, time, bits, nonce)
        header._hash = sha256d(memoryview(data)[offset : offset + 80])
        return header

    def serialize(self) -> bytes:
        return _header.pack(
            self.version, self.prev_hash_bytes, self.merkle_root_bytes,
            self.time, self.bits, self.nonce,
        )

    @property
    def hash_bytes(self) -> bytes:
        h = self._hash
        if h is None:
            h = self._hash = sha256d(self.serialize())
        return h

    @property
    def hash(self) -> str:
        """The block hash, display-order hex."""
        return self.hash_bytes[::-1].hex()

    @property
    def prev_hash(self) -> str:
        return self.prev_hash_bytes[::-1].hex()

    @property
    def merkle_root(self) -> str:
        return self.merkle_root_bytes[::-1].hex()

    @property
    def target(self) -> int:
        """The proof-of-work target encoded by ``bits``."""
        exponent, mantissa = self.bits >> 24, self.bits & 0x007FFFFF
        if exponent <= 3:
            return mantissa >> (8 * (3 - exponent))
        return mantissa << (8 * (exponent - 3))

    def check_proof_of_work(self) -> bool:
        """True when the header's hash meets its own ``bits`` target."""
        return int.from_bytes(self.hash_bytes, "little") <= self.target

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BlockHeader) and self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash(self.hash_bytes)

    def __repr__(self) -> str:
        return f"BlockHeader({self.hash})"


class Block:
    """A block: header plus transactions.

    Parse with :meth:`from_bytes` (what ``getblock <hash> 0`` and REST ``.bin`` return),
    or build with ``Block(header, transactions, network)``
    (:mod:`chaincrawler.testing.blocks` builds valid ones).
    """

    __slots__ = ("_raw", "header", "height", "network", "transactions")

    def __init__(
        self,
        header: BlockHeader,
        transactions: Sequence[Transaction],
        network: Network,
        height: int | None = None,
    ) -> None:
        self.header = header
        self.transactions = list(transactions)
        self.network = network
        self.height = height
        """The block's height when known (the crawler sets it; parsing alone cannot)."""
        self._raw: bytes | None = None

    @classmethod
    def from_bytes(
        cls, data: bytes, network: Network, height: int | None = None
    ) -> Block:
        """Parse a serialised block; trailing bytes, truncation and absurd counts are errors."""
        data = bytes(data)
        header = BlockHeader.from_bytes(data)
        count, pos = _read_block_tx_count(data)
        located = (None if _fast is None
                   else _fast.parse_transactions(data, pos, count, network, Transaction))
        if located is not None:
            txs, pos = located
        else:  # no extension, or malformed data: the Python code raises its precise error
            txs = []
            at = Transaction._at
            for _ in range(count):
                tx, pos = at(data, pos, network)
                txs.append(tx)
        if pos != len(data):
            raise ChainDataError(f"{len(data) - pos} trailing bytes after block", pos)
        block = cls.__new__(cls)
        block.header = header
        block.transactions = txs
        block.network = network
        block.height = height
        block._raw = data
        return block

    @classmethod
    def from_hex(cls, hex_str: str, network: Network, height: int | None = None) -> Block:
        return cls.from_bytes(_from_hex(hex_str), network, height)

    def serialize(self) -> bytes:
        raw = self._raw
        if raw is None:
            parts = [self.header.serialize(), compact_size(len(self.transactions))]
            parts.extend(tx.serialize() for tx in self.transactions)
            raw = self._raw = b"".join(parts)
        return raw

    @property
    def hash_bytes(self) -> bytes:
        return self.header.hash_bytes

    @property
    def hash(self) -> str:
        """The block hash, display-order hex."""
        return self.header.hash

    @property
    def prev_hash(self) -> str:
        return self.header.prev_hash

    @property
    def size(self) -> int:
        return len(self.serialize())

    @property
    def weight(self) -> int:
        """Block weight (BIP141): header and counts at 4 WU a byte, plus each tx's weight."""
        base_overhead = 80 + len(compact_size(len(self.transactions)))
        return base_overhead * 4 + sum(tx.weight for tx in self.transactions)

    @property
    def coinbase(self) -> Transaction | None:
        if self.transactions and self.transactions[0].is_coinbase:
            return self.transactions[0]
        return None

    @property
    def bip34_height(self) -> int | None:
        """The height the coinbase commits to (BIP34), or None when it carries none."""
        coinbase = self.coinbase
        if coinbase is None:
            return None
        return decode_script_number_push(coinbase.inputs[0].script_sig)

    def compute_merkle_root(self) -> bytes:
        return merkle_root([tx.txid_bytes for tx in self.transactions])

    def check_merkle_root(self) -> bool:
        """True when the header's merkle root commits to exactly these transactions."""
        return self.compute_merkle_root() == self.header.merkle_root_bytes

    def witness_commitment(self) -> bytes | None:
        """The BIP141 commitment in the coinbase (its last matching output), if any."""
        coinbase = self.coinbase
        if coinbase is None:
            return None
        found = None
        for txout in coinbase.outputs:
            script = txout.script_pubkey
            if len(script) >= 38 and script.startswith(WITNESS_COMMITMENT_PREFIX):
                found = script[6:38]
        return found

    def compute_witness_commitment(self, reserved_value: bytes = NULL_HASH) -> bytes:
        """sha256d(witness merkle root || reserved value), coinbase wtxid taken as zero."""
        wtxids = [NULL_HASH] + [tx.wtxid_bytes for tx in self.transactions[1:]]
        return sha256d(merkle_root(wtxids) + reserved_value)

    def check_witness_commitment(self) -> bool:
        """True when witness data is committed correctly (or the block has none)."""
        commitment = self.witness_commitment()
        has_witness = any(tx.has_witness for tx in self.transactions[1:])
        if commitment is None:
            return not has_witness
        coinbase = self.transactions[0]
        witness = coinbase.inputs[0].witness
        if len(witness) != 1 or len(witness[0]) != 32:
            return False
        return self.compute_witness_commitment(witness[0]) == commitment

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Block) and self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash(self.hash_bytes)

    def __repr__(self) -> str:
        return f"Block({self.hash}, {len(self.transactions)} txs)"


def _read_block_tx_count(data: bytes) -> tuple[int, int]:
    if len(data) <= 80:
        raise ChainDataError("block has no transaction count", min(len(data), 80))
    n, pos = _read_size(data, 80)
    # The smallest parseable transaction is 51 bytes; a larger count cannot be real.
    if n == 0 or n * 51 > len(data) - pos:
        raise ChainDataError(f"absurd transaction count {n}", 80)
    return n, pos


def decode_script_number_push(script: bytes) -> int | None:
    """Decode the number pushed first by ``script`` (OP_0, OP_1..OP_16 or a 1-8 byte push)."""
    if not script:
        return None
    op = script[0]
    if op == 0:
        return 0
    if 0x51 <= op <= 0x60:
        return op - 0x50
    if 1 <= op <= 8 and len(script) > op:
        raw = script[1 : 1 + op]
        value = int.from_bytes(raw, "little")
        if raw[-1] & 0x80:  # CScriptNum sign bit
            return -(value & ~(0x80 << (8 * (op - 1))))
        return value
    return None


def encode_script_number(n: int) -> bytes:
    """Minimal CScriptNum encoding of ``n`` (as BIP34 heights are pushed)."""
    if n == 0:
        return b""
    negative, value = n < 0, abs(n)
    out = bytearray()
    while value:
        out.append(value & 0xFF)
        value >>= 8
    if out[-1] & 0x80:
        out.append(0x80 if negative else 0)
    elif negative:
        out[-1] |= 0x80
    return bytes(out)


def _from_hex(hex_str: str) -> bytes:
    try:
        return bytes.fromhex(hex_str)
    except ValueError as exc:
        raise ChainDataError(f"not hex: {exc}") from None


Derived = tuple[bytes, bool, list[str | None]]
"""What a worker derived from a serialised block: its txids (32 bytes each, internal
order, concatenated), whether its header's merkle root commits to them, and the address
of every output (transactions in order)."""


def preset_derived(block: Block, derived: Derived) -> None:
    """Give ``block`` the txids and output addresses ``derived`` from the same bytes
    elsewhere (:mod:`chaincrawler.crawler.derive`), so reading them costs nothing more.

    Raises ChainDataError when ``derived`` does not fit the block (another block's).
    """
    txids, _merkle_ok, addresses = derived
    txs = block.transactions
    if len(txids) != 32 * len(txs):
        raise ChainDataError(
            f"{len(txids) // 32} derived txids for a block of {len(txs)} transactions"
        )
    outputs = [out for tx in txs for out in tx.outputs]
    if len(addresses) != len(outputs):
        raise ChainDataError(
            f"{len(addresses)} derived addresses for a block of {len(outputs)} outputs"
        )
    for i, tx in enumerate(txs):
        tx._txid = txids[32 * i : 32 * i + 32]
    for out, address in zip(outputs, addresses, strict=True):
        out._address = address
