"""The notice's link page: one tap refuses, no code; in a real Chromium on a 360x740 phone screen."""

from __future__ import annotations

import re

import httpx
import msgspec
import pytest
from playwright.async_api import Page

from registry.database import Connection
from registry.settings import NoticeFigures, Settings
from tests.factories import bearer, make_agency_with_key
from tests.pages.conftest import shot
from tests.sms import GATEWAY_SECRET, NOTICE, link_token, outbox

PHONE = "+8613800138000"
CSRF_INPUT = re.compile(r'name="_csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, notice=NoticeFigures(), sms_webhook_secret=GATEWAY_SECRET)


async def noticed(api: httpx.AsyncClient, conn: Connection, name: str) -> tuple[object, str]:
    """An agency checks a new number; the token of the link in the notice she got."""
    _, key = await make_agency_with_key(conn, name)
    first = await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))
    assert first.json()["reason"] == "notice_pending"
    [sms] = await outbox(conn, PHONE, containing=NOTICE)
    return key, link_token(sms)


async def test_one_tap_on_the_link_refuses_and_the_next_check_is_refused(
    page: Page, api: httpx.AsyncClient, conn: Connection
) -> None:
    key, token = await noticed(api, conn, "安心资产管理有限公司")
    await page.goto(f"/n/{token}")
    heading = await page.inner_text("#asked")
    assert "安心资产管理有限公司" in heading
    assert "包庇" in await page.inner_text("main")
    # Nothing is typed: no code field, two buttons.
    assert await page.locator("input#code").count() == 0
    assert await page.is_visible("#refuse-all") and await page.is_visible("#refuse-agency")
    await shot(page, "notice_link")

    await page.click("#refuse-all")
    await page.wait_for_selector("#receipt-text")
    assert "任何机构" in await page.inner_text("#receipt-text") or "No agency" in await page.inner_text("#receipt-text")
    # A reference she can read out, and what happens next (issue 11).
    assert re.fullmatch(r"R-[0-9A-Z]{4}-[0-9A-Z]{4}", await page.inner_text("#receipt-ref"))
    assert "立即生效" in await page.inner_text("#next-steps")
    await shot(page, "notice_link_refused")

    check = await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))  # type: ignore[arg-type]
    assert (check.json()["decision"], check.json()["reason"]) == ("deny", "refused")
    row = await conn.fetchrow("SELECT link_used_at, link_action FROM notices")
    assert row is not None and row["link_used_at"] is not None and row["link_action"] == "refuse_all"

    # The link is spent: opening it again says so plainly and offers the code flow.
    await page.goto(f"/n/{token}")
    assert await page.get_attribute("#link-state", "data-state") == "used"
    assert await page.locator("a[href='/verify']").count() >= 1


async def test_refusing_only_the_agency_that_asked(api: httpx.AsyncClient, conn: Connection) -> None:
    key, token = await noticed(api, conn, "只拒绝这家")
    _, other_key = await make_agency_with_key(conn)
    opened = await api.get(f"/n/{token}")
    assert opened.status_code == 200 and "只拒绝这家" in opened.text
    match = CSRF_INPUT.search(opened.text)
    assert match is not None
    done = await api.post(f"/n/{token}", data={"action": "refuse_agency", "_csrf_token": match.group(1)})
    assert done.status_code == 200, done.text
    assert (await conn.fetchval("SELECT agency_id IS NOT NULL FROM rules")) is True
    refused = await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))  # type: ignore[arg-type]
    assert refused.json()["reason"] == "refused"
    # Another agency: her rule is in force now, so no hold; the v1 rule answers.
    other = await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(other_key))
    assert (other.json()["decision"], other.json()["reason"]) == ("allow", "no_record")
    # A second tap on the spent link changes nothing more.
    again = await api.post(f"/n/{token}", data={"action": "refuse_all", "_csrf_token": match.group(1)})
    assert again.status_code == 410
    assert await conn.fetchval("SELECT count(*) FROM rules") == 1


async def test_unknown_and_expired_links_say_so(api: httpx.AsyncClient, conn: Connection) -> None:
    unknown = await api.get("/n/AAAAAAAAAAAAAAAA")
    assert unknown.status_code == 404 and 'data-state="unknown"' in unknown.text
    assert (await api.get("/n/../../etc")).status_code == 404
    _, token = await noticed(api, conn, "过期链接公司")
    await conn.execute("UPDATE notices SET link_expires_at = now() - interval '1 second'")
    expired = await api.get(f"/n/{token}", headers={"Accept-Language": "en"})
    assert expired.status_code == 410 and 'data-state="expired"' in expired.text
    assert "7 days" in expired.text
    # The database keeps only the token's hash.
    stored = await conn.fetchval("SELECT link_hash FROM notices")
    assert token.encode() not in stored and len(stored) == 32
