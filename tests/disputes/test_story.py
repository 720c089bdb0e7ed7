"""The story of issue 5, end to end, as the people in it would live it (real HTTP, real Chromium).

A contact refuses; the agency checks, is denied, calls anyway and reports it (and calls again
without reporting a check); the contact files a complaint with a recording on the pages; the
case shows the denied check and the unpermitted calls; the agency answers; a reviewer upholds
it with suspension on the admin pages; the agency's next check is 403; the audit chain
verifies, and fails after a row is altered by hand.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.async_api import Browser, FilePayload

from registry.database import Connection
from registry.jurisdiction import CHINA
from tests.browser import browser_as_contact, browser_as_staff
from tests.browser import screenshot as shot
from tests.conftest import LiveServer
from tests.disputes.support import wav_bytes
from tests.factories import auth, bearer, make_agency_with_key, make_staff, sign_in

CONTACT = "+8613800138000"


def audit_verify(database_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "REGISTRY_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "registry", "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def test_harassed_contact_to_suspended_agency(
    api: httpx.AsyncClient,
    conn: Connection,
    live_server: LiveServer,
    database_url: str,
    tmp_path: Path,
    browser: Browser,
) -> None:
    agency, key = await make_agency_with_key(conn, "Thunder Recovery Ltd")
    # An admin: suspending is the admin role's (a reviewer may uphold and warn).
    reviewer = await make_staff(conn, "admin")

    # 1. The contact refuses every call about anyone's debt.
    # The contact's real way in: a code by SMS (the development outbox), traded for a token.
    token = await sign_in(api, conn, CONTACT, address=None)
    refused = await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token))
    assert refused.status_code == 201, refused.text
    # ...an hour ago: the calls below come after it (the form gives the incident to the minute only).
    await conn.execute("UPDATE rules SET created_at = created_at - interval '1 hour'")

    # 2. The agency checks, is denied, calls anyway and reports it; then calls again and reports no check.
    check = await api.post("/v1/checks", json={"phone": "138 0013 8000"}, headers=bearer(key))
    assert check.status_code == 200, check.text
    assert (check.json()["decision"], check.json()["reason"]) == ("deny", "refused")
    called = datetime.now(UTC) - timedelta(minutes=30)
    attempt = await api.post(
        "/v1/attempts",
        headers=bearer(key),
        json={"check_id": check.json()["check_id"], "occurred_at": called.isoformat(), "channel": "call"},
    )
    assert attempt.status_code == 201, attempt.text
    assert attempt.json()["compliant"] is False and attempt.json()["violation"] == "permit_denied"
    again = await api.post(
        "/v1/attempts",
        headers=bearer(key),
        json={"phone": CONTACT, "occurred_at": (called + timedelta(minutes=10)).isoformat(), "channel": "call"},
    )
    assert again.status_code == 201 and again.json()["violation"] == "no_permit"

    # 3. The contact files a complaint with a recording, on the pages, in Chinese (the default).
    page = await browser_as_contact(browser, live_server.url, token)
    await page.goto("/complaints/new")
    assert await page.get_attribute("html", "lang") == "zh-CN"
    await page.select_option("#agency_id", str(agency.id))
    await page.check("input[value=called_after_refusal]")
    await page.check("input[value=impersonation]")
    await page.fill(
        "#occurred_at", (called + timedelta(minutes=10)).astimezone(CHINA.display_zone).strftime("%Y-%m-%dT%H:%M")
    )
    await page.fill("#call_count", "6")
    await page.fill("#description", "对方自称法院，说要起诉我父母。我早已登记拒绝来电。")
    await page.set_input_files(
        "#file", files=[FilePayload(name="通话录音.wav", mimeType="audio/wav", buffer=wav_bytes())]
    )
    await shot(page, "story-1-complaint-form")
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(r".*/complaints/D-\d{4}-[0-9A-Z]{6}\?filed=1$"))
    ref = page.url.split("/complaints/")[1].split("?")[0]
    assert await page.get_attribute("#status", "data-status") == "awaiting_agency"
    assert "通话录音.wav" in await page.inner_text("main")
    await shot(page, "story-2-complaint-filed")

    # 4. The reviewer signs in; the case shows the denied check and the unpermitted calls.
    staff = await browser_as_staff(browser, live_server.url, reviewer)
    assert ref in await staff.inner_text("#queue")
    await staff.click(f"text={ref}")
    await staff.wait_for_url(f"**/admin/disputes/{ref}")
    checks = await staff.inner_text("#evidence-checks")
    assert "deny" in checks and "refused" in checks and check.json()["check_id"] in checks
    attempts = await staff.inner_text("#evidence-attempts")
    assert "check was denied" in attempts and "no permit" in attempts
    assert "refuse" in await staff.inner_text("#evidence-rules")
    assert "refusal in force at the incident: yes" in await staff.inner_text("#evidence-summary")
    assert "non-compliant: 2" in await staff.inner_text("#evidence-summary")
    await shot(staff, "story-3-case-with-evidence")

    # 5. The agency answers over its API.
    listed = await api.get("/v1/disputes", headers=bearer(key))
    assert [d["ref"] for d in listed.json()["items"]] == [ref]
    assert listed.json()["items"][0]["phone"] == "+86 138****8000"
    answer = await api.post(
        f"/v1/disputes/{ref}/responses",
        headers=bearer(key),
        json={"text": "Our collector misread the check result."},
    )
    assert answer.status_code == 201 and answer.json()["status"] == "under_review"

    # 6. The reviewer upholds it with suspension.
    await staff.reload()
    assert "Our collector misread the check result." in await staff.inner_text("#timeline")
    await staff.check("input[name=outcome][value=upheld]")
    await staff.select_option("#sanction", "suspend")
    await staff.fill("#note", "Called twice after a denied check; claimed to be a court.")
    await staff.click("#decision button[type=submit]")
    await staff.wait_for_url(f"**/admin/disputes/{ref}?notice=decided")
    assert await staff.inner_text("#status") == "upheld"
    assert await staff.inner_text("#agency-status") == "suspended"
    await shot(staff, "story-4-upheld-and-suspended")

    # 7. The contact sees the outcome, in Chinese and in English.
    await page.goto(f"/complaints/{ref}")
    assert await page.get_attribute("#status", "data-status") == "upheld"
    assert "Called twice after a denied check" in await page.inner_text("main")
    await shot(page, "story-5-contact-sees-upheld-zh")
    await page.goto(f"/lang/en?next=/complaints/{ref}")
    await page.wait_for_url(f"**/complaints/{ref}")
    assert await page.get_attribute("html", "lang") == "en"
    await shot(page, "story-6-contact-sees-upheld-en")

    # 8. The agency's next check is refused at once.
    blocked = await api.post("/v1/checks", json={"phone": "13900139000"}, headers=bearer(key))
    assert blocked.status_code == 403
    assert blocked.headers["content-type"].startswith("application/problem+json")

    # 9. The audit chain verifies; a row altered behind the service's back is named.
    intact = audit_verify(database_url, tmp_path)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "intact" in intact.stdout
    seq = await conn.fetchval("SELECT seq FROM audit_log WHERE action = 'dispute.decide'")
    async with conn.transaction():
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute('UPDATE audit_log SET details = \'{"outcome": "dismissed"}\' WHERE seq = $1', seq)
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    broken = audit_verify(database_url, tmp_path)
    assert broken.returncode == 1
    assert f"BROKEN at row {seq}" in broken.stdout
