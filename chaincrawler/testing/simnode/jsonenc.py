"""JSON output as Bitcoin Core writes it: BTC amounts as numbers with exactly 8 decimals.

Python's ``json`` cannot emit a number literal of its choosing, so an :class:`Amount`
is written as a marker string that one regular expression then turns into the bare
number (``25.00000000``), the way Core's ``ValueFromAmount`` prints it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from chaincrawler.chain.consensus import COIN

_MARK = "@sat@"
_MARKED = re.compile(r'"@sat@(-?\d+)@"')


class Amount:
    """A value in satoshis that serialises as a BTC amount (``1.50000000``)."""

    __slots__ = ("sats",)

    def __init__(self, sats: int) -> None:
        self.sats = sats

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Amount) and other.sats == self.sats

    def __hash__(self) -> int:
        return hash(self.sats)

    def __repr__(self) -> str:
        return f"Amount({format_btc(self.sats)})"


def format_btc(sats: int) -> str:
    """Core's ``ValueFromAmount`` text: sign, whole coins, a dot and 8 decimals."""
    sign = "-" if sats < 0 else ""
    whole, frac = divmod(abs(sats), COIN)
    return f"{sign}{whole}.{frac:08d}"


def format_money(sats: int) -> str:
    """Core's ``FormatMoney`` (used in reject messages): trailing zeros trimmed to 2 decimals."""
    text = format_btc(sats)
    while text.endswith("0") and text[-3] != ".":
        text = text[:-1]
    return text


def core_float(value: float) -> float | int:
    """A double as Core's UniValue prints it: 16 significant digits, integral ones bare."""
    rounded = float(f"{value:.16g}")
    return int(rounded) if rounded.is_integer() and abs(rounded) < 1e16 else rounded


def _default(obj: object) -> str:
    if isinstance(obj, Amount):
        return f"{_MARK}{obj.sats}@"
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def _unmark(match: re.Match[str]) -> str:
    return format_btc(int(match.group(1)))


def dumps(obj: Any) -> str:
    """Serialise ``obj`` compactly, writing :class:`Amount` values as Core does."""
    text = json.dumps(obj, default=_default, separators=(",", ":"), allow_nan=False)
    if _MARK in text:
        text = _MARKED.sub(_unmark, text)
    return text
