"""Output scripts (scriptPubKey): classification, addresses, OP_RETURN data, asm.

Classification follows Bitcoin Core's ``Solver`` (src/script/solver.cpp), and the
:class:`ScriptType` values are Core's ``scriptPubKey.type`` strings, so results compare
directly with Core's JSON. The common types are recognised from the length and a few
bytes without decoding the script.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import NamedTuple

from chaincrawler.chain.encoding import (
    AddressError,
    base58check_decode,
    base58check_encode,
    decode_segwit_address,
    encode_segwit_unchecked,
)
from chaincrawler.chain.networks import NETWORKS, Network
from chaincrawler.errors import ChainDataError


class ScriptType(enum.StrEnum):
    """Kind of an output script; values are Bitcoin Core's ``scriptPubKey.type``."""

    P2PK = "pubkey"
    P2PKH = "pubkeyhash"
    P2SH = "scripthash"
    P2WPKH = "witness_v0_keyhash"
    P2WSH = "witness_v0_scripthash"
    P2TR = "witness_v1_taproot"
    P2A = "anchor"
    OP_RETURN = "nulldata"
    MULTISIG = "multisig"
    WITNESS_UNKNOWN = "witness_unknown"
    NONSTANDARD = "nonstandard"


OP_0 = 0x00
OP_PUSHDATA1 = 0x4C
OP_PUSHDATA2 = 0x4D
OP_PUSHDATA4 = 0x4E
OP_1NEGATE = 0x4F
OP_1 = 0x51
OP_16 = 0x60
OP_RETURN = 0x6A
OP_DUP = 0x76
OP_EQUAL = 0x87
OP_EQUALVERIFY = 0x88
OP_HASH160 = 0xA9
OP_CHECKSIG = 0xAC
OP_CHECKMULTISIG = 0xAE

_P2PKH_HEAD = bytes((OP_DUP, OP_HASH160, 20))
_P2PKH_TAIL = bytes((OP_EQUALVERIFY, OP_CHECKSIG))
P2A_SCRIPT = bytes.fromhex("51024e73")
_MAX_MULTISIG_KEYS = 20
_MAX_ADDRESS_LENGTH = 100


class ScriptOp(NamedTuple):
    """One decoded script operation: ``data`` is the pushed bytes, None for non-pushes."""

    opcode: int
    data: bytes | None
    offset: int


def iter_script_ops(script: bytes) -> Iterator[ScriptOp]:
    """Decode ``script`` operation by operation.

    Raises ChainDataError (with the offending offset) when a push runs past the end.
    """
    i, end = 0, len(script)
    while i < end:
        start, opcode = i, script[i]
        i += 1
        if opcode > OP_PUSHDATA4:
            yield ScriptOp(opcode, None, start)
            continue
        if opcode < OP_PUSHDATA1:
            size = opcode
        else:
            width = 1 << (opcode - OP_PUSHDATA1)  # 1, 2 or 4 length bytes
            if i + width > end:
                raise ChainDataError("script ends inside a push length", start)
            size = int.from_bytes(script[i : i + width], "little")
            i += width
        if i + size > end:
            raise ChainDataError(f"push of {size} bytes runs past the end of the script", start)
        yield ScriptOp(opcode, script[i : i + size], start)
        i += size


def is_push_only(script: bytes, i: int = 0) -> bool:
    """Core's ``IsPushOnly`` from offset ``i``: only pushes and OP_1NEGATE..OP_16."""
    end = len(script)
    while i < end:
        opcode = script[i]
        i += 1
        if opcode > OP_16:
            return False
        if opcode < OP_PUSHDATA1:
            i += opcode
        elif opcode <= OP_PUSHDATA4:
            width = 1 << (opcode - OP_PUSHDATA1)
            if i + width > end:
                return False
            i += width + int.from_bytes(script[i : i + width], "little")
        if i > end:
            return False
    return True


def _is_pubkey(data: bytes | None) -> bool:
    """Core's ``CPubKey::ValidSize``: a size matching the key's header byte."""
    if not data:
        return False
    size = len(data)
    return (size == 33 and data[0] in (2, 3)) or (size == 65 and data[0] in (4, 6, 7))


def _small_number(op: ScriptOp, low: int, high: int) -> int | None:
    """Core's ``GetScriptNumber``: OP_1..OP_16 or a minimal one-byte push, in [low, high]."""
    if OP_1 <= op.opcode <= OP_16:
        value = op.opcode - (OP_1 - 1)
    elif op.opcode == 1 and op.data is not None and 17 <= op.data[0] <= 0x7F:
        value = op.data[0]  # 1..16 must be OP_n and 0x80+ is negative: both rejected
    else:
        return None
    return value if low <= value <= high else None


def _is_multisig(script: bytes) -> bool:
    """Core's ``MatchMultisig``: <m> <pubkey>... <n> OP_CHECKMULTISIG."""
    if not script or script[-1] != OP_CHECKMULTISIG:
        return False
    try:
        ops = list(iter_script_ops(script))
    except ChainDataError:
        return False
    if len(ops) < 3 or ops[-1].opcode != OP_CHECKMULTISIG:
        return False
    required = _small_number(ops[0], 1, _MAX_MULTISIG_KEYS)
    if required is None:
        return False
    keys = ops[1:-2]
    if not all(_is_pubkey(op.data) for op in keys):
        return False
    return _small_number(ops[-2], required, _MAX_MULTISIG_KEYS) == len(keys)


def _classify_rare(script: bytes) -> ScriptType:
    n = len(script)
    if 4 <= n <= 42 and script[1] + 2 == n and (script[0] == OP_0 or OP_1 <= script[0] <= OP_16):
        # A witness program the fast path did not take: P2A, a future version, or a
        # v0 program of the wrong size.
        if script == P2A_SCRIPT:
            return ScriptType.P2A
        return ScriptType.NONSTANDARD if script[0] == OP_0 else ScriptType.WITNESS_UNKNOWN
    if n and script[0] == OP_RETURN and is_push_only(script, 1):
        return ScriptType.OP_RETURN
    if (n == 67 and script[0] == 65 and script[66] == OP_CHECKSIG and script[1] in (4, 6, 7)) or (
        n == 35 and script[0] == 33 and script[34] == OP_CHECKSIG and script[1] in (2, 3)
    ):
        return ScriptType.P2PK
    if _is_multisig(script):
        return ScriptType.MULTISIG
    return ScriptType.NONSTANDARD


def classify(script: bytes) -> ScriptType:
    """The type of an output script, as Bitcoin Core's ``Solver`` decides it.

    Never raises: anything malformed or truncated is NONSTANDARD.
    """
    n = len(script)
    if n == 22:
        if script[0] == OP_0 and script[1] == 20:
            return ScriptType.P2WPKH
    elif n == 34:
        if script[1] == 32:
            if script[0] == OP_1:
                return ScriptType.P2TR
            if script[0] == OP_0:
                return ScriptType.P2WSH
    elif n == 25:
        if script[:3] == _P2PKH_HEAD and script[23:] == _P2PKH_TAIL:
            return ScriptType.P2PKH
    elif n == 23 and script[0] == OP_HASH160 and script[1] == 20 and script[22] == OP_EQUAL:
        return ScriptType.P2SH
    return _classify_rare(script)


def _address_from_script_py(
    script: bytes, hrp: str, p2pkh_prefix: int, p2sh_prefix: int
) -> str | None:
    """Pure-Python address derivation: the reference the C extension must match."""
    n = len(script)
    if n == 22:
        if script[0] == OP_0 and script[1] == 20:
            return encode_segwit_unchecked(hrp, 0, script[2:])
    elif n == 34:
        if script[1] == 32 and script[0] in (OP_0, OP_1):
            return encode_segwit_unchecked(hrp, 0 if script[0] == OP_0 else 1, script[2:])
    elif n == 25:
        if script[:3] == _P2PKH_HEAD and script[23:] == _P2PKH_TAIL:
            return base58check_encode(bytes((p2pkh_prefix,)) + script[3:23])
    elif n == 23 and script[0] == OP_HASH160 and script[1] == 20 and script[22] == OP_EQUAL:
        return base58check_encode(bytes((p2sh_prefix,)) + script[2:22])
    if 4 <= n <= 42 and script[1] + 2 == n and OP_1 <= script[0] <= OP_16:
        return encode_segwit_unchecked(hrp, script[0] - (OP_1 - 1), script[2:])
    return None


derive_address: Callable[[bytes, str, int, int], str | None]
"""``address_from_script`` with the network's encodings given apart: the C extension's
function when it was built, else :func:`_address_from_script_py`."""
try:
    from chaincrawler.chain._speedups import address_from_script as derive_address
except ImportError:  # installed without a C compiler
    derive_address = _address_from_script_py


def address_from_script(script: bytes, network: Network) -> str | None:
    """The address Bitcoin Core shows for ``script`` on ``network``, or None.

    P2PKH and P2SH give Base58Check addresses; segwit v0 (20/32-byte programs) and
    every v1..v16 program (P2TR, P2A, future versions) give Bech32/Bech32m addresses.
    P2PK, multisig, OP_RETURN and nonstandard scripts have none.
    """
    return derive_address(script, network.bech32_hrp, network.p2pkh_prefix, network.p2sh_prefix)


def _networks_using(matches: list[Network]) -> str:
    return "/".join(n.name for n in matches)


def _segwit_script(version: int, program: bytes) -> bytes:
    return bytes((version + (OP_1 - 1) if version else OP_0, len(program))) + program


def script_from_address(address: str, network: Network) -> bytes:
    """The output script paying to ``address``; the inverse of :func:`address_from_script`.

    Raises AddressError when the address is malformed or belongs to another network.
    As in Bitcoin Core, testnet, testnet4, signet and regtest share Base58 prefixes, and
    the first three also share the ``tb`` Bech32 prefix.
    """
    if len(address) > _MAX_ADDRESS_LENGTH:
        raise AddressError(f"address is {len(address)} characters long; not an address")
    try:
        segwit = decode_segwit_address(address)
    except AddressError as exc:
        segwit_error = exc
    else:
        if segwit.hrp != network.bech32_hrp:
            owners = [n for n in NETWORKS.values() if n.bech32_hrp == segwit.hrp]
            whose = f"a {_networks_using(owners)} address" if owners else "not a Bitcoin address"
            raise AddressError(
                f"{address!r} has prefix {segwit.hrp!r}: {whose}, not a {network.name} one "
                f"(expected prefix {network.bech32_hrp!r})"
            )
        return _segwit_script(segwit.version, segwit.program)

    if address.lower().startswith(network.bech32_hrp + "1"):
        raise AddressError(f"invalid {network.name} segwit address {address!r}: {segwit_error}")
    try:
        payload = base58check_decode(address)
    except AddressError as exc:
        raise AddressError(
            f"{address!r} is not a valid address: not Base58Check ({exc}) "
            f"and not Bech32 ({segwit_error})"
        ) from None
    if len(payload) != 21:
        raise AddressError(
            f"{address!r} holds {len(payload)} bytes; an address holds 21 "
            "(a version byte and a 20-byte hash)"
        )
    version, digest = payload[0], payload[1:]
    if version == network.p2pkh_prefix:
        return _P2PKH_HEAD + digest + _P2PKH_TAIL
    if version == network.p2sh_prefix:
        return bytes((OP_HASH160, 20)) + digest + bytes((OP_EQUAL,))
    owners = [n for n in NETWORKS.values() if version in (n.p2pkh_prefix, n.p2sh_prefix)]
    if owners:
        raise AddressError(
            f"{address!r} is a {_networks_using(owners)} address, not a {network.name} one"
        )
    raise AddressError(f"{address!r} has unknown Base58 version byte {version:#04x}")


def op_return_data(script: bytes) -> bytes | None:
    """The bytes pushed by an OP_RETURN (nulldata) output, concatenated; None otherwise.

    Each push contributes what it leaves on the stack, so OP_1..OP_16 give one byte
    (1..16) and OP_1NEGATE gives 0x81: for any ``data``,
    ``op_return_data(b"\\x6a" + push_data(data)) == data``.
    """
    if not script or script[0] != OP_RETURN or not is_push_only(script, 1):
        return None
    parts: list[bytes] = []
    for op in iter_script_ops(script[1:]):
        if op.data is not None:
            parts.append(op.data)
        elif OP_1 <= op.opcode <= OP_16:
            parts.append(bytes((op.opcode - (OP_1 - 1),)))
        elif op.opcode == OP_1NEGATE:
            parts.append(b"\x81")
    return b"".join(parts)


def push_data(data: bytes) -> bytes:
    """The minimal script push of ``data`` (BIP62): OP_0, OP_1..OP_16 and OP_1NEGATE for
    the values they stand for, then direct pushes, OP_PUSHDATA1/2/4."""
    size = len(data)
    if size == 0:
        return bytes((OP_0,))
    if size == 1:
        if 1 <= data[0] <= 16:
            return bytes((data[0] + (OP_1 - 1),))
        if data[0] == 0x81:
            return bytes((OP_1NEGATE,))
    if size < OP_PUSHDATA1:
        return bytes((size,)) + data
    if size <= 0xFF:
        return bytes((OP_PUSHDATA1, size)) + data
    if size <= 0xFFFF:
        return bytes((OP_PUSHDATA2,)) + size.to_bytes(2, "little") + data
    return bytes((OP_PUSHDATA4,)) + size.to_bytes(4, "little") + data


# Names Core's GetOpName gives; small numbers are written as digits in asm.
_OP_NAMES: dict[int, str] = {
    0x4C: "OP_PUSHDATA1", 0x4D: "OP_PUSHDATA2", 0x4E: "OP_PUSHDATA4", 0x4F: "-1",
    0x50: "OP_RESERVED", 0x61: "OP_NOP", 0x62: "OP_VER", 0x63: "OP_IF", 0x64: "OP_NOTIF",
    0x65: "OP_VERIF", 0x66: "OP_VERNOTIF", 0x67: "OP_ELSE", 0x68: "OP_ENDIF",
    0x69: "OP_VERIFY", 0x6A: "OP_RETURN", 0x6B: "OP_TOALTSTACK", 0x6C: "OP_FROMALTSTACK",
    0x6D: "OP_2DROP", 0x6E: "OP_2DUP", 0x6F: "OP_3DUP", 0x70: "OP_2OVER", 0x71: "OP_2ROT",
    0x72: "OP_2SWAP", 0x73: "OP_IFDUP", 0x74: "OP_DEPTH", 0x75: "OP_DROP", 0x76: "OP_DUP",
    0x77: "OP_NIP", 0x78: "OP_OVER", 0x79: "OP_PICK", 0x7A: "OP_ROLL", 0x7B: "OP_ROT",
    0x7C: "OP_SWAP", 0x7D: "OP_TUCK", 0x7E: "OP_CAT", 0x7F: "OP_SUBSTR", 0x80: "OP_LEFT",
    0x81: "OP_RIGHT", 0x82: "OP_SIZE", 0x83: "OP_INVERT", 0x84: "OP_AND", 0x85: "OP_OR",
    0x86: "OP_XOR", 0x87: "OP_EQUAL", 0x88: "OP_EQUALVERIFY", 0x89: "OP_RESERVED1",
    0x8A: "OP_RESERVED2", 0x8B: "OP_1ADD", 0x8C: "OP_1SUB", 0x8D: "OP_2MUL",
    0x8E: "OP_2DIV", 0x8F: "OP_NEGATE", 0x90: "OP_ABS", 0x91: "OP_NOT",
    0x92: "OP_0NOTEQUAL", 0x93: "OP_ADD", 0x94: "OP_SUB", 0x95: "OP_MUL", 0x96: "OP_DIV",
    0x97: "OP_MOD", 0x98: "OP_LSHIFT", 0x99: "OP_RSHIFT", 0x9A: "OP_BOOLAND",
    0x9B: "OP_BOOLOR", 0x9C: "OP_NUMEQUAL", 0x9D: "OP_NUMEQUALVERIFY",
    0x9E: "OP_NUMNOTEQUAL", 0x9F: "OP_LESSTHAN", 0xA0: "OP_GREATERTHAN",
    0xA1: "OP_LESSTHANOREQUAL", 0xA2: "OP_GREATERTHANOREQUAL", 0xA3: "OP_MIN",
    0xA4: "OP_MAX", 0xA5: "OP_WITHIN", 0xA6: "OP_RIPEMD160", 0xA7: "OP_SHA1",
    0xA8: "OP_SHA256", 0xA9: "OP_HASH160", 0xAA: "OP_HASH256", 0xAB: "OP_CODESEPARATOR",
    0xAC: "OP_CHECKSIG", 0xAD: "OP_CHECKSIGVERIFY", 0xAE: "OP_CHECKMULTISIG",
    0xAF: "OP_CHECKMULTISIGVERIFY", 0xB0: "OP_NOP1", 0xB1: "OP_CHECKLOCKTIMEVERIFY",
    0xB2: "OP_CHECKSEQUENCEVERIFY", 0xB3: "OP_NOP4", 0xB4: "OP_NOP5", 0xB5: "OP_NOP6",
    0xB6: "OP_NOP7", 0xB7: "OP_NOP8", 0xB8: "OP_NOP9", 0xB9: "OP_NOP10",
    0xBA: "OP_CHECKSIGADD", 0xFF: "OP_INVALIDOPCODE",
}  # fmt: skip
_OP_NAMES.update({op: str(op - (OP_1 - 1)) for op in range(OP_1, OP_16 + 1)})


def _asm_number(data: bytes) -> int:
    """CScriptNum of up to 4 bytes: little-endian magnitude, sign in the top bit."""
    if not data:
        return 0
    value = int.from_bytes(data, "little")
    sign_bit = 0x80 << (8 * (len(data) - 1))
    return -(value & ~sign_bit) if value & sign_bit else value


def script_to_asm(script: bytes) -> str:
    """The script in Bitcoin Core's ``asm`` notation (as for a ``scriptPubKey``).

    Pushes of up to 4 bytes are shown as numbers, longer ones in hex; a truncated push
    ends the text with ``[error]``, as Core does.
    """
    words: list[str] = []
    try:
        for op in iter_script_ops(script):
            if op.data is None:
                words.append(_OP_NAMES.get(op.opcode, "OP_UNKNOWN"))
            elif len(op.data) <= 4:
                words.append(str(_asm_number(op.data)))
            else:
                words.append(op.data.hex())
    except ChainDataError:
        words.append("[error]")
    return " ".join(words)
