"""Admin and complaint pages in Chromium: sign-in, roles, agencies and keys, figures, one contact per complaint."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from playwright.async_api import Browser, FilePayload, Page

from registry.database import Connection
from registry.settings import Settings
from tests.browser import browser_as_contact, browser_as_staff
from tests.browser import screenshot as shot
from tests.conftest import LiveServer
from tests.factories import (
    PASSWORD,
    bearer,
    contact_session,
    credit_code,
    file_dispute,
    key_of,
    make_agency,
    make_staff,
)


async def in_english(page: Page, base_url: str) -> Page:
    """The language switch's cookie, so a test that reads English words does not depend on the browser's locale."""
    await page.context.add_cookies([{"name": "lang", "value": "en", "url": base_url}])
    return page


async def test_admin_manages_agencies_and_keys_on_the_pages(
    api: httpx.AsyncClient,
    conn: Connection,
    live_server: LiveServer,
    browser: Browser,
) -> None:
    admin = await make_staff(conn, "admin")
    code = credit_code()
    page = await in_english(await browser.new_page(base_url=live_server.url), live_server.url)
    await page.goto("/admin/agencies")
    assert page.url.endswith("/admin/login")  # no session, no page
    await page.fill("#username", admin)
    await page.fill("#password", "wrong password!!")
    await page.click("button[type=submit]")
    assert "Wrong username or password" in await page.inner_text("#error")

    staff = await in_english(await browser_as_staff(browser, live_server.url, admin), live_server.url)
    await staff.goto("/admin/agencies")
    await staff.fill("#name", "Quick Cash Collections")
    await staff.fill("#credit_code", code)
    await staff.click("#new-agency button[type=submit]")
    await staff.wait_for_url("**/admin/agencies/*")
    assert await staff.inner_text("#agency-status") == "active"
    agency_page = staff.url
    await staff.click("#issue-key")
    key = await staff.inner_text("#new-key")
    assert key.startswith("rk_")
    await shot(staff, "admin-key-shown-once")
    assert (await api.get("/v1/disputes", headers=bearer(key))).status_code == 200
    await staff.goto(agency_page)  # shown once: the agency's page never shows it again
    assert await staff.query_selector("#new-key") is None

    await staff.fill("#reason", "licence lapsed")
    await staff.click("button[value=suspend]")
    await staff.wait_for_url("**/admin/agencies/*")
    assert await staff.inner_text("#agency-status") == "suspended"
    assert (await api.get("/v1/disputes", headers=bearer(key))).status_code == 403
    await staff.click("button[value=reinstate]")
    await staff.wait_for_url("**/admin/agencies/*")
    assert await staff.inner_text("#agency-status") == "active"
    await staff.click("#keys button.danger")
    await staff.wait_for_url("**/admin/agencies/*")
    assert (await api.get("/v1/disputes", headers=bearer(key))).status_code == 401

    await staff.click("text=Sign out")
    await staff.wait_for_url("**/admin/login")
    await staff.goto("/admin/agencies")
    assert staff.url.endswith("/admin/login")
    assert await conn.fetchval("SELECT count(*) FROM admin_sessions WHERE ended_at IS NOT NULL") == 1


async def test_reviewers_see_no_management_forms_and_are_refused(
    api: httpx.AsyncClient,
    conn: Connection,
    live_server: LiveServer,
    browser: Browser,
) -> None:
    agency = await make_agency(conn, "Watched Agency")
    reviewer = await make_staff(conn, "reviewer")
    staff = await in_english(await browser_as_staff(browser, live_server.url, reviewer), live_server.url)
    await staff.goto("/admin/agencies")
    assert await staff.query_selector("#new-agency") is None
    await staff.goto(f"/admin/agencies/{agency.id}")
    assert await staff.query_selector("#issue-key") is None
    assert "needs the admin role" in await staff.inner_text("main")
    # Posting the form anyway (with a valid CSRF token from the page) is refused.
    token = await staff.evaluate("document.cookie.split('; ').find(c => c.startsWith('csrftoken='))?.split('=')[1]")
    assert token
    refused = await staff.request.post(
        f"/admin/agencies/{agency.id}/status", form={"action": "suspend"}, headers={"x-csrftoken": token}
    )
    assert refused.status == 403
    assert (await conn.fetchval("SELECT status FROM agencies WHERE id = $1", agency.id)) == "active"
    # Without the CSRF token a form post is refused before it reaches the handler.
    forged = await staff.request.post(f"/admin/agencies/{agency.id}/status", form={"action": "suspend"})
    assert forged.status == 403


async def test_queue_filters_and_figures_chart(
    api: httpx.AsyncClient,
    conn: Connection,
    live_server: LiveServer,
    browser: Browser,
    settings: Settings,
) -> None:
    loud, calm = await make_agency(conn, "Loud Agency"), await make_agency(conn, "Calm Agency")
    key = key_of("13800138000")
    await conn.executemany(
        "INSERT INTO checks (id, agency_id, phone_key, decision, reason, checked_at) VALUES ($1, $2, $3, $4, $5, $6)",
        [
            (uuid.uuid4(), a, key, d, "refused" if d == "deny" else "no_record", datetime.now(UTC) - timedelta(hours=2))
            for a, d in [(loud.id, "deny")] * 8 + [(loud.id, "allow")] * 2 + [(calm.id, "allow")] * 5
        ],
    )
    contact = await contact_session(conn, "13800138000")
    late = await file_dispute(conn, settings, contact, loud.id)
    fresh = await file_dispute(conn, settings, contact, calm.id)
    await conn.execute("UPDATE disputes SET agency_due_at = now() - interval '2 days' WHERE ref = $1", late)
    reviewer = await make_staff(conn, "reviewer")
    staff = await in_english(await browser_as_staff(browser, live_server.url, reviewer), live_server.url)
    await staff.reload()
    rows = await staff.locator("#queue tbody tr").all_inner_texts()
    assert any(late in r and "overdue" in r for r in rows) and any(fresh in r for r in rows)
    await staff.select_option("#overdue", "yes")
    await staff.click("form.filters button")
    await staff.wait_for_url("**/admin/?*overdue=yes*")
    refs = await staff.locator("#queue tbody tr").evaluate_all("rows => rows.map(r => r.dataset.ref)")
    assert refs == [late]
    await shot(staff, "admin-queue-overdue")
    await staff.goto("/admin/stats")
    table = await staff.inner_text("#figures")
    assert "Loud Agency" in table and "80.0%" in table
    assert await staff.locator("#chart rect").count() == 6
    await shot(staff, "admin-figures")


async def test_a_contact_cannot_open_anothers_complaint_page(
    api: httpx.AsyncClient,
    conn: Connection,
    live_server: LiveServer,
    browser: Browser,
    settings: Settings,
) -> None:
    agency = await make_agency(conn)
    mine = await contact_session(conn, "13800138000")
    theirs = await contact_session(conn, "13900139000")
    ref = await file_dispute(conn, settings, mine, agency.id)
    page = await browser_as_contact(browser, live_server.url, theirs)
    response = await page.goto(f"/complaints/{ref}")
    assert response is not None and response.status == 404
    assert ref not in await page.inner_text("main")
    await shot(page, "complaint-of-another-contact")
    await page.goto("/complaints/")
    assert ref not in await page.inner_text("main")
    anonymous = await browser.new_page(base_url=live_server.url)
    await anonymous.goto(f"/complaints/{ref}")
    assert "/verify" in anonymous.url
    # And the owner can withdraw it from the page.
    page = await browser_as_contact(browser, live_server.url, mine, locale="en-US")
    await page.goto(f"/complaints/{ref}")
    await page.click("#withdraw")
    await page.wait_for_url(f"**/complaints/{ref}?notice=withdrawn")
    assert await page.get_attribute("#status", "data-status") == "withdrawn"
    assert await page.query_selector("#withdraw") is None
    await shot(page, "complaint-withdrawn-en")


async def test_bad_file_on_the_form_files_nothing(
    api: httpx.AsyncClient,
    conn: Connection,
    live_server: LiveServer,
    browser: Browser,
) -> None:
    agency = await make_agency(conn, "Some Agency")
    token = await contact_session(conn, "13800138000")
    page = await browser_as_contact(browser, live_server.url, token)
    await page.goto("/complaints/new")
    await page.select_option("#agency_id", str(agency.id))
    await page.check("input[value=threats]")
    await page.fill("#occurred_at", "2026-01-05T09:30")
    await page.fill("#description", "他们威胁我")
    await page.set_input_files(
        "#file", files=[FilePayload(name="录音.mp3", mimeType="audio/mpeg", buffer=b"MZ\x90\x00" + b"\x00" * 200)]
    )
    await page.click("button[type=submit]")
    assert "/complaints/new" in page.url or page.url.endswith("/complaints/")
    assert "文件须为录音、图片或 PDF" in await page.inner_text("#error")
    # What was typed is kept.
    assert await page.input_value("#description") == "他们威胁我"
    assert await page.is_checked("input[value=threats]")
    await shot(page, "complaint-bad-file-zh")
    assert await conn.fetchval("SELECT count(*) FROM disputes") == 0


async def test_staff_pages_are_chinese_first_and_english_after_the_switch(
    api: httpx.AsyncClient,
    conn: Connection,
    live_server: LiveServer,
    browser: Browser,
    settings: Settings,
) -> None:
    agency = await make_agency(conn, "Loud Agency")
    contact = await contact_session(conn, "13800138000")
    ref = await file_dispute(conn, settings, contact, agency.id)
    await conn.execute("UPDATE disputes SET agency_due_at = now() - interval '2 days' WHERE ref = $1", ref)
    reviewer = await make_staff(conn, "reviewer")
    context = await browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    staff = await context.new_page()
    await staff.goto("/admin/")
    assert staff.url.endswith("/admin/login")
    assert await staff.get_attribute("html", "lang") == "zh-CN"
    assert await staff.inner_text("h1") == "登录"
    await staff.fill("#username", reviewer)
    await staff.fill("#password", "wrong password!!")
    await staff.click("button[type=submit]")
    assert await staff.inner_text("#error") == "用户名或密码错误。"
    await staff.fill("#password", PASSWORD)
    await staff.click("button[type=submit]")
    await staff.wait_for_url("**/admin/")

    # Chinese by default: headings, filters, the status as words (the code stays in the form values).
    assert await staff.inner_text("h1") == "投诉"
    row = staff.locator(f"#queue tr[data-ref='{ref}']")
    assert "等待机构答复" in await row.inner_text() and "已逾期" in await row.inner_text()
    assert "awaiting_agency" not in await staff.inner_text("main")
    assert await staff.locator("#status option[value=awaiting_agency]").inner_text() == "等待机构答复"
    assert "退出登录" in await staff.inner_text("header")
    await shot(staff, "admin-queue-zh")
    await staff.click(f"text={ref}")
    await staff.wait_for_url(f"**/admin/disputes/{ref}")
    assert await staff.inner_text("#status") == "等待机构答复"
    assert "记录审核决定" in await staff.inner_text("#decision")
    await shot(staff, "admin-case-zh")

    # The visible switch: English, remembered by the same cookie as the contact pages.
    await staff.click("#lang a")
    await staff.wait_for_url(f"**/admin/disputes/{ref}")
    assert await staff.get_attribute("html", "lang") == "en"
    assert await staff.inner_text("#status") == "awaiting agency"
    await shot(staff, "admin-case-en")
    await staff.goto("/admin/")
    assert await staff.inner_text("h1") == "Disputes"
    row = staff.locator(f"#queue tr[data-ref='{ref}']")
    assert "awaiting agency" in await row.inner_text() and "overdue" in await row.inner_text()
    assert "中文" in await staff.inner_text("#lang")
    await shot(staff, "admin-queue-en")
    cookies = {c["name"]: c["value"] for c in await context.cookies()}
    assert cookies["lang"] == "en"
