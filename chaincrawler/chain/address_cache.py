"""A bounded cache of addresses by output script, per network, for pure-Python derivation.

In pure Python, deriving an address costs microseconds (a Bech32 checksum, or two
SHA-256 and a Base58 conversion); looking one up costs a dict probe. Scripts repeat on a
real chain -- change outputs, exchanges' hot addresses, outputs spent soon after they
are created -- so without the C extension :attr:`TxOut.address
<chaincrawler.chain.types.TxOut.address>` goes through here. With the C extension,
deriving every address is faster than going through this cache (a Python call and a
probe per address; see ``benchmarks/addresses.py``), so :data:`address_of` skips it.

Each Network object has its own table (there are a handful) of at most
:data:`MAX_ENTRIES` scripts; when a table is full it is emptied and refills with what
comes next: cheaper on a crawl than functools' LRU (measured in
``benchmarks/addresses.py``), and the scripts that repeat come back at once. At about 200
bytes per entry (the script, its address, the dict slot), a full table holds some 13 MB.

Safe to call from several threads: each step is one dict operation under the GIL, and
a race at worst derives the same address twice.
"""

from __future__ import annotations

from collections.abc import Callable

from chaincrawler.chain.networks import Network
from chaincrawler.chain.script import _address_from_script_py, address_from_script, derive_address

MAX_ENTRIES = 1 << 16
"""Scripts remembered per network before the table is emptied."""

_MISSING: object = object()
# id(network) -> (network, its table). The network is kept in the entry so that its id
# cannot be reused by another object while the entry exists; hashing the Network
# dataclass itself would cost more than the whole lookup.
_TABLES: dict[int, tuple[Network, dict[bytes, str | None]]] = {}


def cached_address(script: bytes, network: Network) -> str | None:
    """``address_from_script(script, network)``, remembered for the next time ``script``
    comes by on ``network``."""
    entry = _TABLES.get(id(network))
    if entry is None:
        entry = _TABLES.setdefault(id(network), (network, {}))
    table = entry[1]
    address = table.get(script, _MISSING)
    if address is _MISSING:
        if len(table) >= MAX_ENTRIES:
            table.clear()
        address = table[script] = address_from_script(script, network)
    return address  # type: ignore[return-value]


def clear_address_cache() -> None:
    """Forget every remembered address (for benchmarks that measure a cold start)."""
    for _network, table in _TABLES.values():
        table.clear()


address_of: Callable[[bytes, Network], str | None]
"""How :attr:`TxOut.address <chaincrawler.chain.types.TxOut.address>` finds an address:
:func:`cached_address` in pure Python, ``address_from_script`` with the C extension."""
address_of = cached_address if derive_address is _address_from_script_py else address_from_script
