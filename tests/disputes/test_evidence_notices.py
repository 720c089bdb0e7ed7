"""A reviewer sees whether the contact was told before the first call: the notice, its SMS and its link."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import msgspec
import pytest

from registry.database import Connection
from registry.settings import NoticeFigures, Settings
from tests.factories import auth, bearer, contact_session, file_dispute, make_agency_with_key, staff_token
from tests.sms import NOTICE, outbox

PHONE = "+8613800138000"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, notice=NoticeFigures())


async def test_the_case_shows_the_notice_and_its_delivery(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    agency, key = await make_agency_with_key(conn, "安心资产管理有限公司")
    asked = await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))
    assert asked.json()["reason"] == "notice_pending"
    await outbox(conn, PHONE, containing=NOTICE)
    contact = await contact_session(conn, PHONE)
    ref = await file_dispute(conn, settings, contact, agency.id, occurred_at=datetime.now(UTC).isoformat())
    reviewer = await staff_token(api, conn, "reviewer")

    case = (await api.get(f"/v1/admin/disputes/{ref}", headers=auth(reviewer))).json()["evidence"]
    [notice] = case["notices"]
    assert (notice["agency_id"], notice["agency_name"], notice["status"]) == (
        str(agency.id),
        "安心资产管理有限公司",
        "sent",
    )
    assert notice["check_id"] == asked.json()["check_id"] and notice["sent_at"] and notice["attempts"] == 1
    [check] = case["checks"]
    assert check["reason"] == "notice_pending"

    api.cookies.set("admin_session", reviewer)
    page = await api.get(f"/admin/disputes/{ref}", headers={"Accept-Language": "en"})
    assert page.status_code == 200, page.text[:300]
    assert 'id="evidence-notices"' in page.text and 'data-code="sent"' in page.text


async def test_staff_set_a_budget_on_the_agency_page_and_see_notices_per_day(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    agency, key = await make_agency_with_key(conn, "Budgeted Collect")
    await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))
    admin = await staff_token(api, conn, "admin")
    api.cookies.set("admin_session", admin)
    page = await api.get(f"/admin/agencies/{agency.id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and 'action="/admin/agencies/' in page.text and "Notice budget" in page.text
    csrf = {"x-csrftoken": api.cookies["csrftoken"]}
    saved = await api.post(f"/admin/agencies/{agency.id}/notice-budget", data={"daily": "12"}, headers=csrf)
    assert saved.status_code == 303
    assert await conn.fetchval("SELECT notice_daily_budget FROM agencies WHERE id = $1", agency.id) == 12
    cleared = await api.post(f"/admin/agencies/{agency.id}/notice-budget", data={"daily": ""}, headers=csrf)
    assert cleared.status_code == 303
    assert await conn.fetchval("SELECT notice_daily_budget FROM agencies WHERE id = $1", agency.id) is None
    stats = await api.get("/admin/stats", headers={"Accept-Language": "en"})
    assert 'id="notices-by-day"' in stats.text and "Budgeted Collect" in stats.text
