"""Figures per agency: checks, deny rate, non-compliant attempts, upheld complaints per 10,000 checks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from registry.database import Connection
from registry.settings import Settings
from tests.factories import auth, contact_session, file_dispute, key_of, make_agency, staff_token


async def test_figures_per_agency(api: httpx.AsyncClient, conn: Connection, settings: Settings) -> None:
    busy, quiet, idle = (
        await make_agency(conn, "Busy"),
        await make_agency(conn, "Quiet"),
        await make_agency(conn, "Idle"),
    )
    now = datetime.now(UTC)
    key = key_of("13800138000")
    rows = [(busy.id, "deny")] * 30 + [(busy.id, "allow")] * 70 + [(quiet.id, "allow")] * 4
    await conn.executemany(
        "INSERT INTO checks (id, agency_id, phone_key, decision, reason, checked_at) VALUES ($1, $2, $3, $4, $5, $6)",
        [
            (uuid.uuid4(), a, key, d, "refused" if d == "deny" else "no_record", now - timedelta(hours=1))
            for a, d in rows
        ],
    )
    # Outside the 30-day window: not counted.
    await conn.execute(
        "INSERT INTO checks (id, agency_id, phone_key, decision, reason, checked_at) VALUES ($1, $2, $3, 'deny', "
        "'refused', $4)",
        uuid.uuid4(),
        quiet.id,
        key,
        now - timedelta(days=45),
    )
    await conn.executemany(
        "INSERT INTO attempts (agency_id, phone_key, occurred_at, channel, compliant, violation) "
        "VALUES ($1, $2, $3, 'call', $4, $5)",
        [(busy.id, key, now, False, "no_permit")] * 3 + [(busy.id, key, now, True, None)] * 2,
    )
    contact = await contact_session(conn, "13800138000")
    ref = await file_dispute(conn, settings, contact, busy.id)
    await file_dispute(conn, settings, contact, busy.id)
    reviewer = await staff_token(api, conn)
    await api.post(
        f"/v1/admin/disputes/{ref}/decision",
        headers=auth(reviewer),
        json={"outcome": "upheld", "note": "yes", "sanction": "warning"},
    )

    response = await api.get("/v1/admin/stats", headers=auth(reviewer))
    assert response.status_code == 200, response.text
    figures = {a["name"]: a for a in response.json()["agencies"]}
    assert [a["name"] for a in response.json()["agencies"]] == ["Busy", "Quiet", "Idle"]
    assert figures["Busy"] | {"agency_id": None} == {
        "agency_id": None,
        "name": "Busy",
        "status": "active",
        "checks": 100,
        "denied": 30,
        "deny_rate": 0.3,
        "attempts": 5,
        "non_compliant_attempts": 3,
        "complaints": 2,
        "upheld_complaints": 1,
        "upheld_per_10k_checks": 100.0,
        "notices": 0,
        "notice_daily_budget": None,
    }
    assert figures["Quiet"]["checks"] == 4 and figures["Quiet"]["deny_rate"] == 0.0
    assert figures["Idle"]["checks"] == 0 and figures["Idle"]["deny_rate"] is None
    assert figures["Idle"]["upheld_per_10k_checks"] is None
    assert idle.id
    longer = (await api.get("/v1/admin/stats?days=60", headers=auth(reviewer))).json()
    assert {a["name"]: a["checks"] for a in longer["agencies"]}["Quiet"] == 5
    bad = await api.get("/v1/admin/stats?days=0", headers=auth(reviewer))
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "days"
