"""The agency complained about: sees its own disputes only, the contact only masked, and answers."""

from __future__ import annotations

import httpx

from registry.database import Connection
from registry.settings import Settings
from tests.factories import auth, bearer, contact_session, file_dispute, make_agency_with_key, staff_token

PHONE = "+86 138 0013 8000"


async def test_agency_sees_its_own_disputes_masked_and_answers(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    agency_a, key_a = await make_agency_with_key(conn, "Agency A")
    agency_b, key_b = await make_agency_with_key(conn, "Agency B")
    contact = await contact_session(conn, PHONE)
    ref = await file_dispute(conn, settings, contact, agency_a.id)
    other = await file_dispute(conn, settings, contact, agency_b.id)
    await file_dispute(conn, settings, contact, None, caller_name="unknown caller")

    listed = await api.get("/v1/disputes", headers=bearer(key_a))
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [d["ref"] for d in items] == [ref]
    assert items[0]["phone"] == "+86 138****8000"
    assert "13800138000" not in listed.text and "phone_key" not in listed.text
    assert items[0]["status"] == "awaiting_agency" and items[0]["overdue"] is False

    # Agency B cannot read, list or answer A's dispute; the same 404 as a ref that does not exist.
    assert (await api.get(f"/v1/disputes/{ref}", headers=bearer(key_b))).status_code == 404
    assert (
        await api.post(f"/v1/disputes/{ref}/responses", json={"text": "not us"}, headers=bearer(key_b))
    ).status_code == 404
    assert [d["ref"] for d in (await api.get("/v1/disputes", headers=bearer(key_b))).json()["items"]] == [other]

    answered = await api.post(
        f"/v1/disputes/{ref}/responses", json={"text": "We called once, after a check."}, headers=bearer(key_a)
    )
    assert answered.status_code == 201, answered.text
    body = answered.json()
    assert body["status"] == "under_review" and body["agency_responded_at"]
    assert body["timeline"][-1] == {
        "at": body["timeline"][-1]["at"],
        "actor": "agency",
        "kind": "agency_response",
        "text": "We called once, after a check.",
        "visible_to_contact": True,
    }
    assert [
        d["ref"] for d in (await api.get("/v1/disputes?status=under_review", headers=bearer(key_a))).json()["items"]
    ] == [ref]
    assert (await api.get("/v1/disputes?status=awaiting_agency", headers=bearer(key_a))).json()["items"] == []

    # The contact is a party to the dispute: she reads the agency's answer (issue 11).
    seen = (await api.get(f"/v1/contact/disputes/{ref}", headers=auth(contact))).json()
    assert seen["status"] == "under_review"
    assert seen["timeline"][-1]["kind"] == "agency_response"
    assert seen["timeline"][-1]["text"] == "We called once, after a check."
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'dispute.respond'") == 1


async def test_agency_api_needs_a_key_and_valid_input(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    agency, key = await make_agency_with_key(conn)
    contact = await contact_session(conn, PHONE)
    ref = await file_dispute(conn, settings, contact, agency.id)
    assert (await api.get("/v1/disputes")).status_code == 401
    assert (await api.get("/v1/disputes", headers=bearer("rk_wrong"))).status_code == 401
    bad_status = await api.get("/v1/disputes?status=lost", headers=bearer(key))
    assert bad_status.status_code == 400 and bad_status.json()["errors"][0]["field"] == "status"
    empty = await api.post(f"/v1/disputes/{ref}/responses", json={"text": ""}, headers=bearer(key))
    assert empty.status_code == 400 and empty.json()["errors"][0]["field"] == "text"
    extra = await api.post(f"/v1/disputes/{ref}/responses", json={"text": "x", "tone": "calm"}, headers=bearer(key))
    assert extra.status_code == 400
    assert (await api.get("/v1/disputes/D-2026-ZZZZZZ", headers=bearer(key))).status_code == 404


async def test_closed_disputes_take_no_answers(api: httpx.AsyncClient, conn: Connection, settings: Settings) -> None:
    agency, key = await make_agency_with_key(conn)
    contact = await contact_session(conn, PHONE)
    ref = await file_dispute(conn, settings, contact, agency.id)
    reviewer = await staff_token(api, conn, "reviewer")
    decided = await api.post(
        f"/v1/admin/disputes/{ref}/decision",
        headers=auth(reviewer),
        json={"outcome": "dismissed", "note": "No call was reported or found.", "sanction": "none"},
    )
    assert decided.status_code == 200, decided.text
    late = await api.post(f"/v1/disputes/{ref}/responses", json={"text": "too late"}, headers=bearer(key))
    assert late.status_code == 409
    shown = (await api.get(f"/v1/disputes/{ref}", headers=bearer(key))).json()
    assert shown["outcome"] == "dismissed" and shown["decision_note"] == "No call was reported or found."
