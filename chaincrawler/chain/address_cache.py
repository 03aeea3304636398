"""A bounded cache of addresses by output script, per network.

Deriving an address costs microseconds (a Bech32 checksum, or two SHA-256 and a Base58
conversion); looking one up costs a dict probe. Scripts repeat on a real chain -- change
outputs, exchanges' hot addresses, outputs spent soon after they are created -- so
:attr:`TxOut.address <chaincrawler.chain.types.TxOut.address>` goes through here.

Each Network object has its own table (there are a handful) of at most
:data:`MAX_ENTRIES` scripts; when a table is full it is emptied and refills with what
comes next: cheaper on a crawl than functools' LRU (measured in
``benchmarks/addresses.py``), and the scripts that repeat come back at once. At about 200
bytes per entry (the script, its address, the dict slot), a full table holds some 13 MB.

Safe to call from several threads: each step is one dict operation under the GIL, and
a race at worst derives the same address twice.
"""

from __future__ import annotations

from typing import NamedTuple

from chaincrawler.chain.networks import Network
from chaincrawler.chain.script import derive_address

MAX_ENTRIES = 1 << 16
"""Scripts remembered per network before the table is emptied."""

_MISSING: object = object()


class _Table(NamedTuple):
    network: Network  # kept so that its id cannot be reused while the entry exists
    addresses: dict[bytes, str | None]
    hrp: str
    p2pkh_prefix: int
    p2sh_prefix: int


# id(network) -> its table: hashing the Network dataclass itself would cost more than
# the whole lookup.
_TABLES: dict[int, _Table] = {}


def _new_table(network: Network) -> _Table:
    table = _Table(network, {}, network.bech32_hrp, network.p2pkh_prefix, network.p2sh_prefix)
    return _TABLES.setdefault(id(network), table)


def cached_address(script: bytes, network: Network) -> str | None:
    """``address_from_script(script, network)``, remembered for the next time ``script``
    comes by on ``network``."""
    entry = _TABLES.get(id(network)) or _new_table(network)
    table = entry.addresses
    address = table.get(script, _MISSING)
    if address is _MISSING:
        if len(table) >= MAX_ENTRIES:
            table.clear()
        address = table[script] = derive_address(
            script, entry.hrp, entry.p2pkh_prefix, entry.p2sh_prefix
        )
    return address  # type: ignore[return-value]


def clear_address_cache() -> None:
    """Forget every remembered address (for benchmarks that measure a cold start)."""
    for entry in _TABLES.values():
        entry.addresses.clear()
