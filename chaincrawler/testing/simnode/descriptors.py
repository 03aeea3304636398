"""Output descriptors as far as the simulated node needs them.

``raw(HEX)`` and ``addr(ADDRESS)`` are parsed (``getdescriptorinfo``,
``generatetodescriptor``, ``generateblock``); every scriptPubKey gets the descriptor
Core's ``InferDescriptor`` shows in its ``desc`` field (``addr()``, ``raw()``,
``rawtr()``, ``pk()``, ``multi()``), with the BIP380 checksum.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from chaincrawler.chain.encoding import AddressError
from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.script import (
    ScriptType,
    address_from_script,
    classify,
    iter_script_ops,
    script_from_address,
)
from chaincrawler.errors import ChaincrawlerError

_INPUT_CHARSET = (
    "0123456789()[],'/*abcdefgh@:$%{}"
    "IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~"
    "ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "
)
_CHECKSUM_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATORS = (0xF5DEE51989, 0xA9FDCA3312, 0x1BAB10E32D, 0x3706B1677A, 0x644D626FFD)
_SECP256K1_P = 2**256 - 2**32 - 977


class DescriptorError(ChaincrawlerError, ValueError):
    """A descriptor string is malformed or not one the simulated node supports."""


@dataclass(frozen=True, slots=True)
class ParsedDescriptor:
    """A parsed top-level descriptor: its canonical text (no checksum) and its script."""

    text: str
    script: bytes

    @property
    def checksum(self) -> str:
        return descriptor_checksum(self.text)

    @property
    def with_checksum(self) -> str:
        return f"{self.text}#{self.checksum}"


def _polymod(symbols: list[int]) -> int:
    chk = 1
    for value in symbols:
        top = chk >> 35
        chk = ((chk & 0x7FFFFFFFF) << 5) ^ value
        for i, gen in enumerate(_GENERATORS):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def descriptor_checksum(text: str) -> str:
    """The 8-character BIP380 checksum of a descriptor without its ``#...`` suffix."""
    symbols: list[int] = []
    groups: list[int] = []
    for ch in text:
        pos = _INPUT_CHARSET.find(ch)
        if pos < 0:
            raise DescriptorError("Invalid characters in payload")
        symbols.append(pos & 31)
        groups.append(pos >> 5)
        if len(groups) == 3:
            symbols.append(groups[0] * 9 + groups[1] * 3 + groups[2])
            groups = []
    if len(groups) == 1:
        symbols.append(groups[0])
    elif len(groups) == 2:
        symbols.append(groups[0] * 3 + groups[1])
    checksum = _polymod([*symbols, 0, 0, 0, 0, 0, 0, 0, 0]) ^ 1
    return "".join(_CHECKSUM_CHARSET[(checksum >> (5 * (7 - i))) & 31] for i in range(8))


def _split_checksum(desc: str) -> str:
    """Check the optional ``#checksum`` as Core's ``CheckChecksum`` does; return the body."""
    parts = desc.split("#")
    if len(parts) > 2:
        raise DescriptorError("Multiple '#' symbols")
    body = parts[0]
    if len(parts) == 2:
        given = parts[1]
        if len(given) != 8:
            raise DescriptorError(
                f"Expected 8 character checksum, not {len(given)} characters"
            )
        computed = descriptor_checksum(body)
        if given != computed:
            raise DescriptorError(
                f"Provided checksum '{given}' does not match computed checksum '{computed}'"
            )
    else:
        descriptor_checksum(body)  # rejects characters outside the descriptor charset
    return body


def parse_descriptor(desc: str) -> ParsedDescriptor:
    """Parse a ``raw()`` or ``addr()`` descriptor (checksum optional) on regtest."""
    body = _split_checksum(desc)
    func, _, rest = body.partition("(")
    if not rest.endswith(")"):
        raise DescriptorError(f"'{body}' is not a valid descriptor function")
    arg = rest[:-1]
    if func == "raw":
        try:
            script = bytes.fromhex(arg)
        except ValueError:
            raise DescriptorError("Raw script is not hex") from None
        if len(arg) % 2 or not arg:
            raise DescriptorError("Raw script is not hex")
        return ParsedDescriptor(f"raw({arg.lower()})", script)
    if func == "addr":
        try:
            script = script_from_address(arg, REGTEST)
        except AddressError:
            raise DescriptorError("Address is not valid") from None
        return ParsedDescriptor(f"addr({arg})", script)
    raise DescriptorError(f"'{func}' is not a valid descriptor function")


def _is_valid_xonly(key: bytes) -> bool:
    x = int.from_bytes(key, "big")
    if x >= _SECP256K1_P:
        return False
    rhs = (pow(x, 3, _SECP256K1_P) + 7) % _SECP256K1_P
    return pow(rhs, (_SECP256K1_P - 1) // 2, _SECP256K1_P) == 1


def _infer_body(script: bytes) -> str:
    kind = classify(script)
    if kind is ScriptType.P2TR and _is_valid_xonly(script[2:]):
        return f"rawtr({script[2:].hex()})"
    if kind is ScriptType.P2PK and script[1] in (2, 3, 4):
        return f"pk({script[1:-1].hex()})"
    if kind is ScriptType.MULTISIG:
        ops = list(iter_script_ops(script))
        keys = [op.data for op in ops[1:-2] if op.data is not None]
        if all(k[0] in (2, 3, 4) for k in keys):
            required = ops[0].opcode - 0x50 if ops[0].data is None else ops[0].data[0]
            return "multi(" + ",".join([str(required), *(k.hex() for k in keys)]) + ")"
    address = address_from_script(script, REGTEST)
    if address is not None:
        return f"addr({address})"
    return f"raw({script.hex()})"


@lru_cache(maxsize=65536)
def infer_descriptor(script: bytes) -> str:
    """The ``desc`` Core shows for a scriptPubKey it has no keys for, with checksum."""
    body = _infer_body(script)
    return f"{body}#{descriptor_checksum(body)}"


def descriptor_info(desc: str) -> dict[str, object]:
    """The ``getdescriptorinfo`` result for a ``raw()`` or ``addr()`` descriptor."""
    parsed = parse_descriptor(desc)
    return {
        "descriptor": parsed.with_checksum,
        "checksum": parsed.checksum,
        "isrange": False,
        "issolvable": False,
        "hasprivatekeys": False,
    }
