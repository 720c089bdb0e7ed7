"""A real Chromium (Debian's) driven by Playwright in the tests' event loop, on a phone-sized screen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from registry.database import Connection
from tests.conftest import LiveServer
from tests.contacts.conftest import latest_code

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE_SCREEN: ViewportSize = {"width": 360, "height": 740}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        await launched.close()


async def phone_context(browser: Browser, base_url: str, locale: str = "zh-CN") -> BrowserContext:
    return await browser.new_context(
        base_url=base_url, viewport=PHONE_SCREEN, locale=locale, is_mobile=True, has_touch=True
    )


@pytest.fixture
async def page(browser: Browser, live_server: LiveServer) -> AsyncIterator[Page]:
    """A fresh phone-sized page (Chinese browser) against the live server."""
    context = await phone_context(browser, live_server.url)
    opened = await context.new_page()
    yield opened
    await context.close()


async def shot(page: Page, name: str) -> None:
    """Keep a full-page screenshot, and check the page fits a 360-px screen without sideways scrolling."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_SCREEN["width"], f"{name}: {width}px wide"


async def sign_in_on_page(page: Page, conn: Connection, e164: str, typed: str) -> None:
    """The number and code steps as a person does them, the code read from the development outbox."""
    await page.goto("/verify")
    await page.fill("#phone", typed)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#code")
    await page.fill("#code", await latest_code(conn, e164))
    await page.click("form[action='/verify/code'] button[type=submit]")
    await page.wait_for_url("**/me")
