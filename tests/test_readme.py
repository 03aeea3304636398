"""The README says what the code does: its model test runs, its reference is complete."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chaincrawler.chain.types import Block, BlockHeader, OutPoint, Transaction, TxIn, TxOut

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README has no section '## {title}'"
    return match.group(1)


def test_the_testing_section_shows_the_example_test_verbatim():
    blocks = re.findall(r"```python\n(.*?)```", _section("Testing your models"), re.S)
    example = (ROOT / "tests" / "test_readme_example.py").read_text()
    assert example in blocks, "README's model test differs from tests/test_readme_example.py"


def _documented(section: str, cls: type) -> set[str]:
    match = re.search(rf"^\*\*`{cls.__name__}`\*\*.*?\n((?:- .*\n?)+)", section, re.M)
    assert match, f"no reference list for {cls.__name__}"
    names: set[str] = set()
    for line in match.group(1).splitlines():
        head = line.split(" — ")[0]
        names.update(re.findall(r"`([A-Za-z_]\w*)", head))
    return names


@pytest.mark.parametrize("cls", [Block, BlockHeader, Transaction, TxIn, TxOut, OutPoint])
def test_the_reference_lists_every_public_attribute(cls: type):
    public = {n for n in dir(cls) if not n.startswith("_")}
    public |= {n for n in getattr(cls, "__slots__", ()) if not n.startswith("_")}
    assert _documented(_section("What a model can read"), cls) == public
