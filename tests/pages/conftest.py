"""A real Chromium (Debian's) driven by Playwright in the tests' event loop, on a phone-sized screen."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize

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


DESK_SCREEN: ViewportSize = {"width": 1280, "height": 800}
SCREENS: dict[str, ViewportSize] = {"360": PHONE_SCREEN, "1280": DESK_SCREEN}


async def views(page: Page, name: str, *, languages: bool = True) -> None:
    """Screenshots of the page she is on, in Chinese and English, at 360x740 and 1280x800, without walking
    the journey again: the language cookie is switched and the page reloaded (only for pages a GET shows).
    At 360 px nothing may need sideways scrolling. Leaves the page as it found it."""
    origin = page.url.split("/", 3)
    base = f"{origin[0]}//{origin[2]}"
    before = await page.get_attribute("html", "lang")
    current = "en" if before == "en" else "zh_CN"
    for lang in ("zh_CN", "en") if languages else (current,):
        if lang != current or languages:
            await page.context.add_cookies([{"name": "lang", "value": lang, "url": base}])
            await page.reload()
        for size, screen in SCREENS.items():
            await page.set_viewport_size(screen)
            await screenshot(page, f"{name}-{lang}-{size}")
            if size == "360":
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE_SCREEN["width"], f"{name} ({lang}): {width}px wide"
    await page.set_viewport_size(PHONE_SCREEN)
    if languages:
        await page.context.add_cookies([{"name": "lang", "value": current, "url": base}])
        await page.reload()
