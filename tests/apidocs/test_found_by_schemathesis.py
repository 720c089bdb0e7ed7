"""What schemathesis found answering 500, each now a plain 4xx problem (kept here so it stays fixed)."""

from __future__ import annotations

import httpx

from registry.database import Connection
from tests.factories import auth, complaint, contact_session, make_agency, staff_token


async def test_a_queue_offset_past_bigint_is_refused_not_a_500(api: httpx.AsyncClient, conn: Connection) -> None:
    token = await staff_token(api, conn, role="reviewer")
    answer = await api.get("/v1/admin/disputes", params={"offset": str(2**63 + 1)}, headers=auth(token))
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["field"] == "offset"


async def test_a_form_field_that_is_not_utf8_is_refused_not_a_500(api: httpx.AsyncClient, conn: Connection) -> None:
    agency = await make_agency(conn)
    token = await contact_session(conn, "13800138000", minutes=30)
    filed = await api.post("/v1/contact/disputes", json=complaint(agency.id), headers=auth(token))
    boundary = "registry-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\n'.encode()
        + b"caf\xe9 \x97"  # Latin-1 bytes, not UTF-8
        + f"\r\n--{boundary}--\r\n".encode()
    )
    answer = await api.post(
        f"/v1/contact/disputes/{filed.json()['ref']}/attachments",
        content=body,
        headers={**auth(token), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["code"] == "not_utf8" and problem["type"] == "/problems/bad_request"
