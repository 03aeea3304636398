"""The pytest plugin users get: registered on install, fixtures that crawl a simulated node."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import chaincrawler.testing.pytest_plugin as plugin
from chaincrawler.models import ChainModel


def test_the_plugin_is_an_installed_pytest11_entry_point(pytestconfig: pytest.Config):
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    entry = project["project"]["entry-points"]["pytest11"]["chaincrawler"]
    assert entry == plugin.__name__
    assert pytestconfig.pluginmanager.is_registered(plugin), (
        "reinstall chaincrawler (pip install -e .) so pytest loads its plugin"
    )


async def test_crawl_stops_at_until_then_resumes_to_the_tip(chaingen, crawl, chaincrawler_store):
    await chaingen.mine(5)
    [chain] = await crawl([ChainModel()], until=3)
    assert chain.tip_height == 3
    assert [chain] == await crawl([chain])
    assert chain.tip_height == 5
    tip = await chaincrawler_store.tip()
    assert tip is not None and (tip.height, tip.hash) == (5, chaingen.tip)
