"""Address encodings: Base58Check (legacy) and Bech32/Bech32m (segwit, BIP173 and BIP350).

The segwit encoder is on the hot path of address derivation, so it does not run the
Bech32 checksum symbol by symbol: the checksum is GF(2)-linear in the program's bits,
so for each program length we precompute, per byte position, the checksum
contribution of each of the 256 byte values, and the encoder XORs one table entry per
byte. The characters are then read two at a time (10 bits) from one integer holding
the program, its zero padding and the checksum.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Sequence
from functools import reduce
from operator import getitem, xor
from typing import NamedTuple

from chaincrawler.errors import ChaincrawlerError


class AddressError(ChaincrawlerError, ValueError):
    """An address (or Base58/Bech32 string) is malformed, fails its checksum, or is for
    another network."""


# --------------------------------------------------------------------------- Base58

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(B58_ALPHABET)}
# All 58**2 two-digit strings: the encoder emits two digits per division.
_B58_PAIRS = [a + b for a in B58_ALPHABET for b in B58_ALPHABET]


def b58encode(data: bytes) -> str:
    """Base58 text of ``data``; each leading zero byte becomes a leading ``1``."""
    body = data.lstrip(b"\0")
    n = int.from_bytes(body, "big")
    pairs: list[str] = []
    while n:
        n, r = divmod(n, 3364)
        pairs.append(_B58_PAIRS[r])
    pairs.reverse()
    return "1" * (len(data) - len(body)) + "".join(pairs).lstrip("1")


def b58decode(text: str) -> bytes:
    """Bytes encoded by the Base58 string ``text``; raises AddressError on a bad character."""
    n = 0
    for i, ch in enumerate(text):
        digit = _B58_INDEX.get(ch)
        if digit is None:
            raise AddressError(f"invalid Base58 character {ch!r} at position {i}")
        n = n * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + n.to_bytes((n.bit_length() + 7) // 8, "big")


def _checksum4(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def base58check_encode(payload: bytes) -> str:
    """Base58Check: Base58 of ``payload`` followed by its 4-byte double-SHA256 checksum."""
    return b58encode(payload + _checksum4(payload))


def base58check_decode(text: str) -> bytes:
    """The payload of a Base58Check string, after verifying its 4-byte checksum."""
    raw = b58decode(text)
    if len(raw) < 4:
        raise AddressError("Base58Check string is too short to hold a checksum")
    payload, checksum = raw[:-4], raw[-4:]
    if _checksum4(payload) != checksum:
        raise AddressError("bad Base58Check checksum")
    return payload


# --------------------------------------------------------------------- Bech32 core

BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(BECH32_CHARSET)}
_GENERATORS = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
# XOR of the generators selected by each 5-bit value of the checksum's top symbol.
_FEEDBACK = [
    reduce(xor, (g for i, g in enumerate(_GENERATORS) if top >> i & 1), 0) for top in range(32)
]
_MAX_LENGTH = 90  # BIP173: the whole string, separator and checksum included


class Bech32Variant(enum.IntEnum):
    """The checksum constant of each Bech32 flavour (BIP173 Bech32, BIP350 Bech32m)."""

    BECH32 = 1
    BECH32M = 0x2BC830A3


_VARIANT_NAMES = {Bech32Variant.BECH32: "Bech32", Bech32Variant.BECH32M: "Bech32m"}


def _polymod(values: Iterable[int], chk: int = 1) -> int:
    for v in values:
        chk = ((chk & 0x1FFFFFF) << 5) ^ v ^ _FEEDBACK[chk >> 25]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _check_hrp(hrp: str) -> None:
    if not 1 <= len(hrp) <= 83:
        raise AddressError(f"Bech32 human-readable part must be 1..83 characters, got {len(hrp)}")
    for ch in hrp:
        if not 33 <= ord(ch) <= 126:
            raise AddressError(f"Bech32 human-readable part has invalid character {ch!r}")


def bech32_encode(hrp: str, data: Sequence[int], variant: Bech32Variant) -> str:
    """Bech32 or Bech32m string of ``hrp`` and ``data`` (5-bit values), in lower case."""
    hrp = hrp.lower()
    _check_hrp(hrp)
    if any(not 0 <= v < 32 for v in data):
        raise AddressError("Bech32 data values must be 5-bit integers (0..31)")
    if len(hrp) + 1 + len(data) + 6 > _MAX_LENGTH:
        raise AddressError(f"Bech32 string would exceed {_MAX_LENGTH} characters")
    chk = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ variant
    checksum = "".join(BECH32_CHARSET[(chk >> 5 * (5 - i)) & 31] for i in range(6))
    return hrp + "1" + "".join(BECH32_CHARSET[v] for v in data) + checksum


def bech32_decode(text: str) -> tuple[str, list[int], Bech32Variant]:
    """Split a Bech32/Bech32m string into (hrp, 5-bit data without checksum, variant).

    Enforces BIP173's rules: at most 90 characters, printable US-ASCII, not mixed
    case, a non-empty hrp, a six-character checksum that verifies.
    """
    if len(text) > _MAX_LENGTH:
        raise AddressError(f"Bech32 string is {len(text)} characters, more than {_MAX_LENGTH}")
    if text.lower() != text and text.upper() != text:
        raise AddressError("Bech32 string mixes upper and lower case")
    text = text.lower()
    sep = text.rfind("1")
    if sep < 0:
        raise AddressError("Bech32 string has no '1' separator")
    if sep == 0:
        raise AddressError("Bech32 string has an empty human-readable part")
    hrp, rest = text[:sep], text[sep + 1 :]
    _check_hrp(hrp)
    if len(rest) < 6:
        raise AddressError("Bech32 checksum is shorter than 6 characters")
    data: list[int] = []
    for i, ch in enumerate(rest, start=sep + 1):
        value = _CHARSET_INDEX.get(ch)
        if value is None:
            raise AddressError(f"invalid Bech32 character {ch!r} at position {i}")
        data.append(value)
    residue = _polymod(data, _polymod(_hrp_expand(hrp)))
    try:
        variant = Bech32Variant(residue)
    except ValueError:
        raise AddressError("invalid Bech32/Bech32m checksum") from None
    return hrp, data[:-6], variant


def _convert_bits(data: Iterable[int], from_bits: int, to_bits: int, pad: bool) -> bytes:
    acc = bits = 0
    out = bytearray()
    mask = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & mask)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & mask)
    elif bits >= from_bits:
        raise AddressError("segwit program has more than 4 bits of padding")
    elif (acc << (to_bits - bits)) & mask:
        raise AddressError("segwit program has non-zero padding bits")
    return bytes(out)


# ------------------------------------------------------------------ segwit addresses


class SegwitAddress(NamedTuple):
    """A decoded segwit address."""

    hrp: str
    version: int
    program: bytes


def _check_program(version: int, program: bytes) -> None:
    if not 0 <= version <= 16:
        raise AddressError(f"invalid witness version {version} (must be 0..16)")
    if not 2 <= len(program) <= 40:
        raise AddressError(f"invalid witness program length {len(program)} (must be 2..40)")
    if version == 0 and len(program) not in (20, 32):
        raise AddressError(f"witness v0 program must be 20 or 32 bytes, got {len(program)}")


def decode_segwit_address(address: str, hrp: str | None = None) -> SegwitAddress:
    """Decode a segwit address (BIP173/BIP350); with ``hrp``, also require that prefix.

    Witness v0 must use Bech32 and v1..v16 Bech32m, as BIP350 requires.
    """
    found_hrp, data, variant = bech32_decode(address)
    if hrp is not None and found_hrp != hrp.lower():
        raise AddressError(f"address prefix is {found_hrp!r}, expected {hrp.lower()!r}")
    if not data:
        raise AddressError("segwit address has an empty data part")
    version = data[0]
    if version > 16:
        raise AddressError(f"invalid witness version {version} (must be 0..16)")
    program = _convert_bits(data[1:], 5, 8, pad=False)
    _check_program(version, program)
    expected = Bech32Variant.BECH32 if version == 0 else Bech32Variant.BECH32M
    if variant is not expected:
        raise AddressError(
            f"witness v{version} address must use {_VARIANT_NAMES[expected]}, "
            f"not {_VARIANT_NAMES[variant]}"
        )
    return SegwitAddress(found_hrp, version, program)


def encode_segwit_address(hrp: str, version: int, program: bytes) -> str:
    """Segwit address of a witness program: Bech32 for v0, Bech32m for v1..v16."""
    _check_program(version, program)
    hrp = hrp.lower()
    _check_hrp(hrp)
    if len(hrp) + 8 + (len(program) * 8 + 4) // 5 > _MAX_LENGTH:
        raise AddressError(f"segwit address would exceed {_MAX_LENGTH} characters")
    return encode_segwit_unchecked(hrp, version, program)


class _Layout(NamedTuple):
    prefix: str  # hrp + "1", and the version character unless `top` carries it
    base: int  # checksum contribution of hrp, version and length, constant folded in
    tables: list[list[int]]  # per byte position: checksum contribution of each value
    top: int  # the version symbol placed above the data, when that evens the symbol count
    shift: int  # where the program's bits go: above the checksum and the zero padding
    pair_shifts: list[int]  # offsets of the 10-bit (two-character) groups, top first


_LAYOUTS: dict[tuple[str, int, int], _Layout] = {}
_BYTE_TABLES: dict[int, list[list[int]]] = {}
_PAIRS = [a + b for a in BECH32_CHARSET for b in BECH32_CHARSET]  # 10-bit value -> 2 chars


def _byte_tables(n_bytes: int) -> list[list[int]]:
    tables = _BYTE_TABLES.get(n_bytes)
    if tables is not None:
        return tables
    n_chars = (n_bytes * 8 + 4) // 5
    steps = n_chars + 6  # data symbols, then six zero symbols for the checksum
    tables = []
    for j in range(n_bytes):
        # A set bit (t=0 is the byte's top bit) lands in symbol s with value 1 << (4 - k);
        # from state 0, its contribution is that value run through the remaining steps.
        per_bit = []
        for t in range(8):
            s, k = divmod(8 * j + t, 5)
            per_bit.append(_polymod([0] * (steps - s - 1), 1 << (4 - k)))
        table = [0] * 256
        for value in range(1, 256):
            low = value & -value
            table[value] = table[value ^ low] ^ per_bit[8 - low.bit_length()]
        tables.append(table)
    _BYTE_TABLES[n_bytes] = tables
    return tables


def _layout(hrp: str, version: int, n_bytes: int) -> _Layout:
    n_chars = (n_bytes * 8 + 4) // 5
    variant = Bech32Variant.BECH32 if version == 0 else Bech32Variant.BECH32M
    base = _polymod([0] * (n_chars + 6), _polymod([*_hrp_expand(hrp), version])) ^ variant
    shift = 5 * n_chars - 8 * n_bytes + 30
    symbols = n_chars + 6
    if symbols % 2:
        prefix, top, symbols = hrp + "1", version << (5 * n_chars + 30), symbols + 1
    else:
        prefix, top = hrp + "1" + BECH32_CHARSET[version], 0
    pair_shifts = list(range(5 * symbols - 10, -1, -10))
    layout = _Layout(prefix, base, _byte_tables(n_bytes), top, shift, pair_shifts)
    _LAYOUTS[(hrp, version, n_bytes)] = layout
    return layout


def encode_segwit_unchecked(hrp: str, version: int, program: bytes) -> str:
    """Hot-path form of :func:`encode_segwit_address` for an already validated program
    (``version`` 0..16, 2..40 bytes) and a lower-case ``hrp``."""
    layout = _LAYOUTS.get((hrp, version, len(program))) or _layout(hrp, version, len(program))
    chk = reduce(xor, map(getitem, layout.tables, program), layout.base)
    bits = layout.top | int.from_bytes(program, "big") << layout.shift | chk
    return layout.prefix + "".join([_PAIRS[bits >> s & 1023] for s in layout.pair_shifts])
