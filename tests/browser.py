"""The one Chromium of the suite: Debian's (never a downloaded one), started once per session.

Loaded by tests/conftest.py as a plugin, so every page test asks for `browser` and gets this
Chromium; the contexts a test opens are closed after it, even when it fails halfway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from tests.factories import PASSWORD

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
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """The session's one Chromium process (launched on first use)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def browser(chromium: Browser) -> AsyncIterator[Browser]:
    """The session's Chromium for one test; the contexts (and pages) the test opened are closed after it."""
    before = set(chromium.contexts)
    yield chromium
    for context in chromium.contexts:
        if context not in before:
            await context.close()


async def screenshot(page: Page, name: str) -> None:
    """Keep a full-page screenshot in test-artifacts/screenshots/ (to be looked at)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def browser_as_contact(browser: Browser, base_url: str, token: str, locale: str = "zh-CN") -> Page:
    """A page signed in as the contact of this session token (its cookie), on a phone-sized screen."""
    context = await browser.new_context(base_url=base_url, locale=locale, viewport={"width": 412, "height": 915})
    await context.add_cookies([{"name": "contact_session", "value": token, "url": base_url}])
    return await context.new_page()


async def browser_as_staff(browser: Browser, base_url: str, username: str, password: str = PASSWORD) -> Page:
    """A page signed in as this staff member through the sign-in page, on a desktop screen."""
    # English explicitly: the helpers below read the English labels of the staff pages (Chinese is the default).
    context = await browser.new_context(base_url=base_url, locale="en-US", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto("/admin/")
    assert page.url.endswith("/admin/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/admin/")
    return page
