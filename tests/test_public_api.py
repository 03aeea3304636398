"""The top-level API: every listed name resolves, and importing the package stays light."""

from __future__ import annotations

import subprocess
import sys

import chaincrawler


def test_every_public_name_resolves_to_an_object_of_that_name() -> None:
    for name in chaincrawler.__all__:
        value = getattr(chaincrawler, name)
        if name != "__version__":
            assert value.__name__ == name, name
    assert {"Crawler", "Model", "Block", "NodeClient", "Tip"} <= set(chaincrawler.__all__)
    assert set(chaincrawler.__all__) <= set(dir(chaincrawler))


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        chaincrawler.Crawlr  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "Crawlr" in str(exc)
    else:
        raise AssertionError("no AttributeError")


def test_importing_the_chain_layer_loads_neither_the_crawler_nor_the_stores() -> None:
    code = ("import sys, chaincrawler.chain.types; "
            "print(sorted(m for m in sys.modules if m.startswith(('chaincrawler.crawler', "
            "'chaincrawler.eventstore', 'sqlalchemy', 'aiohttp'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
