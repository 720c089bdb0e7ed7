"""One-time codes and sessions over real HTTP: limits, voiding, single use, the enumeration property."""

from __future__ import annotations

from datetime import datetime

import httpx

from registry.database import Connection
from tests.factories import auth, latest_code, one_row, sign_in
from tests.problems import problem

PHONE = "+8613800138000"
OTHER = "+8613900139000"


async def test_code_then_session_then_me(api: httpx.AsyncClient, conn: Connection) -> None:
    sent = await api.post("/v1/contact/codes", json={"phone": "138 0013 8000"})
    assert sent.status_code == 202
    assert sent.json()["expires_in"] == 600
    code = await latest_code(conn, PHONE)
    opened = await api.post("/v1/contact/sessions", json={"phone": "+86-138-0013-8000", "code": code})
    assert opened.status_code == 201
    body = opened.json()
    assert body["token"].startswith("ct_")
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert expires_at.tzinfo is not None
    me = await api.get("/v1/contact/me", headers=auth(body["token"]))
    assert me.status_code == 200
    assert me.json() == {"phone": "+86 138****8000", "rules": [], "recent_checks": [], "disputes": []}


async def test_same_answer_for_registered_and_unregistered_numbers(api: httpx.AsyncClient, conn: Connection) -> None:
    token = await sign_in(api, conn, PHONE, "10.0.0.1")
    assert (await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token))).status_code == 201
    registered = await api.post("/v1/contact/codes", json={"phone": PHONE}, headers={"X-Forwarded-For": "10.0.0.2"})
    unknown = await api.post("/v1/contact/codes", json={"phone": OTHER}, headers={"X-Forwarded-For": "10.0.0.2"})
    assert registered.status_code == unknown.status_code == 202
    assert registered.content == unknown.content
    skip = {"date", "content-length"}
    assert {k: v for k, v in registered.headers.items() if k not in skip} == {
        k: v for k, v in unknown.headers.items() if k not in skip
    }


async def test_bad_numbers_are_422_naming_the_field(api: httpx.AsyncClient, conn: Connection) -> None:
    for raw in ("12345", "not a number", "+86 138 0013 800012345"):
        body = problem(await api.post("/v1/contact/codes", json={"phone": raw}), 422)
        assert body["errors"] == [{"field": "phone", "detail": body["errors"][0]["detail"]}]
    body = problem(await api.post("/v1/contact/codes", json={"phone": PHONE, "email": "x"}), 400)
    # The shared error mapper names this field "data" and says "unknown field `email`" in the detail.
    assert "email" in str(body["errors"])
    body = problem(await api.post("/v1/contact/sessions", json={"phone": PHONE, "code": "12ab56"}), 422)
    assert body["errors"][0]["field"] == "code"
    assert await conn.fetchval("SELECT count(*) FROM contact_codes") == 0
    assert await conn.fetchval("SELECT count(*) FROM sms_outbox") == 0


async def test_send_limit_per_number_answers_429_with_retry_after(api: httpx.AsyncClient, conn: Connection) -> None:
    for n in range(5):
        # Different client addresses: the per-number limit holds across them.
        response = await api.post(
            "/v1/contact/codes", json={"phone": PHONE}, headers={"X-Forwarded-For": f"10.1.0.{n}"}
        )
        assert response.status_code == 202
    blocked = await api.post("/v1/contact/codes", json={"phone": PHONE}, headers={"X-Forwarded-For": "10.1.0.9"})
    problem(blocked, 429)
    assert 3000 < int(blocked.headers["retry-after"]) <= 3601
    assert await conn.fetchval("SELECT count(*) FROM sms_outbox") == 5
    # Another number is not affected.
    assert (await api.post("/v1/contact/codes", json={"phone": OTHER})).status_code == 202


async def test_send_limit_per_client_address(api: httpx.AsyncClient, conn: Connection) -> None:
    client = {"X-Forwarded-For": "10.2.0.1"}
    for n in range(20):
        response = await api.post("/v1/contact/codes", json={"phone": f"+861380013{n:04d}"}, headers=client)
        assert response.status_code == 202, response.text
    blocked = await api.post("/v1/contact/codes", json={"phone": "+8613800139999"}, headers=client)
    problem(blocked, 429)
    assert int(blocked.headers["retry-after"]) > 0
    other_client = await api.post("/v1/contact/codes", json={"phone": "+8613800139999"})
    assert other_client.status_code == 202


async def test_fourth_wrong_try_leaves_the_code_and_fifth_voids_it(api: httpx.AsyncClient, conn: Connection) -> None:
    await api.post("/v1/contact/codes", json={"phone": PHONE})
    code = await latest_code(conn, PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        problem(await api.post("/v1/contact/sessions", json={"phone": PHONE, "code": wrong}), 401)
    assert (await api.post("/v1/contact/sessions", json={"phone": PHONE, "code": code})).status_code == 201

    await api.post("/v1/contact/codes", json={"phone": OTHER})
    code = await latest_code(conn, OTHER)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        problem(await api.post("/v1/contact/sessions", json={"phone": OTHER, "code": wrong}), 401)
    problem(await api.post("/v1/contact/sessions", json={"phone": OTHER, "code": code}), 401)
    row = await one_row(conn, "SELECT failures, voided_at FROM contact_codes ORDER BY created_at DESC LIMIT 1")
    assert row["failures"] == 5 and row["voided_at"] is not None


async def test_code_is_single_use_expires_and_a_new_one_voids_the_old(api: httpx.AsyncClient, conn: Connection) -> None:
    await api.post("/v1/contact/codes", json={"phone": PHONE})
    code = await latest_code(conn, PHONE)
    assert (await api.post("/v1/contact/sessions", json={"phone": PHONE, "code": code})).status_code == 201
    problem(await api.post("/v1/contact/sessions", json={"phone": PHONE, "code": code}), 401)

    await api.post("/v1/contact/codes", json={"phone": PHONE})
    old = await latest_code(conn, PHONE)
    await api.post("/v1/contact/codes", json={"phone": PHONE})
    new = await latest_code(conn, PHONE)
    if old != new:
        problem(await api.post("/v1/contact/sessions", json={"phone": PHONE, "code": old}), 401)
    await conn.execute("UPDATE contact_codes SET expires_at = now() - interval '1 second' WHERE voided_at IS NULL")
    problem(await api.post("/v1/contact/sessions", json={"phone": PHONE, "code": new}), 401)


async def test_try_limit_per_number_holds_across_codes(api: httpx.AsyncClient, conn: Connection) -> None:
    for _ in range(2):
        await api.post("/v1/contact/codes", json={"phone": PHONE})
        code = await latest_code(conn, PHONE)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for n in range(5):
            response = await api.post(
                "/v1/contact/sessions", json={"phone": PHONE, "code": wrong}, headers={"X-Forwarded-For": f"10.3.0.{n}"}
            )
            assert response.status_code == 401
    await api.post("/v1/contact/codes", json={"phone": PHONE})
    code = await latest_code(conn, PHONE)
    # Even the right code waits: ten wrong tries in the hour lock the number for the rest of it.
    blocked = await api.post("/v1/contact/sessions", json={"phone": PHONE, "code": code})
    problem(blocked, 429)
    assert 3000 < int(blocked.headers["retry-after"]) <= 3601


async def test_try_limit_per_client_address(api: httpx.AsyncClient, conn: Connection) -> None:
    client = {"X-Forwarded-For": "10.4.0.1"}
    for n in range(30):
        phone = f"+861380014{n // 10:04d}"
        response = await api.post("/v1/contact/sessions", json={"phone": phone, "code": "000000"}, headers=client)
        assert response.status_code == 401
    blocked = await api.post("/v1/contact/sessions", json={"phone": "+8613800149999", "code": "000000"}, headers=client)
    problem(blocked, 429)
    assert int(blocked.headers["retry-after"]) > 0
    other = await api.post("/v1/contact/sessions", json={"phone": "+8613800149999", "code": "000000"})
    problem(other, 401)


async def test_codes_and_tokens_are_stored_only_as_hashes(api: httpx.AsyncClient, conn: Connection) -> None:
    token = await sign_in(api, conn, PHONE)
    code = await latest_code(conn, PHONE)
    codes = await conn.fetch("SELECT code_hash, phone_key, client_key FROM contact_codes")
    sessions = await conn.fetch("SELECT token_hash, phone_key, phone_hint FROM contact_sessions")
    for row in [*codes, *sessions]:
        for value in row.values():
            text = value.hex() if isinstance(value, bytes) else str(value)
            assert code not in text and token not in text and "13800138000" not in text
    assert sessions[0]["phone_hint"] == "+86 138****8000"


async def test_logout_ends_the_token(api: httpx.AsyncClient, conn: Connection) -> None:
    token = await sign_in(api, conn, PHONE)
    assert (await api.get("/v1/contact/me", headers=auth(token))).status_code == 200
    assert (await api.delete("/v1/contact/sessions", headers=auth(token))).status_code == 204
    problem(await api.get("/v1/contact/me", headers=auth(token)), 401)
    problem(await api.get("/v1/contact/me"), 401)
    problem(await api.get("/v1/contact/me", headers=auth("ct_made_up")), 401)


async def test_expired_session_is_refused(api: httpx.AsyncClient, conn: Connection) -> None:
    token = await sign_in(api, conn, PHONE)
    await conn.execute("UPDATE contact_sessions SET expires_at = now() - interval '1 second'")
    problem(await api.get("/v1/contact/me", headers=auth(token)), 401)
