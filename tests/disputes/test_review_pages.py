"""The staff's review journey in a real Chromium, in Chinese and in English, on a 360x740 phone and a
1280x800 desk: sign in, the queue, a case with evidence and files (played and shown in the page,
downloaded with their Chinese names), a decision refused with the note kept, then recorded.
axe-core checks every staff page on the way (the contact pages' sweep is tests/pages/test_accessibility.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize

from registry.database import Connection
from registry.jurisdiction import CHINA
from registry.settings import Settings
from tests.axe import Sweep
from tests.browser import PHONE_SCREEN, screenshot
from tests.conftest import LiveServer
from tests.disputes.support import PDF, png_bytes, wav_bytes
from tests.factories import PASSWORD, auth, bearer, contact_session, file_dispute, make_agency_with_key, make_staff

CONTACT = "+8613800138000"
DESK: ViewportSize = {"width": 1280, "height": 800}
FILES = [
    ("通话录音.wav", wav_bytes(), "audio/wav"),
    ("催收短信截图.png", png_bytes(), "image/png"),
    ("律师函.pdf", PDF, "application/pdf"),
]
# Codes an agency's records and the API use; a Chinese reviewer reads words instead.
CODES = ("deny", "refused", "permit_denied", "no_permit", "called_after_refusal", "refuse", "audio/wav", "call")


async def looked_at(page: Page, sweep: Sweep, name: str) -> None:
    """axe over the page, screenshots on the phone and on the desk, and no sideways scrolling on the phone."""
    await sweep.check(page, name)
    await screenshot(page, f"{name}-360")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_SCREEN["width"], f"{name}: {width}px wide on a 360-px screen"
    await page.set_viewport_size(DESK)
    await screenshot(page, f"{name}-1280")
    await page.set_viewport_size(PHONE_SCREEN)


async def evidence(api: httpx.AsyncClient, conn: Connection, settings: Settings) -> tuple[str, str, datetime]:
    """A refusal, an agency that checks, is denied and calls anyway (twice), and her complaint with three
    files; the agency's name, the complaint's ref and the time of the call the agency reported."""
    agency, key = await make_agency_with_key(conn, "雷霆资产管理有限公司")
    token = await contact_session(conn, CONTACT)
    refused = await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token))
    assert refused.status_code == 201, refused.text
    await conn.execute("UPDATE rules SET created_at = created_at - interval '1 hour'")
    check = await api.post("/v1/checks", json={"phone": CONTACT}, headers=bearer(key))
    assert check.json()["reason"] == "refused", check.text
    called = (datetime.now(UTC) - timedelta(minutes=30)).replace(microsecond=0)
    for body in ({"check_id": check.json()["check_id"]}, {"phone": CONTACT}):
        attempt = await api.post(
            "/v1/attempts", headers=bearer(key), json={**body, "occurred_at": called.isoformat(), "channel": "call"}
        )
        assert attempt.status_code == 201, attempt.text
    ref = await file_dispute(
        conn,
        settings,
        token,
        agency.id,
        categories=["called_after_refusal", "impersonation"],
        occurred_at=called.isoformat(),
        description="对方自称法院，说要起诉我父母。我早已登记拒绝来电。",
    )
    for name, data, content_type in FILES:
        sent = await api.post(
            f"/v1/contact/disputes/{ref}/attachments", files={"file": (name, data, content_type)}, headers=auth(token)
        )
        assert sent.status_code == 201, sent.text
    return agency.name, ref, called


@pytest.mark.parametrize("language", ["zh_CN", "en"])
async def test_a_reviewer_decides_a_case_on_a_phone_and_a_desk(
    language: str,
    api: httpx.AsyncClient,
    conn: Connection,
    live_server: LiveServer,
    browser: Browser,
    settings: Settings,
) -> None:
    zh = language == "zh_CN"
    agency_name, ref, called = await evidence(api, conn, settings)
    reviewer = await make_staff(conn, "reviewer")
    admin = await make_staff(conn, "admin")
    sweep = Sweep()
    # axe's script is injected past the pages' Content-Security-Policy (which allows none).
    context = await browser.new_context(base_url=live_server.url, viewport=PHONE_SCREEN, bypass_csp=True)
    await context.add_cookies([{"name": "lang", "value": language, "url": live_server.url}])
    page = await context.new_page()

    # 1. Sign in.
    await page.goto("/admin/")
    assert page.url.endswith("/admin/login")
    await looked_at(page, sweep, f"staff-1-sign-in-{language}")
    await page.fill("#username", reviewer)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/admin/")

    # 2. The queue: her complaint, filed a moment ago, in Beijing time.
    row = page.locator(f"#queue tr[data-ref='{ref}']")
    assert agency_name in await row.inner_text()
    await looked_at(page, sweep, f"staff-2-queue-{language}")

    # 3. The case.
    await page.click(f"text={ref}")
    await page.wait_for_url(f"**/admin/disputes/{ref}")
    beijing = called.astimezone(CHINA.display_zone)
    incident = await page.inner_text("#incident")
    assert beijing.strftime("%Y-%m-%d %H:%M") in incident
    assert f"UTC {called:%Y-%m-%d %H:%M}" in incident
    # Where the evidence meets the agency's records, both times: the attempt the agency reported at `called`.
    attempts = await page.inner_text("#evidence-attempts")
    assert beijing.strftime("%Y-%m-%d %H:%M:%S") in attempts and f"UTC {called:%Y-%m-%d %H:%M:%S}" in attempts
    ticked = await page.inner_text("#categories")
    if zh:
        assert "拒绝后仍来电" in ticked and "我已登记拒绝，仍然打来" in ticked
        tables = " ".join([await page.inner_text(f"#evidence-{t}") for t in ("checks", "attempts", "rules")])
        tables += await page.inner_text("#files") + await page.inner_text("#timeline")
        raw = [code for code in CODES if code in tables]
        assert not raw, f"raw codes on the Chinese case page: {raw}"
    else:
        assert "They called after I refused" in ticked
    assert "我早已登记拒绝来电" in await page.inner_text("#account")
    # The recording plays in the page, the image shows, and each file downloads with its Chinese name.
    duration = await page.locator("#files audio").evaluate(
        """a => new Promise((done, fail) => {
            if (a.readyState >= 1) done(a.duration);
            a.addEventListener("loadedmetadata", () => done(a.duration));
            a.addEventListener("error", () => fail(new Error("the recording does not load")));
            a.load();
        })"""
    )
    assert 0.1 < duration < 0.3
    await page.locator("#files img").scroll_into_view_if_needed()
    assert await page.locator("#files img").evaluate("i => i.decode().then(() => i.naturalWidth)") == 240
    for name, data, _ in FILES:
        async with page.expect_download() as download:
            await page.click(f"#files a:text-is('{name}')")
        assert (await download.value).suggested_filename == name
        assert (await (await download.value).path()).read_bytes() == data
    await looked_at(page, sweep, f"staff-3-case-{language}")

    # 4. A warning on a dismissed complaint is refused: the form comes back with her note and the choice.
    note = "对方否认，但通话录音中自称法院。" if zh else "The agency denies it, but the recording says court."
    await page.check("input[name=outcome][value=dismissed]")
    await page.select_option("#sanction", "warning")
    await page.fill("#note", note)
    async with page.expect_response(f"**/admin/disputes/{ref}/decision") as refused:
        await page.click("#decision button[type=submit]")
    assert (await refused.value).status == 422
    await page.wait_for_selector("#error")
    assert await page.inner_text("#error") == (
        "只有成立的投诉才能附加处罚。" if zh else "Only an upheld complaint carries a sanction."
    )
    assert await page.input_value("#note") == note
    assert await page.is_checked("input[name=outcome][value=dismissed]")
    assert await page.input_value("#sanction") == "warning"
    await looked_at(page, sweep, f"staff-4-decision-refused-{language}")

    # 5. Upheld with a warning: recorded.
    await page.check("input[name=outcome][value=upheld]")
    await page.click("#decision button[type=submit]")
    await page.wait_for_url(f"**/admin/disputes/{ref}?notice=decided")
    assert await page.get_attribute("#status", "data-status") == "upheld"
    assert note in await page.inner_text("#timeline")
    await looked_at(page, sweep, f"staff-5-decided-{language}")

    # 6. The admin's pages: agencies, one agency with its forms, figures, a case that does not exist.
    await page.click("header button[type=submit]")  # sign out
    await page.wait_for_url("**/admin/login")
    await page.goto("/admin/")
    await page.fill("#username", admin)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/admin/")
    for path, name in (
        ("/admin/agencies", "agencies"),
        ("/admin/?status=upheld", "queue-filtered"),
        ("/admin/stats", "figures"),
        ("/admin/disputes/D-2000-AAAAAA", "no-such-case"),
        ("/admin/no-such-page", "no-such-page"),
    ):
        await page.goto(path)
        await looked_at(page, sweep, f"staff-6-{name}-{language}")
    await page.goto("/admin/agencies")
    await page.click(f"text={agency_name}")
    await page.wait_for_url("**/admin/agencies/*")
    await looked_at(page, sweep, f"staff-6-agency-{language}")
    sweep.assert_clean()
