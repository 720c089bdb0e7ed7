"""Reviewers: the queue and its filters, the case with evidence from the logs, decisions and sanctions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from registry.database import Connection
from registry.settings import Settings
from tests.disputes.support import PNG, wav_bytes
from tests.factories import (
    auth,
    bearer,
    contact_session,
    file_dispute,
    key_of,
    make_agency,
    make_agency_with_key,
    staff_token,
)

PHONE = "138 0013 8000"

INSERT_CHECK = """
    INSERT INTO checks (id, agency_id, phone_key, decision, reason, checked_at, valid_until)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
INSERT_PERMIT = """
    INSERT INTO permits (check_id, agency_id, phone_key, issued_at, valid_until) VALUES ($1, $2, $3, $4, $5)
"""
INSERT_ATTEMPT = """
    INSERT INTO attempts (agency_id, check_id, phone_key, occurred_at, channel, compliant, violation)
    VALUES ($1, $2, $3, $4, 'call', $5, $6)
"""


async def test_case_arrives_with_the_agencys_own_logs(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    agency = await make_agency(conn, "Harsh Collect")
    bystander = await make_agency(conn, "Other Lender")
    key = key_of(PHONE)
    now = datetime.now(UTC)
    incident = now - timedelta(hours=3)
    await conn.execute(
        "INSERT INTO rules (phone_key, kind, created_at) VALUES ($1, 'refuse', $2)", key, now - timedelta(days=40)
    )
    await conn.execute(
        "INSERT INTO rules (phone_key, kind, agency_id, created_at, expires_at, withdrawn_at) "
        "VALUES ($1, 'consent', $2, $3, $4, $5)",
        key,
        agency.id,
        now - timedelta(days=90),
        now + timedelta(days=90),
        now - timedelta(days=41),
    )
    denied = uuid.uuid4()
    await conn.execute(INSERT_CHECK, denied, agency.id, key, "deny", "refused", incident - timedelta(hours=1), None)
    old = uuid.uuid4()  # 31 days before the incident: outside the window
    await conn.execute(
        INSERT_CHECK,
        old,
        agency.id,
        key,
        "allow",
        "no_record",
        incident - timedelta(days=31),
        incident - timedelta(days=30),
    )
    await conn.execute(INSERT_PERMIT, old, agency.id, key, incident - timedelta(days=31), incident - timedelta(days=30))
    theirs = uuid.uuid4()  # another agency's check is not this agency's evidence
    await conn.execute(INSERT_CHECK, theirs, bystander.id, key, "deny", "refused", incident, None)
    await conn.execute(INSERT_ATTEMPT, agency.id, denied, key, incident, False, "permit_denied")
    await conn.execute(INSERT_ATTEMPT, agency.id, None, key, incident + timedelta(minutes=5), False, "no_permit")

    contact = await contact_session(conn, PHONE)
    ref = await file_dispute(conn, settings, contact, agency.id, occurred_at=incident.isoformat(), call_count=9)
    upload = await api.post(
        f"/v1/contact/disputes/{ref}/attachments",
        files={"file": ("call.wav", wav_bytes(), "audio/wav")},
        headers=auth(contact),
    )
    assert upload.status_code == 201
    reviewer = await staff_token(api, conn, "reviewer")

    case = await api.get(f"/v1/admin/disputes/{ref}", headers=auth(reviewer))
    assert case.status_code == 200, case.text
    body = case.json()
    evidence = body["evidence"]
    assert [c["check_id"] for c in evidence["checks"]] == [str(denied)]
    assert evidence["checks"][0]["decision"] == "deny" and evidence["checks"][0]["reason"] == "refused"
    assert evidence["permits"] == []
    assert [a["violation"] for a in evidence["attempts"]] == ["permit_denied", "no_permit"]
    assert evidence["summary"] == {
        "checks": 1,
        "denied_checks": 1,
        "permits": 0,
        "attempts": 2,
        "non_compliant_attempts": 2,
        "refusal_in_force_at_incident": True,
        "calls_claimed": 9,
        "rules": 2,
        "truncated": False,
        "rows_per_list": 1000,
    }
    assert [(r["kind"], r["in_force_at_incident"]) for r in evidence["rules"]] == [("consent", False), ("refuse", True)]
    assert evidence["rules"][0]["withdrawn_at"] is not None
    assert body["phone"] == "+86 138****8000" and body["agency_status"] == "active"
    assert [e["kind"] for e in body["timeline"]] == ["filed", "sent_to_agency", "attachment_added"]
    attachment = body["attachments"][0]
    download = await api.get(f"/v1/admin/disputes/{ref}/attachments/{attachment['id']}", headers=auth(reviewer))
    assert download.status_code == 200 and download.content == wav_bytes()
    assert download.headers["content-type"] == "audio/wav"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''" in download.headers["content-disposition"]
    # Contacts and agencies cannot fetch the case or the file through the admin API.
    assert (await api.get(f"/v1/admin/disputes/{ref}", headers=auth(contact))).status_code == 401


async def test_unknown_caller_evidence_spans_all_agencies(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    first, second = await make_agency(conn), await make_agency(conn)
    key = key_of(PHONE)
    at = datetime.now(UTC) - timedelta(hours=1)
    for agency in (first, second):
        await conn.execute(INSERT_CHECK, uuid.uuid4(), agency.id, key, "deny", "refused", at, None)
    contact = await contact_session(conn, PHONE)
    ref = await file_dispute(conn, settings, contact, None, caller_numbers=["13900139000"])
    reviewer = await staff_token(api, conn)
    evidence = (await api.get(f"/v1/admin/disputes/{ref}", headers=auth(reviewer))).json()["evidence"]
    assert evidence["scope"] == "all_agencies"
    assert {c["agency_id"] for c in evidence["checks"]} == {str(first.id), str(second.id)}
    suspend = await api.post(
        f"/v1/admin/disputes/{ref}/decision",
        headers=auth(reviewer),
        json={"outcome": "upheld", "note": "n", "sanction": "suspend"},
    )
    assert suspend.status_code == 422 and suspend.json()["errors"][0]["field"] == "sanction"


async def test_queue_filters_and_overdue_flags(api: httpx.AsyncClient, conn: Connection, settings: Settings) -> None:
    agency_a, agency_b = await make_agency(conn), await make_agency(conn)
    contact = await contact_session(conn, PHONE)
    late = await file_dispute(conn, settings, contact, agency_a.id)
    fresh = await file_dispute(conn, settings, contact, agency_b.id)
    unknown = await file_dispute(conn, settings, contact, None, caller_name="x")
    await conn.execute("UPDATE disputes SET agency_due_at = now() - interval '1 day' WHERE ref = $1", late)
    reviewer = await staff_token(api, conn)

    async def refs(query: str) -> set[str]:
        response = await api.get(f"/v1/admin/disputes{query}", headers=auth(reviewer))
        assert response.status_code == 200, response.text
        return {d["ref"] for d in response.json()["items"]}

    assert await refs("") == {late, fresh, unknown}
    assert await refs("?overdue=true") == {late}
    assert await refs("?overdue=false") == {fresh, unknown}
    assert await refs(f"?agency_id={agency_b.id}") == {fresh}
    assert await refs("?status=open") == {unknown}
    assert await refs("?status=awaiting_agency&overdue=true") == {late}
    item = next(
        d for d in (await api.get("/v1/admin/disputes", headers=auth(reviewer))).json()["items"] if d["ref"] == late
    )
    assert item["overdue"] and item["agency_overdue"] and not item["decision_overdue"]
    # Past the 30-day decision deadline too; the agency sees its case flagged as well.
    await conn.execute("UPDATE disputes SET decision_due_at = now() - interval '1 day' WHERE ref = $1", fresh)
    assert await refs("?overdue=true") == {late, fresh}
    bad = await api.get("/v1/admin/disputes?agency_id=nope", headers=auth(reviewer))
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "agency_id"
    assert (await api.get("/v1/admin/disputes")).status_code == 401


async def test_upheld_with_suspension_stops_the_agency_at_once(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    agency, key = await make_agency_with_key(conn)
    contact = await contact_session(conn, PHONE)
    ref = await file_dispute(conn, settings, contact, agency.id)
    reviewer = await staff_token(api, conn, "reviewer")
    assert (await api.get("/v1/disputes", headers=bearer(key))).status_code == 200

    bad = await api.post(
        f"/v1/admin/disputes/{ref}/decision",
        headers=auth(reviewer),
        json={"outcome": "dismissed", "note": "n", "sanction": "suspend"},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "sanction"
    no_note = await api.post(
        f"/v1/admin/disputes/{ref}/decision", headers=auth(reviewer), json={"outcome": "upheld", "sanction": "suspend"}
    )
    assert no_note.status_code == 400
    # Suspending is the admin role's, through a decision as directly: a reviewer is refused.
    upheld = {"outcome": "upheld", "note": "Called after a denied check.", "sanction": "suspend"}
    refused_reviewer = await api.post(f"/v1/admin/disputes/{ref}/decision", headers=auth(reviewer), json=upheld)
    assert refused_reviewer.status_code == 403 and refused_reviewer.json()["code"] == "admin_only"
    admin = await staff_token(api, conn, "admin")
    decided = await api.post(f"/v1/admin/disputes/{ref}/decision", headers=auth(admin), json=upheld)
    assert decided.status_code == 200, decided.text
    case = decided.json()
    assert case["status"] == "upheld" and case["sanction"] == "suspend" and case["agency_status"] == "suspended"
    assert case["decided_by"].startswith("admin")
    assert [e["kind"] for e in case["timeline"]][-2:] == ["upheld", "agency_suspended"]

    refused = await api.get("/v1/disputes", headers=bearer(key))
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("agency_suspended")
    again = await api.post(
        f"/v1/admin/disputes/{ref}/decision",
        headers=auth(reviewer),
        json={"outcome": "dismissed", "note": "changed my mind", "sanction": "none"},
    )
    assert again.status_code == 409
    seen = (await api.get(f"/v1/contact/disputes/{ref}", headers=auth(contact))).json()
    assert seen["status"] == "upheld" and seen["decision_note"] == "Called after a denied check."
    actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_log ORDER BY seq")]
    assert actions.index("agency.suspend") < actions.index("dispute.decide")


async def test_warning_keeps_the_agency_running(api: httpx.AsyncClient, conn: Connection, settings: Settings) -> None:
    agency, key = await make_agency_with_key(conn)
    contact = await contact_session(conn, PHONE)
    ref = await file_dispute(conn, settings, contact, agency.id)
    admin = await staff_token(api, conn, "admin")
    decided = await api.post(
        f"/v1/admin/disputes/{ref}/decision",
        headers=auth(admin),
        json={"outcome": "upheld", "note": "First offence.", "sanction": "warning"},
    )
    assert decided.status_code == 200
    assert decided.json()["sanction"] == "warning" and decided.json()["agency_status"] == "active"
    assert (await api.get(f"/v1/disputes/{ref}", headers=bearer(key))).json()["sanction"] == "warning"
    contact_view = (await api.get(f"/v1/contact/disputes/{ref}", headers=auth(contact))).json()
    assert "warning" not in [e["kind"] for e in contact_view["timeline"]]
    # Attachments are closed with the case.
    late = await api.post(
        f"/v1/contact/disputes/{ref}/attachments", files={"file": ("a.png", PNG, "image/png")}, headers=auth(contact)
    )
    assert late.status_code == 409
