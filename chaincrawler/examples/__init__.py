"""Example models, used by ``chaincrawler demo`` and the benchmarks."""

from __future__ import annotations

from chaincrawler.examples.balances import AddressBalance, AddressBalances, BalancesChanged
from chaincrawler.examples.stored_balances import StoredAddressBalances

__all__ = ["AddressBalance", "AddressBalances", "BalancesChanged", "StoredAddressBalances"]
