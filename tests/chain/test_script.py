"""Output script classification, addresses, OP_RETURN data and asm, checked against
Bitcoin Core (its test data and replies it recorded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaincrawler.chain.encoding import AddressError, base58check_encode
from chaincrawler.chain.networks import MAINNET, NETWORKS, REGTEST, SIGNET, TESTNET, get_network
from chaincrawler.chain.script import (
    P2A_SCRIPT,
    ScriptOp,
    ScriptType,
    address_from_script,
    classify,
    iter_script_ops,
    op_return_data,
    push_data,
    script_from_address,
    script_to_asm,
)
from chaincrawler.errors import ChainDataError
from chaincrawler.testing.recorded import CORE_REPLIES

ALL_NETWORKS = list(NETWORKS.values())

# The genesis coinbase output's uncompressed key, and a compressed key (secp256k1's G).
PUBKEY65 = bytes.fromhex(
    "04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e5"
    "1ec112de5c384df7ba0b8d578a4c702b6bf11d5f"
)
PUBKEY33 = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
H20 = bytes(range(20))
H32 = bytes(range(32))


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def multisig(m: int, keys: list[bytes], n: int | None = None) -> bytes:
    body = b"".join(push_data(k) for k in keys)
    return push_data(bytes((m,))) + body + push_data(bytes((n or len(keys),))) + b"\xae"


CLASSIFIED = [
    # the common types
    (b"\x41" + PUBKEY65 + b"\xac", ScriptType.P2PK),
    (b"\x21" + PUBKEY33 + b"\xac", ScriptType.P2PK),
    (h("76a914") + H20 + h("88ac"), ScriptType.P2PKH),
    (h("a914") + H20 + h("87"), ScriptType.P2SH),
    (h("0014") + H20, ScriptType.P2WPKH),
    (h("0020") + H32, ScriptType.P2WSH),
    (h("5120") + H32, ScriptType.P2TR),
    (P2A_SCRIPT, ScriptType.P2A),
    # nulldata: OP_RETURN followed by pushes only (OP_1..OP_16, OP_1NEGATE count as pushes)
    (h("6a"), ScriptType.OP_RETURN),
    (h("6a00"), ScriptType.OP_RETURN),
    (h("6a0568656c6c6f"), ScriptType.OP_RETURN),
    (h("6a5d0b00c0a2330380cab5ee0101"), ScriptType.OP_RETURN),  # runes: OP_RETURN OP_13 push
    (h("6a4f60"), ScriptType.OP_RETURN),
    (h("6a4c0401020304"), ScriptType.OP_RETURN),
    (h("6a4d0300aabbcc"), ScriptType.OP_RETURN),
    (h("6a4e01000000ff"), ScriptType.OP_RETURN),
    # bare multisig
    (multisig(1, [PUBKEY33]), ScriptType.MULTISIG),
    (multisig(2, [PUBKEY33, PUBKEY65, PUBKEY33]), ScriptType.MULTISIG),
    (multisig(17, [PUBKEY33] * 17), ScriptType.MULTISIG),  # counts 17+ are 1-byte pushes
    (multisig(20, [PUBKEY33] * 20), ScriptType.MULTISIG),
    # future witness versions and odd-sized v1 programs
    (h("5210") + H20[:16], ScriptType.WITNESS_UNKNOWN),
    (h("6002751e"), ScriptType.WITNESS_UNKNOWN),
    (h("5114") + H20, ScriptType.WITNESS_UNKNOWN),
    (h("5128") + H20 * 2, ScriptType.WITNESS_UNKNOWN),
    (h("5220") + H32, ScriptType.WITNESS_UNKNOWN),
    (h("51024e74"), ScriptType.WITNESS_UNKNOWN),  # one byte away from P2A
    # nonstandard
    (b"", ScriptType.NONSTANDARD),
    (h("00"), ScriptType.NONSTANDARD),
    (h("51"), ScriptType.NONSTANDARD),
    (h("0015") + H20 + b"\x00", ScriptType.NONSTANDARD),  # v0 program of 21 bytes
    (h("0010") + H20[:16], ScriptType.NONSTANDARD),  # v0 program of 16 bytes
    (h("5101ff"), ScriptType.NONSTANDARD),  # 1-byte program
    (h("5129") + bytes(41), ScriptType.NONSTANDARD),  # 41-byte program
    (h("6a4c"), ScriptType.NONSTANDARD),  # truncated PUSHDATA1 length
    (h("6a4d01"), ScriptType.NONSTANDARD),  # truncated PUSHDATA2 length
    (h("6a05aabb"), ScriptType.NONSTANDARD),  # push runs past the end
    (h("6a4c05aabb"), ScriptType.NONSTANDARD),
    (h("6a76"), ScriptType.NONSTANDARD),  # OP_RETURN OP_DUP
    (h("6a0161"), ScriptType.OP_RETURN),
    (h("76a914") + H20 + h("88"), ScriptType.NONSTANDARD),  # P2PKH cut short
    (h("76a914") + H20 + h("88ad"), ScriptType.NONSTANDARD),
    (h("a914") + H20 + h("88"), ScriptType.NONSTANDARD),
    (h("a9") + H20 + h("87"), ScriptType.NONSTANDARD),
    (b"\x41" + b"\x05" + PUBKEY65[1:] + b"\xac", ScriptType.NONSTANDARD),  # bad key header
    (b"\x21" + b"\x04" + PUBKEY33[1:] + b"\xac", ScriptType.NONSTANDARD),
    (b"\x21" + PUBKEY33 + b"\xad", ScriptType.NONSTANDARD),
    (b"\x21" + PUBKEY33, ScriptType.NONSTANDARD),
    (h("ae"), ScriptType.NONSTANDARD),
    (h("5151ae"), ScriptType.NONSTANDARD),  # 1-of-1 with no key
    (multisig(3, [PUBKEY33, PUBKEY33]), ScriptType.NONSTANDARD),  # m > n
    (multisig(1, [PUBKEY33, PUBKEY33], n=3), ScriptType.NONSTANDARD),  # n != key count
    (h("00") + push_data(PUBKEY33) + h("51ae"), ScriptType.NONSTANDARD),  # m = 0
    (h("0101") + push_data(PUBKEY33) + h("51ae"), ScriptType.NONSTANDARD),  # non-minimal m
    (multisig(1, [PUBKEY33[:32]]), ScriptType.NONSTANDARD),  # 32-byte "key"
    (multisig(21, [PUBKEY33] * 21), ScriptType.NONSTANDARD),  # over 20 keys
    (push_data(b"\x01") + push_data(PUBKEY33) + h("51ae00"), ScriptType.NONSTANDARD),
    (h("51") + push_data(PUBKEY33) + h("5101ae"), ScriptType.NONSTANDARD),  # ends in a push
]


@pytest.mark.parametrize(("script", "expected"), CLASSIFIED, ids=lambda v: str(v)[:40])
def test_classify(script, expected):
    assert classify(script) is expected


def test_script_type_values_are_cores_type_strings():
    assert [t.value for t in ScriptType] == [
        "pubkey",
        "pubkeyhash",
        "scripthash",
        "witness_v0_keyhash",
        "witness_v0_scripthash",
        "witness_v1_taproot",
        "anchor",
        "nulldata",
        "multisig",
        "witness_unknown",
        "nonstandard",
    ]
    assert ScriptType("witness_v0_keyhash") is ScriptType.P2WPKH
    assert f"{ScriptType.P2TR}" == "witness_v1_taproot"


def test_every_truncation_of_a_standard_script_is_handled():
    for script, _ in CLASSIFIED:
        for cut in range(len(script)):
            classify(script[:cut])
            address_from_script(script[:cut], MAINNET)
            op_return_data(script[:cut])
            script_to_asm(script[:cut])


# ----------------------------------------------------------------------- addresses

# Bitcoin Core, src/test/data/key_io_valid.json: the address entries (not private keys).
CORE_KEY_IO_VALID = [
    (
        "1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo",
        "76a914a31c06bd463e3923bc1aadbde48b16976c08071788ac",
        "main",
    ),
    (
        "36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm",
        "a914373b819a068f32b7a6b38b6b38729647cfde01c287",
        "main",
    ),
    (
        "mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ",
        "76a914ce28b26c57472737f5c3561a1761185bd8589a4388ac",
        "testnet4",
    ),
    (
        "2NC2hEhe28ULKAJkW5MjZ3jtTMJdvXmByvK",
        "a914ce0bba75891ff9ec60148d4bd4a09ee2dc5c933187",
        "testnet4",
    ),
    (
        "mww4LvqtTMKvmeQvizPz2EQv26xTneWrbg",
        "76a914b4110ba93ac54afc14da3bdd19614774a2d55d2988ac",
        "signet",
    ),
    (
        "2N1r7aC69VHeE7yQJPDLi9T1PYq4wnwvjuT",
        "a9145e5a35ab44b3efaea5129ba22b88ba3e2976614587",
        "signet",
    ),
    (
        "n4fajahJrAuKbN7uNsKjLjQkz9Qn5ewJXQ",
        "76a914fdeca3b08e38af53d7c4c60e3ad208ce5066441088ac",
        "regtest",
    ),
    (
        "2MxFajLApXpYk4VodBSZSt7rw8y4ryABkfA",
        "a91436e9f191e0b75036a77f65e2eaa4752443233fbe87",
        "regtest",
    ),
    (
        "bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv",
        "00146100fc6343edc8c874496cb2f5bbfec88ea9b77c",
        "main",
    ),
    (
        "bc1qyucykdlhp62tezs0hagqury402qwhk589q80tqs5myh3rxq34nwqhkdhv7",
        "002027304b37f70e94bc8a0fbf500e0c957a80ebda87280ef58214d92f119811acdc",
        "main",
    ),
    (
        "bc1p83n3au0rjylefxq2nc2xh2y4jzz4pm6zxj4mw5pagdjjr2a9f36s6jjnnu",
        "51203c671ef1e3913f94980a9e146ba895908550ef4234abb7503d436521aba54c75",
        "main",
    ),
    ("bc1z2rksukkjr8", "520250ed", "main"),
    (
        "tb1qcrh3yqn4nlleplcez2yndq2ry8h9ncg3qh7n54",
        "0014c0ef1202759fff90ff19128936814321ee59e111",
        "testnet4",
    ),
    (
        "tb1quyl9ujpgwr2chdzdnnalen48sup245vdfnh2jxhsuq3yx80rrwlq5hqfe4",
        "0020e13e5e482870d58bb44d9cfbfccea78702aad18d4ceea91af0e022431de31bbe",
        "testnet4",
    ),
    (
        "tb1p35n52jy6xkm4wd905tdy8qtagrn73kqdz73xe4zxpvq9t3fp50aqk3s6gz",
        "51208d2745489a35b75734afa2da43817d40e7e8d80d17a26cd4460b0055c521a3fa",
        "testnet4",
    ),
    ("tb1rgv5m6uvdk3kc7qsuz0c79v88ycr5w4wa", "53104329bd718db46d8f021c13f1e2b0e726", "testnet4"),
    (
        "tb1q3vya2h5435jkugq2few7dmktlrwq4ejmfaw7kr",
        "00148b09d55e958d256e200a4e5de6eecbf8dc0ae65b",
        "signet",
    ),
    (
        "tb1qxkhrl2s6ttrclckldruea0e8anhrehffl8xv7t0pdyrzm08v2hyqy408nf",
        "002035ae3faa1a5ac78fe2df68f99ebf27ecee3cdd29f9cccf2de169062dbcec55c8",
        "signet",
    ),
    (
        "tb1pae5um27ahn8n73pgexe3kcwlp8dhswpn684h2k2w6t9a7w3eq65qephd5y",
        "5120ee69cdabddbccf3f4428c9b31b61df09db783833d1eb75594ed2cbdf3a3906a8",
        "signet",
    ),
    (
        "tb1rx9n9g37az8mu236e5jpxdt0m67y4fuq8rhs0ss3djnm0kscfrwvq0ntlyg",
        "532031665447dd11f7c54759a48266adfbd78954f0071de0f8422d94f6fb43091b98",
        "signet",
    ),
    (
        "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9",
        "00146f58bac9506f9bfb821d62e69330410bb56f0085",
        "regtest",
    ),
    (
        "bcrt1qan8gntac7z7me2ejt4hpru42ad2f759fmy0m3ejvs98656znv7eqga4uhv",
        "0020ecce89afb8f0bdbcab325d6e11f2aaeb549f50a9d91fb8e64c814faa685367b2",
        "regtest",
    ),
    (
        "bcrt1pfwxjqvtt4tcxrtdluukfmy2dv7xd2qzdfy6kajv5nwn4yam3wxkq3553uh",
        "51204b8d20316baaf061adbfe72c9d914d678cd5004d49356ec9949ba752777171ac",
        "regtest",
    ),
    (
        "bcrt1sx6p8njlx7h9mc2agz4yg82dzne23050ncq72cneeecez2pst8mahn8xecsf8g6hzx94420",
        "6028368279cbe6f5cbbc2ba8154883a9a29e5517d1f3c03cac4f39ce3225060b3efb799cd9c412746ae2",
        "regtest",
    ),
    (
        "1FjL87pn8ky6Vbavd1ZHeChRXtoxwRGCRd",
        "76a914a19331b7b2627e663e25a7b001e4c0dcc5e21bc788ac",
        "main",
    ),
    (
        "3BZECeAH8gSKkjrTx8PwMrNQBLG18yHpvf",
        "a9146c382dcdf5b284760c8e3fead91f7422cd76aa8787",
        "main",
    ),
    (
        "n4YNbYuFdPwFrxSP8sjHFbAhUbLMUiY9jE",
        "76a914fc8f9851f3c1e4719cd0b8e4816dd4e88c72e52888ac",
        "testnet4",
    ),
    (
        "2NAeQVZayzVFAtgeC3iYJsjpjWDmsDph71A",
        "a914bedc797342c03fd7a346c4c7857ca03d467013b687",
        "testnet4",
    ),
    (
        "mnCBpkNMJEJLehgdEkzSo2eioniyJMxLpZ",
        "76a914493c455551e48a1423263b62b127b436106a685488ac",
        "signet",
    ),
    (
        "2N5sNHomeNJDZv67AcFx9ES7FBZY4jx9KDA",
        "a9148a776a0f34d56b63e7c595f2b205dbe1c393617a87",
        "signet",
    ),
    (
        "mfhE6jAUwjUDNZhaX1PAsDTKfneQF2Nshc",
        "76a91401f15a4cc063dae4f4d56b89bfbc8bcc9ae5387c88ac",
        "regtest",
    ),
    (
        "2MxNm1VHyVU4RuP3u1c1v5aQLk2dQjwy1Qk",
        "a91438456f7c076356abadcc67b92ad777eb20fb9f8887",
        "regtest",
    ),
    ("bc1zmjtqxkzs89", "5202dc96", "main"),
    ("tb1r0ecpfxg2udhtc556gqrpwwhk4sw3f0kc", "53107e7014990ae36ebc529a4006173af6ac", "testnet4"),
    (
        "bcrt1s489d9fhmyel0vzfqsrmew4x7r80asuqesm5hgqacy35daflcyufh3j8cgdtflvt99ph05m",
        "6028a9cad2a6fb267ef6092080f79754de19dfd8701986e97403b82468dea7f8271378c8f843569fb165",
        "regtest",
    ),
]


@pytest.mark.parametrize(("address", "script_hex", "chain"), CORE_KEY_IO_VALID)
def test_core_address_vectors(address, script_hex, chain):
    network = get_network(chain)
    script = bytes.fromhex(script_hex)
    assert address_from_script(script, network) == address
    assert script_from_address(address, network) == script
    if address[0] in "bt":  # Bech32 addresses may be written in upper case
        assert script_from_address(address.upper(), network) == script


def test_testnet3_uses_testnet4s_encodings():
    script = bytes.fromhex("0014c0ef1202759fff90ff19128936814321ee59e111")
    assert address_from_script(script, TESTNET) == "tb1qcrh3yqn4nlleplcez2yndq2ry8h9ncg3qh7n54"


@pytest.mark.parametrize(
    ("network", "address"),
    [
        (MAINNET, "bc1pfeessrawgf"),
        (TESTNET, "tb1pfees9rn5nz"),
        (get_network("testnet4"), "tb1pfees9rn5nz"),
        (SIGNET, "tb1pfees9rn5nz"),
        (REGTEST, "bcrt1pfeesnyr2tx"),
    ],
)
def test_pay_to_anchor_address(network, address):
    # Core 28+ shows these for OP_1 <0x4e73> (bitcoinops.org review club #30352).
    assert address_from_script(P2A_SCRIPT, network) == address
    assert script_from_address(address, network) == P2A_SCRIPT


@pytest.mark.parametrize(
    "script",
    [
        b"\x41" + PUBKEY65 + b"\xac",
        multisig(1, [PUBKEY33]),
        h("6a0568656c6c6f"),
        h("6a"),
        h("0015") + H20 + b"\x00",
        b"",
        h("76a914") + H20 + h("88"),
    ],
)
def test_scripts_without_an_address(script):
    for network in ALL_NETWORKS:
        assert address_from_script(script, network) is None


# Bitcoin Core, src/test/data/key_io_invalid.json (invalid on every chain)
CORE_KEY_IO_INVALID = [
    "", "x",
    "1GAdfviErV2Ew95FPtZyikz2qGP3gyCB6Hyu94sedAkPpA523m3fQwps9YKUZkKgQckGPKhRsFR",
    "37G2kMDLpmWVhimxRdzwNfE8JFvWXnJYnVcXeeGrek2qumdJuK7XArcVVpRtLLjRra3t64BEPF2",
    "giymtio7u7oqWtmC9YnvAEKkLF3JQpAdkEFkVJKYrVDfaLbhaDpX1ihfF2vZmya1i61fwLPC3YQ",
    "8iVk9nLM3nYwRuwypjy9NK5rsuZH7BbrQRZ1pgcQmvMnjAgRXD",
    "cPTVQ1hbo4qdoysf6Jx5GthqucNmdfqt6J2pZRFeXv8Ep7Kmjqud",
    "2UB3iG3VJbX2TRrMwm6ssWskgvU9VjFBYSqCzwqkrihCwo7mg4mtS4WuGZgxTKuxf5A3EcotYEymz",
    "tc1qeul5g2xfkvdkrhcfmdursv73ad64jnkjl9c40f",
    "bt1pq65rzej5glw3ra79gav6fqnx4haa0z257qr3mc8cggkefahmgvyseufhc0",
    "tb13hty4qmumlwpp6chxjvcyzza4duqgtmxw3xhm3u9ahj4nyhtwz8eq7ynrj4",
    "bcrt1r2qxpwuge",
    "bc10uexgzna2dpfk0vjt35srz6a27ps6m0l89jweznt83n2sqn2fx4hvn9ym5af8wut34sfrqhk3",
    "tb1qum6uh0pt4q253qaf520929737v63w5gf",
    "bcrt1q888ryfgxpvl0k7vum8zpyar2u2sexvdhkf38ue37yknmqq0ycrwpl3w48y",
    "bc1qdsuzmn04k2z8vryw8l4dj8m5ygqgnne5n",
    "tb1qlj8es50nc8j8r8xshrjgzmw5azx89efghmw8ju6zcqla0g6xcnrstsjz7k",
    "bcrt1qzwmyj0z924g7fzs5yvnrkc43y76RVyr2lh5t4r",
    "bc1qpu6d26mrulzetu4jqhd7rsunv9aqru26f5c4j8",
    "tb1qun6d26ufh77ghny6u5u8cwz9da7qwc6k4wkuceae9tth06eqlw0syupl4w",
    "bcrt1qj7g2jps453kj9htk9cxyyc2nxe69x4kzzmth7v",
    "bc1p702xksx4z3uqf0u2phllxkfe5cgu0adxptqs0uelx0tqt8e885sqryes2l",
    "tb1z7gmh0v6pc30z4xum76lmw8w86yswrlmw",
    "bcrt1sjsrw6nun4h502cr97xmnyyuhkr22q0s6efrgtu",
    "2UVPFpGYnLHJezFzjUo42our6PMEoozzRdM",
    "2MygHQjE1U33q3LSC53p69YqFjP8PihumJAF",
    "KzNbAQ4mexfAxa6RKBzHQqfoTycaeWpv2p",
    "tb13w8c43lykfj3lvm9sgp6dsnfjla3d57cm83seykunf0ltxjc9lt2q4efm4d",
    "bcrt1rjqr2tdkm",
    "TB1QFDFM763VXVSUNZHQLPWC0Q8FG5LJX6ZN",
    "bcrt1q60chha7wfwlau4kdr4mlvyeyc8mnnh9dhxk05e0hmrxcuhghefj36uwyha",
    "bc1gmk9yu",
    "tb1ly0q7p",
    "bcrt1qdwttaw38uf42wxw40kwk3u8nguyTQH3hx6jmqp",
    "bc1qtsvlht6730n04f2mpaj5vv8hrledn5n5ug8c79",
    "tb1dclvmr",
    "bcrt1q3fqvctqu48wsvggrt09vj0yk2gzzcscdp4h98u",
    "bc1prklpq7tjcawg89cmwwqr3u5apwav36xa4zz56ady7crsllm6mpnqts7p86",
    "tb1zkm58zyhxz3ffkfgsyprflg543slsl4c4",
    "bcrt1snzr5kaypnfhpnjanrhd20fhqcjxm3hfh7dw9fu",
    "AZEah8d1EK362okRBS66e8SvdtYkrE8tsX",
    "2NDNP7GY59tTJPZTpbkprhM9SR99Nn5rUs7",
    "Kwjk3Vy6sdXMQDGWJzaWmqFxUNtWZCX1q4F4Kpt8jNNUoWJUUaTY",
    "TB1Q3F9WGNXE9ZMTTMDN5VKVKHYZ8Y0LCV72YV7V5LSXTJXEYHNHEHASLYL0TZ",
    "sp1qq22l5s6l9460ww6t4tkzsy2a7zejurcmzz35pt0ffrzk5erlaykdcqugecjjnjqf7ggq39vl6wexjlm00n66z94v675n7wcux6d2krr68gcwu9kg",
]  # fmt: skip


@pytest.mark.parametrize("address", CORE_KEY_IO_INVALID)
def test_core_invalid_addresses_are_rejected_on_every_network(address):
    for network in ALL_NETWORKS:
        with pytest.raises(AddressError):
            script_from_address(address, network)


@pytest.mark.parametrize(
    ("address", "network", "message"),
    [
        ("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo", REGTEST, "is a mainnet address, not a regtest one"),
        ("mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ", MAINNET, "testnet.*address, not a mainnet one"),
        (
            "tb1qcrh3yqn4nlleplcez2yndq2ry8h9ncg3qh7n54",
            MAINNET,
            "prefix 'tb': a testnet/testnet4/signet address, not a mainnet one",
        ),
        ("bc1pfeessrawgf", REGTEST, "prefix 'bc': a mainnet address, not a regtest one"),
        ("bcrt1pfeesnyr2tx", SIGNET, "a regtest address, not a signet one"),
        ("tc1qeul5g2xfkvdkrhcfmdursv73ad64jnkjl9c40f", MAINNET, "not a Bitcoin address"),
        ("bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhw", MAINNET, "invalid mainnet segwit address"),
        ("hello world", MAINNET, "not a valid address: not Base58Check"),
        ("KzNbAQ4mexfAxa6RKBzHQqfoTycaeWpv2p", MAINNET, "unknown Base58 version byte 0x2f"),
        (base58check_encode(bytes(22)), MAINNET, "holds 22 bytes; an address holds 21"),
        ("1" * 200, MAINNET, "200 characters long"),
    ],
)
def test_address_errors_explain_the_problem(address, network, message):
    with pytest.raises(AddressError, match=message):
        script_from_address(address, network)


def test_base58_testnet_addresses_are_accepted_on_regtest_like_core():
    script = bytes.fromhex("76a914ce28b26c57472737f5c3561a1761185bd8589a4388ac")
    assert script_from_address("mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ", REGTEST) == script


# ------------------------------------------------- ground truth recorded from Core

REPLIES_DIRS = [
    CORE_REPLIES,
    Path(__file__).resolve().parents[3] / "shared" / "bitcoin-core-replies",
]


def _core_script_pubkeys():
    found = {}
    for directory in REPLIES_DIRS:
        for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
            stack = [json.loads(path.read_text())]
            while stack:
                node = stack.pop()
                if isinstance(node, dict):
                    if "scriptPubKey" in node and isinstance(node["scriptPubKey"], dict):
                        spk = node["scriptPubKey"]
                        found[spk["hex"]] = spk
                    stack.extend(node.values())
                elif isinstance(node, list):
                    stack.extend(node)
    return list(found.values())


CORE_SCRIPT_PUBKEYS = _core_script_pubkeys()


@pytest.mark.skipif(not CORE_SCRIPT_PUBKEYS, reason="recorded Core replies not found")
@pytest.mark.parametrize("spk", CORE_SCRIPT_PUBKEYS, ids=lambda spk: spk["type"])
def test_matches_cores_scriptpubkey_json(spk):
    script = bytes.fromhex(spk["hex"])
    assert classify(script).value == spk["type"]
    assert address_from_script(script, REGTEST) == spk.get("address")
    assert script_to_asm(script) == spk["asm"]


# ------------------------------------------------------------------- OP_RETURN data


@pytest.mark.parametrize(
    ("script", "data"),
    [
        (h("6a"), b""),
        (h("6a00"), b""),
        (h("6a0568656c6c6f"), b"hello"),
        (h("6a0568656c6c6f05776f726c64"), b"helloworld"),
        (h("6a4c0401020304"), h("01020304")),
        (h("6a4d0300aabbcc"), h("aabbcc")),
        (h("6a4e01000000ff"), h("ff")),
        (h("6a5d0b00c0a2330380cab5ee0101"), h("0d00c0a2330380cab5ee0101")),  # OP_13 -> 0x0d
        (h("6a4f"), h("81")),
        (
            h("6a24aa21a9ed6fb4fd177f2872deb01d80844a98a4ba71d4bd6b6d07751f560ce49125e0f033"),
            h("aa21a9ed6fb4fd177f2872deb01d80844a98a4ba71d4bd6b6d07751f560ce49125e0f033"),
        ),
    ],
)
def test_op_return_data(script, data):
    assert op_return_data(script) == data


@pytest.mark.parametrize(
    "script", [b"", h("6a4c"), h("6a05aabb"), h("6a76"), h("0014") + H20, h("00"), h("516a00")]
)
def test_op_return_data_is_none_for_other_scripts(script):
    assert op_return_data(script) is None


# ------------------------------------------------------------------ pushes and asm


@pytest.mark.parametrize(
    ("data", "encoded"),
    [
        (b"", h("00")),
        (b"\x00", h("0100")),
        (b"\x01", h("51")),
        (b"\x10", h("60")),
        (b"\x11", h("0111")),
        (b"\x81", h("4f")),
        (b"\x80", h("0180")),
        (bytes(75), h("4b") + bytes(75)),
        (bytes(76), h("4c4c") + bytes(76)),
        (bytes(255), h("4cff") + bytes(255)),
        (bytes(256), h("4d0001") + bytes(256)),
        (bytes(65535), h("4dffff") + bytes(65535)),
        (bytes(65536), h("4e00000100") + bytes(65536)),
    ],
    ids=lambda v: v[:8].hex(),
)
def test_push_data_is_minimal(data, encoded):
    assert push_data(data) == encoded
    if encoded[0] <= 0x4E:  # a data push, not OP_1NEGATE / OP_1..OP_16
        assert list(iter_script_ops(encoded)) == [ScriptOp(encoded[0], data, 0)]


@given(st.binary(max_size=600))
def test_push_data_round_trips_through_op_return_data(data):
    assert op_return_data(b"\x6a" + push_data(data)) == data


def test_iter_script_ops():
    script = h("0014") + H20 + h("76") + h("4c02aabb") + h("4f")
    assert list(iter_script_ops(script)) == [
        ScriptOp(0x00, b"", 0),
        ScriptOp(0x14, H20, 1),
        ScriptOp(0x76, None, 22),
        ScriptOp(0x4C, h("aabb"), 23),
        ScriptOp(0x4F, None, 27),
    ]


@pytest.mark.parametrize(("script", "offset"), [(h("4c"), 0), (h("76054142"), 1), (h("004d01"), 1)])
def test_iter_script_ops_reports_truncation_with_its_offset(script, offset):
    with pytest.raises(ChainDataError) as info:
        list(iter_script_ops(script))
    assert info.value.offset == offset


@pytest.mark.parametrize(
    ("script", "asm"),
    [
        (
            h("76a914") + H20 + h("88ac"),
            f"OP_DUP OP_HASH160 {H20.hex()} OP_EQUALVERIFY OP_CHECKSIG",
        ),
        (h("a914") + H20 + h("87"), f"OP_HASH160 {H20.hex()} OP_EQUAL"),
        (h("5120") + H32, f"1 {H32.hex()}"),
        (P2A_SCRIPT, "1 29518"),
        (multisig(1, [PUBKEY33]), f"1 {PUBKEY33.hex()} 1 OP_CHECKMULTISIG"),
        (h("6a"), "OP_RETURN"),
        (h("6a4f0181"), "OP_RETURN -1 -1"),
        (h("6a02e803"), "OP_RETURN 1000"),
        (h("6a04ffffffff"), "OP_RETURN -2147483647"),
        (h("6a0400000080"), "OP_RETURN 0"),
        (h("6a4c"), "OP_RETURN [error]"),
        (
            h("b1b2babbff50"),
            "OP_CHECKLOCKTIMEVERIFY OP_CHECKSEQUENCEVERIFY OP_CHECKSIGADD OP_UNKNOWN "
            "OP_INVALIDOPCODE OP_RESERVED",
        ),
        (b"", ""),
    ],
)
def test_script_to_asm_matches_cores_notation(script, asm):
    assert script_to_asm(script) == asm


# -------------------------------------------------------------------------- fuzzing

ADDRESS_TYPES = {
    ScriptType.P2PKH,
    ScriptType.P2SH,
    ScriptType.P2WPKH,
    ScriptType.P2WSH,
    ScriptType.P2TR,
    ScriptType.P2A,
    ScriptType.WITNESS_UNKNOWN,
}

# Arbitrary bytes, and bytes shaped like the standard scripts (right length and opcodes
# with random contents), so the fuzzer reaches the interesting branches.
scripts = st.one_of(
    st.binary(max_size=120),
    st.builds(lambda v, p: bytes((v, len(p))) + p, st.sampled_from([0, *range(0x51, 0x61)]),
              st.binary(min_size=0, max_size=42)),
    st.builds(lambda p: h("76a914") + p + h("88ac"), st.binary(min_size=18, max_size=22)),
    st.builds(lambda p: h("a914") + p + h("87"), st.binary(min_size=18, max_size=22)),
    st.builds(lambda p: b"\x6a" + p, st.binary(max_size=80)),
    st.builds(lambda m, ks, n: multisig(m, ks, n), st.integers(1, 4),
              st.lists(st.sampled_from([PUBKEY33, PUBKEY65, H32]), max_size=4), st.integers(1, 4)),
)  # fmt: skip


@given(scripts, st.sampled_from(ALL_NETWORKS))
def test_fuzz_classify_and_address_never_raise_and_agree(script, network):
    kind = classify(script)
    address = address_from_script(script, network)
    assert (address is not None) == (kind in ADDRESS_TYPES)
    if address is not None:
        assert script_from_address(address, network) == script
    assert (op_return_data(script) is not None) == (kind is ScriptType.OP_RETURN)
    assert isinstance(script_to_asm(script), str)
