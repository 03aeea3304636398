"""Parameters of the Bitcoin networks chaincrawler knows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Network:
    """One Bitcoin network: address prefixes, genesis block and subsidy schedule."""

    name: str
    bech32_hrp: str
    p2pkh_prefix: int
    p2sh_prefix: int
    genesis_hash: str
    subsidy_halving_interval: int
    default_rpc_port: int


MAINNET = Network(
    "mainnet", "bc", 0x00, 0x05,
    "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f", 210_000, 8332,
)
TESTNET = Network(
    "testnet", "tb", 0x6F, 0xC4,
    "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943", 210_000, 18332,
)
TESTNET4 = Network(
    "testnet4", "tb", 0x6F, 0xC4,
    "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043", 210_000, 48332,
)
SIGNET = Network(
    "signet", "tb", 0x6F, 0xC4,
    "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6", 210_000, 38332,
)
REGTEST = Network(
    "regtest", "bcrt", 0x6F, 0xC4,
    "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206", 150, 18443,
)

NETWORKS: dict[str, Network] = {n.name: n for n in (MAINNET, TESTNET, TESTNET4, SIGNET, REGTEST)}
# Bitcoin Core's `getblockchaininfo` calls mainnet "main" and testnet3 "test".
_ALIASES = {"main": "mainnet", "test": "testnet", "testnet3": "testnet", "bitcoin": "mainnet"}


def get_network(name: str) -> Network:
    """The network called ``name`` (Core's ``chain`` names such as ``main`` work too)."""
    key = _ALIASES.get(name.lower(), name.lower())
    try:
        return NETWORKS[key]
    except KeyError:
        known = ", ".join(sorted(NETWORKS))
        raise ValueError(f"unknown network {name!r}; known networks: {known}") from None
