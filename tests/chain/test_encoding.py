"""Base58Check and Bech32/Bech32m encodings, against the published test vectors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaincrawler.chain.encoding import (
    AddressError,
    Bech32Variant,
    SegwitAddress,
    b58decode,
    b58encode,
    base58check_decode,
    base58check_encode,
    bech32_decode,
    bech32_encode,
    decode_segwit_address,
    encode_segwit_address,
)
from chaincrawler.errors import ChaincrawlerError

# Bitcoin Core, src/test/data/base58_encode_decode.json
BASE58_VECTORS = [
    ("", ""),
    ("61", "2g"),
    ("626262", "a3gV"),
    ("636363", "aPEr"),
    ("73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2"),
    ("00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"),
    ("516b6fcd0f", "ABnLTmg"),
    ("bf4f89001e670274dd", "3SEo3LWLoPntC"),
    ("572e4794", "3EFU7m"),
    ("ecac89cad93923c02321", "EJDM8drfXA6uyA"),
    ("10c8511e", "Rt5zm"),
    ("00000000000000000000", "1111111111"),
    ("00" * 39 + "01", "1" * 39 + "2"),
    (
        "000111d38e5fc9071ffcd20b4a763cc9ae4f252bb4e48fd66a835e252ada93ff480d6dd43dc62a641155a5",
        "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz",
    ),
    ("271F359E", "zzzzy"),
    ("271F359F", "zzzzz"),
    ("271F35A0", "211111"),
    ("271F35A1", "211112"),
]


@pytest.mark.parametrize(("hex_data", "text"), BASE58_VECTORS)
def test_base58_vectors(hex_data, text):
    assert b58encode(bytes.fromhex(hex_data)) == text
    assert b58decode(text) == bytes.fromhex(hex_data)


@pytest.mark.parametrize("text", ["0OIl", "abc0", "1 2", "é"])
def test_base58_rejects_characters_outside_the_alphabet(text):
    with pytest.raises(AddressError, match="invalid Base58 character"):
        b58decode(text)


def test_base58check_round_trip_and_known_address():
    # Bitcoin Core, src/test/data/key_io_valid.json: mainnet P2PKH
    payload = bytes.fromhex("00a31c06bd463e3923bc1aadbde48b16976c080717")
    assert base58check_encode(payload) == "1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo"
    assert base58check_decode("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo") == payload


def test_base58check_rejects_a_bad_checksum():
    with pytest.raises(AddressError, match="checksum"):
        base58check_decode("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mp")
    with pytest.raises(AddressError, match="too short"):
        base58check_decode("2g")


def test_address_error_is_a_chaincrawler_value_error():
    with pytest.raises(ChaincrawlerError):
        base58check_decode("")
    with pytest.raises(ValueError):
        bech32_decode("")


@given(st.binary(max_size=64))
def test_base58check_round_trips_any_payload(payload):
    assert base58check_decode(base58check_encode(payload)) == payload


# BIP173 "Test vectors": valid Bech32 strings (bitcoin/bips, bip-0173.mediawiki)
BECH32_VALID = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]
# BIP350 "Test vectors for Bech32m" (bitcoin/bips, bip-0350.mediawiki)
BECH32M_VALID = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]


@pytest.mark.parametrize(
    ("text", "variant"),
    [(s, Bech32Variant.BECH32) for s in BECH32_VALID]
    + [(s, Bech32Variant.BECH32M) for s in BECH32M_VALID],
)
def test_bech32_valid_strings_decode_and_reencode(text, variant):
    hrp, data, found = bech32_decode(text)
    assert found is variant
    assert bech32_encode(hrp, data, variant) == text.lower()


# Invalid strings of BIP173 and BIP350, with the reason the BIP gives.
BECH32_INVALID = [
    ("\x201nwldj5", "HRP character out of range"),
    ("\x7f1axkwrx", "HRP character out of range"),
    ("\x801eym55h", "HRP character out of range"),
    (
        "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
        "overall max length exceeded",
    ),
    ("pzry9x0s0muk", "no separator"),
    ("1pzry9x0s0muk", "empty HRP"),
    ("x1b4n0q5v", "invalid data character"),
    ("li1dgmt3", "too short checksum"),
    ("de1lg7wt\xff", "invalid character in checksum"),
    ("A1G7SGD8", "checksum calculated with uppercase form of HRP"),
    ("10a06t8", "empty HRP"),
    ("1qzzfhee", "empty HRP"),
    ("\x201xj0phk", "HRP character out of range"),
    ("\x7f1g6xzxy", "HRP character out of range"),
    ("\x801vctc34", "HRP character out of range"),
    (
        "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
        "overall max length exceeded",
    ),
    ("qyrz8wqd2c9m", "no separator"),
    ("1qyrz8wqd2c9m", "empty HRP"),
    ("y1b0jsk6g", "invalid data character"),
    ("lt1igcx5c0", "invalid data character"),
    ("in1muywd", "too short checksum"),
    ("mm1crxm3i", "invalid character in checksum"),
    ("au1s5cgom", "invalid character in checksum"),
    ("M1VUXWEZ", "checksum calculated with uppercase form of HRP"),
    ("16plkw9", "empty HRP"),
    ("1p2gdwpf", "empty HRP"),
]


@pytest.mark.parametrize(("text", "reason"), BECH32_INVALID)
def test_bech32_invalid_strings_are_rejected(text, reason):
    with pytest.raises(AddressError):
        bech32_decode(text)


def test_bech32_error_messages_say_what_is_wrong():
    with pytest.raises(AddressError, match="mixes upper and lower case"):
        bech32_decode("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7")
    with pytest.raises(AddressError, match="checksum"):
        bech32_decode("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5")
    with pytest.raises(AddressError, match="no '1' separator"):
        bech32_decode("pzry9x0s0muk")


# BIP350 "Test vectors for v0-v16 native segregated witness addresses"
SEGWIT_VALID = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
    ),
    ("BC1SW50QGDZ25J", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    ),
]


def _program_of(script_hex):
    script = bytes.fromhex(script_hex)
    version = 0 if script[0] == 0 else script[0] - 0x50
    return version, script[2:]


@pytest.mark.parametrize(("address", "script_hex"), SEGWIT_VALID)
def test_segwit_valid_addresses(address, script_hex):
    version, program = _program_of(script_hex)
    hrp = address[:2].lower()
    assert decode_segwit_address(address) == SegwitAddress(hrp, version, program)
    assert decode_segwit_address(address, hrp=hrp).program == program
    assert encode_segwit_address(hrp, version, program) == address.lower()


SEGWIT_INVALID = [
    # BIP350
    "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",  # invalid hrp
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",  # Bech32 for v1
    "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",  # Bech32 for v2
    "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",  # Bech32 for v16
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",  # Bech32m for v0
    "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",  # Bech32m for v0
    "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",  # bad checksum char
    "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",  # witness version 17
    "bc1pw5dgrnzv",  # 1-byte program
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",  # 41 bytes
    "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",  # 16-byte v0 program
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",  # mixed case
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",  # >4 bits padding
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",  # non-zero padding
    "bc1gmk9yu",  # empty data
    # BIP173 (the v1+ Bech32 ones are valid BIP173 but invalid since BIP350)
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",  # bad checksum
    "BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2",  # witness version 17
    "bc1rw5uspcuh",  # 1-byte program
    "bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90",  # 41 bytes
    "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7",  # mixed case
    "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du",  # >4 bits padding
    "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv",  # non-zero padding
    "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx",  # Bech32 v1
    "BC1SW50QA3JX3S",  # Bech32 for v16
    "bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj",  # Bech32 for v2
]


@pytest.mark.parametrize("address", SEGWIT_INVALID)
def test_segwit_invalid_addresses_are_rejected(address):
    with pytest.raises(AddressError):
        hrp = "tb" if address.lower().startswith("tb") else "bc"
        decode_segwit_address(address, hrp=hrp)


def test_segwit_decoding_explains_the_variant_rule():
    with pytest.raises(AddressError, match="witness v1 address must use Bech32m, not Bech32"):
        decode_segwit_address("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd")
    with pytest.raises(AddressError, match="expected 'bc'"):
        decode_segwit_address(SEGWIT_VALID[1][0], "bc")


@pytest.mark.parametrize(
    ("version", "program", "message"),
    [
        (17, b"\x00" * 20, "witness version"),
        (1, b"\x00", "program length"),
        (1, b"\x00" * 41, "program length"),
        (0, b"\x00" * 21, "v0 program must be 20 or 32 bytes"),
    ],
)
def test_segwit_encoding_rejects_invalid_programs(version, program, message):
    with pytest.raises(AddressError, match=message):
        encode_segwit_address("bc", version, program)


def _reference_encode(hrp, version, program):
    """The textbook BIP173 encoder: convert 8->5 bits, then the generic Bech32 encoder."""
    bits = "".join(f"{b:08b}" for b in program)
    bits += "0" * (-len(bits) % 5)
    data = [version] + [int(bits[i : i + 5], 2) for i in range(0, len(bits), 5)]
    variant = Bech32Variant.BECH32 if version == 0 else Bech32Variant.BECH32M
    return bech32_encode(hrp, data, variant)


@st.composite
def witness_programs(draw):
    version = draw(st.integers(0, 16))
    size = draw(st.sampled_from([20, 32]) if version == 0 else st.integers(2, 40))
    return version, draw(st.binary(min_size=size, max_size=size))


@given(st.sampled_from(["bc", "tb", "bcrt"]), witness_programs())
def test_fast_segwit_encoder_matches_the_textbook_encoder(hrp, version_program):
    version, program = version_program
    address = encode_segwit_address(hrp, version, program)
    assert address == _reference_encode(hrp, version, program)
    assert decode_segwit_address(address) == SegwitAddress(hrp, version, program)
