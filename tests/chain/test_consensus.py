"""Consensus and policy constants: subsidy schedule and Core's dust thresholds."""

from __future__ import annotations

from chaincrawler.chain.consensus import COIN, block_subsidy, dust_threshold
from chaincrawler.chain.networks import MAINNET, REGTEST


def test_subsidy_halves_per_network_schedule():
    assert block_subsidy(0, MAINNET) == 50 * COIN
    assert block_subsidy(840_000, MAINNET) == 3 * COIN + COIN // 8
    assert [block_subsidy(h, REGTEST) for h in (149, 150, 300)] == [50 * COIN, 25 * COIN,
                                                                   25 * COIN // 2]
    assert block_subsidy(150 * 64, REGTEST) == 0


def test_dust_thresholds_are_cores():
    assert dust_threshold(b"\x00\x14" + b"\x01" * 20) == 294  # P2WPKH
    assert dust_threshold(b"\x51\x20" + b"\x01" * 32) == 330  # P2TR
    assert dust_threshold(b"\x76\xa9\x14" + b"\x01" * 20 + b"\x88\xac") == 546  # P2PKH
    assert dust_threshold(b"\x6a\x04data") == 0  # OP_RETURN is never dust
