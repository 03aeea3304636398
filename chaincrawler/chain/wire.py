"""Wire-format helpers: compact sizes, double SHA-256, hash byte order, merkle roots."""

from __future__ import annotations

import hashlib
import struct

try:
    from chaincrawler.chain import _speedups as _fast
except ImportError:  # installed without a C compiler
    _fast = None  # type: ignore[assignment]

_sha256 = hashlib.sha256
_pack_h = struct.Struct("<H").pack
_pack_i = struct.Struct("<I").pack
_pack_q = struct.Struct("<Q").pack


def sha256d(data: bytes | bytearray | memoryview) -> bytes:
    """Bitcoin's double SHA-256, in internal byte order."""
    return _sha256(_sha256(data).digest()).digest()


def compact_size(n: int) -> bytes:
    """Encode ``n`` as a Bitcoin CompactSize (varint)."""
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + _pack_h(n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + _pack_i(n)
    return b"\xff" + _pack_q(n)


def hash_to_hex(h: bytes) -> str:
    """Internal-order hash bytes to the display-order hex used by Core's RPC."""
    return h[::-1].hex()


def hex_to_hash(s: str) -> bytes:
    """Display-order hex (as Core's RPC shows it) to internal-order bytes."""
    try:
        raw = bytes.fromhex(s)
    except ValueError:
        raise ValueError(f"not a hex hash: {s!r}") from None
    if len(raw) != 32:
        raise ValueError(f"a hash is 32 bytes, got {len(raw)}: {s!r}")
    return raw[::-1]


def merkle_root(hashes: list[bytes]) -> bytes:
    """Merkle root of internal-order hashes, as Bitcoin computes it."""
    if _fast is not None and type(hashes) is list:
        root = _fast.merkle_root(hashes)
        if root is not None:
            return root
    return _merkle_root_py(hashes)


def _merkle_root_py(hashes: list[bytes]) -> bytes:
    if not hashes:
        return b"\x00" * 32
    level = hashes
    while len(level) > 1:
        if len(level) & 1:
            level = [*level, level[-1]]
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]
