"""Bitcoin's consensus and main policy constants, defined once for the whole package.

Consensus values are those every node enforces; the ``*_STANDARD_*`` and relay values
are Bitcoin Core's default policy (what a node relays and mines), not consensus.
"""

from __future__ import annotations

from chaincrawler.chain.networks import Network

COIN = 100_000_000
"""Satoshis in one bitcoin."""
MAX_MONEY = 21_000_000 * COIN
"""No output, and no transaction's outputs together, may exceed this."""
INITIAL_SUBSIDY = 50 * COIN
"""The block subsidy before the first halving."""
COINBASE_MATURITY = 100
"""Blocks a coinbase output must wait: spendable in a block at ``height + 100``."""
MAX_BLOCK_WEIGHT = 4_000_000
"""Largest block weight (BIP141 weight units)."""
MAX_STANDARD_TX_WEIGHT = 400_000
"""Largest transaction weight Core relays (policy)."""
MIN_STANDARD_TX_NONWITNESS_SIZE = 65
"""Smallest transaction size without witness that Core relays (policy)."""
MAX_OP_RETURN_RELAY = 83
"""Largest OP_RETURN scriptPubKey Core relays by default: 80 bytes of data (policy)."""
DUST_RELAY_FEE = 3000
"""Core's ``-dustrelayfee``, sat/kvB: an output worth less than spending it is dust."""
WITNESS_COMMITMENT_PREFIX = b"\x6a\x24\xaa\x21\xa9\xed"
"""BIP141: OP_RETURN, a 36-byte push, then ``aa21a9ed`` before the 32-byte commitment."""
WITNESS_RESERVED_VALUE = b"\x00" * 32
"""The coinbase input's witness, which the commitment hashes with the witness root."""
REGTEST_BITS = 0x207FFFFF
"""The regtest proof-of-work target (about every second nonce meets it)."""


def block_subsidy(height: int, network: Network) -> int:
    """The new coins a block at ``height`` may claim on ``network``, in satoshis."""
    halvings = height // network.subsidy_halving_interval
    return 0 if halvings >= 64 else INITIAL_SUBSIDY >> halvings


def is_unspendable(script_pubkey: bytes) -> bool:
    """True for outputs no node adds to its UTXO set (OP_RETURN, or over 10,000 bytes)."""
    return script_pubkey[:1] == b"\x6a" or len(script_pubkey) > 10_000


def dust_threshold(script_pubkey: bytes) -> int:
    """The smallest value Core relays for an output with ``script_pubkey`` (its
    ``GetDustThreshold`` at :data:`DUST_RELAY_FEE`; 0 for unspendable outputs)."""
    if is_unspendable(script_pubkey):
        return 0
    n = len(script_pubkey)
    size = 8 + n + (1 if n < 0xFD else 3)
    version = script_pubkey[0] if n else -1
    witness_version = version == 0 or 0x51 <= version <= 0x60
    witness = 4 <= n <= 42 and script_pubkey[1] + 2 == n and witness_version
    size += (32 + 4 + 1 + 107 // 4 + 4) if witness else (32 + 4 + 1 + 107 + 4)
    return -(-DUST_RELAY_FEE * size // 1000)
