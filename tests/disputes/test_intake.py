"""A contact files a complaint, attaches evidence, follows it and may withdraw it, over real HTTP."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import httpx

from registry.database import Connection
from registry.settings import Settings
from tests.disputes.support import PDF, PNG, wav_bytes
from tests.factories import auth, complaint, contact_session, file_dispute, key_of, make_agency, one_row

REF = re.compile(r"^D-\d{4}-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{6}$")
PHONE = "138 0013 8000"


async def test_complaint_against_an_agency_waits_for_its_answer(api: httpx.AsyncClient, conn: Connection) -> None:
    agency = await make_agency(conn, "Fast Collect")
    token = await contact_session(conn, PHONE)
    response = await api.post("/v1/contact/disputes", json=complaint(agency.id), headers=auth(token))
    assert response.status_code == 201, response.text
    filed = response.json()
    assert REF.match(filed["ref"]) and filed["ref"].startswith(f"D-{datetime.now(UTC).year}-")
    assert filed["status"] == "awaiting_agency"
    due = datetime.fromisoformat(filed["agency_due_at"]) - datetime.fromisoformat(filed["created_at"])
    assert due == timedelta(days=7)
    assert datetime.fromisoformat(filed["decision_due_at"]) - datetime.fromisoformat(filed["created_at"]) == timedelta(
        days=30
    )

    shown = (await api.get(f"/v1/contact/disputes/{filed['ref'].lower()}", headers=auth(token))).json()
    assert shown["status"] == "awaiting_agency"
    assert shown["agency_name"] == "Fast Collect"
    assert shown["categories"] == ["called_after_refusal", "impersonation"]
    assert [e["kind"] for e in shown["timeline"]] == ["filed", "sent_to_agency"]
    listed = (await api.get("/v1/contact/disputes", headers=auth(token))).json()["items"]
    assert [d["ref"] for d in listed] == [filed["ref"]]

    row = await one_row(conn, "SELECT * FROM disputes WHERE ref = $1", filed["ref"])
    assert bytes(row["phone_key"]) == key_of(PHONE)
    assert row["phone_hint"] == "+86 138****8000"
    assert "13800138000" not in str(dict(row))
    audit = await one_row(conn, "SELECT actor, action FROM audit_log WHERE subject = $1", f"dispute:{filed['ref']}")
    assert audit["action"] == "dispute.file" and audit["actor"].startswith("contact:")
    assert "13800138000" not in audit["actor"]


async def test_unknown_caller_keeps_only_keys_and_masked_numbers(api: httpx.AsyncClient, conn: Connection) -> None:
    token = await contact_session(conn, PHONE)
    body = complaint(
        None,
        caller_name="Legal dept of some bank",
        caller_numbers=["+86 139 0013 9000", "13900139000", "010 6552 9988"],
    )
    filed = await api.post("/v1/contact/disputes", json=body, headers=auth(token))
    assert filed.status_code == 201, filed.text
    ref = filed.json()["ref"]
    shown = (await api.get(f"/v1/contact/disputes/{ref}", headers=auth(token))).json()
    assert shown["status"] == "open"
    assert shown["agency_id"] is None
    assert shown["caller_numbers"] == ["+86 139****9000", "+86 106***9988"]
    row = await one_row(conn, "SELECT caller_number_keys, caller_number_hints FROM disputes WHERE ref = $1", ref)
    assert [bytes(k) for k in row["caller_number_keys"]] == [key_of("13900139000"), key_of("01065529988")]
    assert [e["kind"] for e in shown["timeline"]] == ["filed"]


async def test_bad_complaints_name_the_field(api: httpx.AsyncClient, conn: Connection) -> None:
    agency = await make_agency(conn)
    token = await contact_session(conn, PHONE)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    cases = [
        (complaint(agency.id, categories=["rude"]), 400, "categories[0]"),
        (complaint(agency.id, categories=[]), 400, "categories"),
        (complaint(agency.id, description="x" * 4001), 400, "description"),
        (complaint(agency.id, occurred_at="2026-01-01T10:00:00"), 400, "occurred_at"),
        (complaint(agency.id, call_count=-1), 400, "call_count"),
        (complaint(None), 422, "agency_id"),
        (complaint(agency.id, occurred_at=future), 422, "occurred_at"),
        (complaint(None, caller_numbers=["12345"]), 422, "caller_numbers[0]"),
        ({**complaint(None), "agency_id": "00000000-0000-0000-0000-000000000000"}, 422, "agency_id"),
        (complaint(agency.id, description="   "), 422, "description"),
    ]
    for body, status, field in cases:
        response = await api.post("/v1/contact/disputes", json=body, headers=auth(token))
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in response.json()["errors"]], (field, response.json())
    unknown = await api.post("/v1/contact/disputes", json=complaint(agency.id, mood="angry"), headers=auth(token))
    assert unknown.status_code == 400
    assert "unknown field `mood`" in unknown.json()["detail"]
    assert await conn.fetchval("SELECT count(*) FROM disputes") == 0


async def test_a_contact_session_is_required(api: httpx.AsyncClient, conn: Connection) -> None:
    agency = await make_agency(conn)
    assert (await api.post("/v1/contact/disputes", json=complaint(agency.id))).status_code == 401
    bad = await api.post("/v1/contact/disputes", json=complaint(agency.id), headers=auth("rc_not-a-session"))
    assert bad.status_code == 401
    assert (await api.get("/v1/contact/disputes/D-2026-AAAAAA")).status_code == 401


async def test_attachments_are_typed_by_content(api: httpx.AsyncClient, conn: Connection, settings: Settings) -> None:
    agency = await make_agency(conn)
    token = await contact_session(conn, PHONE)
    ref = await file_dispute(conn, settings, token, agency.id)
    url = f"/v1/contact/disputes/{ref}/attachments"
    for name, data, expected in [
        ("call.wav", wav_bytes(), "audio/wav"),
        ("screen.bin", PNG, "image/png"),  # the name says nothing; the bytes say PNG
        ("letter.pdf", PDF, "application/pdf"),
    ]:
        response = await api.post(url, files={"file": (name, data, "application/octet-stream")}, headers=auth(token))
        assert response.status_code == 201, response.text
        assert response.json()["content_type"] == expected
        assert response.json()["size"] == len(data)

    fake = await api.post(
        url,
        files={"file": ("recording.mp3", b"<html><script>alert(1)</script></html>", "audio/mpeg")},
        headers=auth(token),
    )
    assert fake.status_code == 422
    assert fake.json()["errors"][0]["field"] == "file"
    missing = await api.post(url, files={"other": ("a.wav", wav_bytes(), "audio/wav")}, headers=auth(token))
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "file"
    too_big = await api.post(url, files={"file": ("big.wav", wav_bytes(660), "audio/wav")}, headers=auth(token))
    assert too_big.status_code == 413, too_big.text
    assert too_big.headers["content-type"].startswith("application/problem+json")

    shown = (await api.get(f"/v1/contact/disputes/{ref}", headers=auth(token))).json()
    assert [a["filename"] for a in shown["attachments"]] == ["call.wav", "screen.bin", "letter.pdf"]
    assert [e["kind"] for e in shown["timeline"]][-3:] == ["attachment_added"] * 3
    assert await conn.fetchval("SELECT count(*) FROM dispute_attachments") == 3


async def test_one_contact_never_reaches_anothers_complaint(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    agency = await make_agency(conn)
    mine = await contact_session(conn, PHONE)
    theirs = await contact_session(conn, "139 0013 9000")
    ref = await file_dispute(conn, settings, mine, agency.id)
    assert (await api.get(f"/v1/contact/disputes/{ref}", headers=auth(theirs))).status_code == 404
    assert (await api.delete(f"/v1/contact/disputes/{ref}", headers=auth(theirs))).status_code == 404
    upload = await api.post(
        f"/v1/contact/disputes/{ref}/attachments", files={"file": ("a.png", PNG, "image/png")}, headers=auth(theirs)
    )
    assert upload.status_code == 404
    assert (await api.get("/v1/contact/disputes", headers=auth(theirs))).json()["items"] == []
    assert (await api.get(f"/v1/contact/disputes/{ref}", headers=auth(mine))).json()["status"] == "awaiting_agency"


async def test_withdrawal(api: httpx.AsyncClient, conn: Connection, settings: Settings) -> None:
    agency = await make_agency(conn)
    token = await contact_session(conn, PHONE)
    ref = await file_dispute(conn, settings, token, agency.id)
    response = await api.delete(f"/v1/contact/disputes/{ref}", headers=auth(token))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "withdrawn"
    assert response.json()["timeline"][-1]["kind"] == "withdrawn"
    assert (await api.delete(f"/v1/contact/disputes/{ref}", headers=auth(token))).status_code == 409
    late = await api.post(
        f"/v1/contact/disputes/{ref}/attachments", files={"file": ("a.png", PNG, "image/png")}, headers=auth(token)
    )
    assert late.status_code == 409
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'dispute.withdraw'") == 1


async def test_concurrent_filings_cannot_pass_the_daily_limit(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    token = await contact_session(conn, PHONE)
    for _ in range(8):
        await file_dispute(conn, settings, token, caller_name="Legal department")
    # Requests sent at once all arrive while two slots are left: only two may be filed.
    answers = await asyncio.gather(
        *(
            api.post("/v1/contact/disputes", json=complaint(caller_name="Legal department"), headers=auth(token))
            for _ in range(8)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 201] + [429] * 6
    assert await conn.fetchval("SELECT count(*) FROM disputes WHERE phone_key = $1", key_of(PHONE)) == 10
