"""A real Chromium (Debian's) driven by Playwright in the tests' event loop, on a phone-sized screen."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from registry.database import Connection
from tests.browser import PHONE_SCREEN, screenshot
from tests.conftest import LiveServer
from tests.factories import latest_code


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
    await screenshot(page, name)
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
