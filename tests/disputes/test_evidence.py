"""A case with more rows than a list shows (issue 9, item 7): the rows nearest the incident, and a word that the
lists were cut. Before, the reviewer saw the oldest 1,000 rows of the window and no sign of the rest."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from registry.database import Connection
from registry.disputes import evidence
from registry.settings import Settings
from tests.factories import PASSWORD, auth, contact_session, file_dispute, key_of, make_agency, make_staff, staff_token

PHONE = "138 0013 8000"
# Many checks early in the window (far from the incident), and a few around it.
FAR, NEAR = evidence.MAX_ROWS, 10
ADD_CHECKS = """
    INSERT INTO checks (id, agency_id, phone_key, decision, reason, checked_at)
    SELECT gen_random_uuid(), $1, $2, 'deny', 'refused', $3::timestamptz + make_interval(mins => n)
    FROM generate_series(0, $4::int - 1) AS n
"""


async def test_a_long_history_shows_the_rows_nearest_the_incident(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    agency = await make_agency(conn, "Busy Collect")
    incident = datetime.now(UTC) - timedelta(hours=3)
    await conn.execute(ADD_CHECKS, agency.id, key_of(PHONE), incident - timedelta(days=29), FAR)
    await conn.execute(ADD_CHECKS, agency.id, key_of(PHONE), incident - timedelta(minutes=5), NEAR)
    contact = await contact_session(conn, PHONE)
    ref = await file_dispute(conn, settings, contact, agency.id, occurred_at=incident.isoformat())
    reviewer = await staff_token(api, conn, "reviewer")

    case = (await api.get(f"/v1/admin/disputes/{ref}", headers=auth(reviewer))).json()["evidence"]
    summary = case["summary"]
    assert summary["checks"] == summary["denied_checks"] == FAR + NEAR  # counted in full
    assert summary["truncated"] is True and summary["rows_per_list"] == evidence.MAX_ROWS
    shown = [datetime.fromisoformat(c["checked_at"]) for c in case["checks"]]
    assert len(shown) == evidence.MAX_ROWS
    assert shown == sorted(shown)  # in time order
    # All ten around the incident are there; the oldest ten of the window are the ones left out.
    assert sum(abs(at - incident) < timedelta(minutes=10) for at in shown) == NEAR
    assert min(shown) == incident - timedelta(days=29) + timedelta(minutes=NEAR)

    # The case page says so too.
    username = await make_staff(conn, "reviewer")
    await api.get("/admin/login")
    api.cookies.set("lang", "en")
    signed = await api.post(
        "/admin/login",
        data={"username": username, "password": PASSWORD},
        headers={"x-csrftoken": api.cookies["csrftoken"]},
    )
    assert signed.status_code == 303, signed.text
    page = await api.get(f"/admin/disputes/{ref}")
    assert page.status_code == 200
    assert "Each list shows the 1000 rows nearest the incident; the counts include all of them." in page.text


async def test_a_short_history_is_whole(api: httpx.AsyncClient, conn: Connection, settings: Settings) -> None:
    agency = await make_agency(conn)
    incident = datetime.now(UTC) - timedelta(hours=3)
    await conn.execute(ADD_CHECKS, agency.id, key_of(PHONE), incident - timedelta(days=2), 3)
    contact = await contact_session(conn, PHONE)
    ref = await file_dispute(conn, settings, contact, agency.id, occurred_at=incident.isoformat())
    reviewer = await staff_token(api, conn, "reviewer")
    case = (await api.get(f"/v1/admin/disputes/{ref}", headers=auth(reviewer))).json()["evidence"]
    assert case["summary"]["checks"] == 3 and case["summary"]["truncated"] is False
    assert len(case["checks"]) == 3
    assert uuid.UUID(case["checks"][0]["check_id"])
