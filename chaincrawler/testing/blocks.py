"""Build valid regtest blocks in memory, for model unit tests (no node needed).

Blocks have a BIP34 coinbase, a correct merkle root, a BIP141 witness commitment and a
nonce meeting the regtest target, as Bitcoin Core's miner makes them; the simulated
node mines with this module. Destinations are addresses (``str``) or raw scriptPubKeys
(``bytes``); :func:`address` gives a deterministic address for a label::

    from chaincrawler.testing.blocks import address, block, spend

    alice, bob = address("alice"), address("bob")
    b0 = block(0, pays=[(alice, 50_000)])                    # coinbase pays alice
    pay = spend([(b0.coinbase, 0)], [(bob, 20_000), (alice, 29_000)])
    b1 = block(1, [pay], prev_hash=b0.hash_bytes)            # coinbase added first
    await model.process_block(b1)  # pay's inputs carry prev_txout (resolve=True)
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

from chaincrawler.chain.consensus import (
    REGTEST_BITS,
    WITNESS_COMMITMENT_PREFIX,
    WITNESS_RESERVED_VALUE,
    block_subsidy,
)
from chaincrawler.chain.networks import REGTEST, Network
from chaincrawler.chain.script import address_from_script, push_data, script_from_address
from chaincrawler.chain.types import (
    NULL_HASH,
    Block,
    BlockHeader,
    OutPoint,
    Transaction,
    TxIn,
    TxOut,
    encode_script_number,
)
from chaincrawler.chain.wire import merkle_root
from chaincrawler.errors import ChaincrawlerError

__all__ = [
    "BLOCK_VERSION",
    "BlockBuildError",
    "Destination",
    "address",
    "block",
    "chain",
    "coinbase",
    "p2wpkh",
    "solve_header",
    "spend",
    "witness_commitment",
]

BLOCK_VERSION = 0x20000000
"""The header version Core's miner uses (BIP9 top bits, no deployment signalled)."""
DEFAULT_TIME = 1_700_000_000
"""Base of the default block times: block ``h`` gets ``DEFAULT_TIME + h``."""

Destination = str | bytes
"""An address, or a raw scriptPubKey."""

_sha256 = hashlib.sha256


class BlockBuildError(ChaincrawlerError, ValueError):
    """The requested block or transaction cannot be built as asked."""


def p2wpkh(label: str) -> bytes:
    """A P2WPKH scriptPubKey whose key hash is derived from ``label`` (deterministic)."""
    return b"\x00\x14" + _sha256(label.encode()).digest()[:20]


def address(label: str, network: Network = REGTEST) -> str:
    """The address of :func:`p2wpkh` ``(label)`` on ``network``."""
    found = address_from_script(p2wpkh(label), network)
    assert found is not None  # every P2WPKH script has an address
    return found


def _txouts(pays: Sequence[tuple[Destination, int]], network: Network) -> list[TxOut]:
    return [
        TxOut(value, script_from_address(dest, network) if isinstance(dest, str) else dest,
              network)
        for dest, value in pays
    ]


def coinbase(
    height: int,
    pays: Sequence[tuple[Destination, int]],
    *,
    commitment: bytes | None = None,
    tag: bytes = b"",
    network: Network = REGTEST,
) -> Transaction:
    """The coinbase of a block at ``height`` paying ``pays``, as Core's miner builds it.

    scriptSig: the BIP34 height, then ``tag`` (or an ``OP_0`` pad up to height 16, so it
    reaches Core's 2-byte minimum); sequence 0xfffffffe, locktime ``height - 1``. With
    a ``commitment`` (see :func:`witness_commitment`) the input carries the 32-byte
    witness reserved value and a last output commits to the block's witnesses.
    """
    script_sig = push_data(encode_script_number(height))
    if tag:
        script_sig += push_data(tag)
    elif height <= 16:
        script_sig += b"\x00"
    witness = [WITNESS_RESERVED_VALUE] if commitment is not None else []
    txin = TxIn(OutPoint(NULL_HASH, 0xFFFFFFFF), script_sig, 0xFFFFFFFE, witness)
    outputs = _txouts(pays, network)
    if commitment is not None:
        outputs.append(TxOut(0, WITNESS_COMMITMENT_PREFIX + commitment, network))
    return Transaction([txin], outputs, 2, max(height - 1, 0), network=network)


def witness_commitment(transactions: Sequence[Transaction]) -> bytes:
    """The BIP141 commitment for a block of a coinbase followed by ``transactions``."""
    wtxids = [NULL_HASH, *(tx.wtxid_bytes for tx in transactions)]
    return _sha256(_sha256(merkle_root(wtxids) + WITNESS_RESERVED_VALUE).digest()).digest()


def spend(
    spent: Sequence[tuple[Transaction, int]],
    pays: Sequence[tuple[Destination, int]],
    *,
    resolve: bool = True,
    network: Network = REGTEST,
) -> Transaction:
    """A transaction spending outputs ``(tx, vout)`` to ``pays`` (no fee is checked).

    With ``resolve`` each input's ``prev_txout`` is set to the output it spends, as the
    crawler does for models with ``needs_prevouts``.
    """
    if not spent:
        raise BlockBuildError("a transaction needs at least one output to spend")
    inputs = [TxIn(OutPoint(tx.txid_bytes, vout)) for tx, vout in spent]
    tx = Transaction(inputs, _txouts(pays, network), network=network)
    if resolve:
        for txin, (prev, vout) in zip(tx.inputs, spent, strict=True):
            txin.prev_txout = prev.outputs[vout]
    return tx


def solve_header(
    prev_hash: bytes, merkle: bytes, time: int, bits: int = REGTEST_BITS
) -> BlockHeader:
    """A :data:`BLOCK_VERSION` header with the first nonce meeting ``bits``' target
    (about two tries on regtest). Hashes are internal-order bytes."""
    prefix = struct.pack("<i32s32sII", BLOCK_VERSION, prev_hash, merkle, time, bits)
    target = BlockHeader(0, b"", b"", 0, bits, 0).target
    for nonce in range(1 << 32):
        raw = prefix + struct.pack("<I", nonce)
        if int.from_bytes(_sha256(_sha256(raw).digest()).digest(), "little") <= target:
            return BlockHeader.from_bytes(raw)
    raise BlockBuildError(f"no nonce meets the target of bits {bits:#x}")


def block(
    height: int,
    transactions: Sequence[Transaction] = (),
    prev_hash: bytes = NULL_HASH,
    *,
    pays: Sequence[tuple[Destination, int]] | None = None,
    time: int | None = None,
    tag: bytes = b"",
    network: Network = REGTEST,
) -> Block:
    """A valid regtest block at ``height`` on ``prev_hash`` (internal-order bytes).

    When ``transactions`` does not start with a coinbase, one is added paying ``pays``
    (default: the subsidy to ``p2wpkh("miner")``) with the witness commitment and
    ``tag``. A coinbase given first is used as it is: it must commit to the block's
    witnesses when another transaction has any. ``time`` defaults to
    :data:`DEFAULT_TIME` + ``height``. The block's ``height`` attribute is set.
    """
    txs = list(transactions)
    if not txs or not txs[0].is_coinbase:
        if pays is None:
            pays = [(p2wpkh("miner"), block_subsidy(height, network))]
        txs.insert(0, coinbase(height, pays, commitment=witness_commitment(txs), tag=tag,
                               network=network))
    elif pays is not None or tag:
        raise BlockBuildError("pays and tag describe the coinbase: give them or a coinbase")
    header = solve_header(
        prev_hash, merkle_root([tx.txid_bytes for tx in txs]),
        DEFAULT_TIME + height if time is None else time,
    )
    built = Block(header, txs, network, height)
    if not built.check_witness_commitment():
        raise BlockBuildError(
            "the given coinbase does not commit to the block's witnesses: build it with "
            "coinbase(..., commitment=witness_commitment(other_transactions))"
        )
    return built


def chain(
    length: int,
    start: int = 0,
    prev_hash: bytes = NULL_HASH,
    *,
    tag: bytes = b"",
    network: Network = REGTEST,
) -> list[Block]:
    """``length`` linked blocks from height ``start`` on ``prev_hash``, each holding only
    a coinbase paying the subsidy to ``p2wpkh("miner")``; a different ``tag`` gives a
    different branch."""
    blocks: list[Block] = []
    for height in range(start, start + length):
        blocks.append(block(height, (), prev_hash, tag=tag, network=network))
        prev_hash = blocks[-1].hash_bytes
    return blocks
