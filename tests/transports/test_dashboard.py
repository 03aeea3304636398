"""The dashboard page in headless Chromium: it shows a block committed, then a reorg, live."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.transports.conftest import Serve

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking"]


@pytest.fixture
async def page() -> AsyncIterator[object]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            tab = await browser.new_page(viewport={"width": 1280, "height": 900})
            yield tab
        finally:
            await browser.close()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_the_dashboard_shows_a_commit_then_a_reorg_as_they_happen(
        serve: Serve, page: object, tmp_path: Path) -> None:
    from playwright.async_api import Page, expect

    assert isinstance(page, Page)
    served = await serve(blocks=2)
    tip = served.crawler.tip
    assert tip is not None
    await page.goto(served.url + "/")
    await expect(page.locator("#connection")).to_have_text("live")
    await expect(page.locator("#tip-height")).to_have_text(str(tip.height))
    await expect(page.locator("#lag")).to_have_text("0")
    await expect(page.locator("#models tbody tr")).to_have_count(2)
    await expect(page.locator("#no-reorgs")).to_be_visible()

    await served.gen.fill(1, 3)
    await served.synced()
    height = await served.rpc.get_block_count()
    await expect(page.locator("#tip-height")).to_have_text(str(height))
    await expect(page.locator("#feed li.block").first).to_contain_text(f"block {height} ")

    await served.gen.reorg(1, 2)
    await served.synced()
    await expect(page.locator("#feed li.rollback").first).to_contain_text(
        f"fork at {height - 1}, depth 1")
    await expect(page.locator("#feed li.rolled-back").first).to_contain_text(f"@{height}")
    await expect(page.locator("#reorgs tbody tr")).to_have_count(1)
    await expect(page.locator("#reorgs tbody tr td").nth(1)).to_have_text(str(height - 1))
    await expect(page.locator("#tip-height")).to_have_text(str(height + 1))
    await expect(page.locator("#no-reorgs")).to_be_hidden()
    shot = tmp_path / "dashboard.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
