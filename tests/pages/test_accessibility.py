"""axe-core over every contact page, in Chinese and in English, on a 360x740 phone screen.

The staff pages get the same sweep along their review journey (tests/disputes/test_review_pages.py).
One page per language walks them all, so the sweep costs one context, not one per page.
"""

from __future__ import annotations

import uuid

import httpx
import msgspec
import pytest
from playwright.async_api import Browser

from registry.database import Connection
from registry.settings import NoticeFigures, Settings
from tests.axe import Sweep
from tests.browser import PHONE_SCREEN
from tests.conftest import LiveServer
from tests.factories import add_rule, bearer, contact_session, file_dispute, make_agency, make_agency_with_key
from tests.sms import NOTICE, link_token, outbox

PHONE = "+8613800138000"
NEWCOMER = "+8613900139000"  # no record yet: an agency's first check sends her a notice with a link


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Notices before the first call are on, so the link's pages can be reached."""
    return msgspec.structs.replace(settings, notice=NoticeFigures())


@pytest.mark.parametrize("language", ["zh_CN", "en"])
async def test_every_contact_page_passes_axe(
    language: str,
    browser: Browser,
    live_server: LiveServer,
    api: httpx.AsyncClient,
    conn: Connection,
    settings: Settings,
) -> None:
    agency = await make_agency(conn, "示例催收有限公司")
    _, key = await make_agency_with_key(conn, "安心资产管理有限公司")
    first = await api.post("/v1/checks", json={"phone": NEWCOMER}, headers=bearer(key))
    assert first.json()["reason"] == "notice_pending", first.text
    [notice] = await outbox(conn, NEWCOMER, containing=NOTICE)
    token = await contact_session(conn, PHONE)
    consent = await add_rule(conn, PHONE, "consent", agency_id=agency.id)
    ref = await file_dispute(conn, settings, token, agency.id)
    # The page's script is axe's own, injected past the pages' Content-Security-Policy (which allows none).
    context = await browser.new_context(
        base_url=live_server.url, viewport=PHONE_SCREEN, is_mobile=True, has_touch=True, bypass_csp=True
    )
    await context.add_cookies([{"name": "lang", "value": language, "url": live_server.url}])
    page = await context.new_page()
    sweep = Sweep()

    # Signed out: the start page, the number step, the code step, a notice's link (unknown, then hers and
    # its receipt), /problems, a page that does not exist.
    for path in ("/", "/verify", f"/n/{'x' * 20}", "/problems", "/problems/invalid_input", "/no-such-page"):
        await page.goto(path)
        await sweep.check(page, f"{path} {language}")
    await page.goto(f"/n/{link_token(notice)}")
    await sweep.check(page, f"notice link {language}")
    await page.click("#refuse-all")
    await page.wait_for_selector("#receipt-text")
    await sweep.check(page, f"notice link refused {language}")
    await page.goto("/verify")
    await page.fill("#phone", "138 0013 8000")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#code")
    await sweep.check(page, f"code step {language}")

    await context.add_cookies([{"name": "contact_session", "value": token, "url": live_server.url}])
    for path in (
        "/",
        "/me",
        "/me/refuse",
        "/me/consent",
        f"/me/rules/{consent}/withdraw",
        "/me/checks",
        "/me/erase",
        "/complaints/",
        "/complaints/new",
        f"/complaints/{ref}",
        f"/me/receipts/{uuid.uuid4()}",  # not hers: the error page
    ):
        await page.goto(path)
        await sweep.check(page, f"{path} {language}")
    await page.goto("/me/refuse")
    await page.click("#confirm-refuse-all")
    await page.wait_for_url("**/me/receipts/*")
    await sweep.check(page, f"receipt {language}")
    await page.goto("/me/erase")
    await page.click("#confirm-erase")
    await page.wait_for_load_state()
    await sweep.check(page, f"erased {language}")
    sweep.assert_clean()
