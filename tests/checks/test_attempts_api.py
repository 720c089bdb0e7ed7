"""POST /v1/attempts and GET /v1/changes over real HTTP: compliance, idempotency, the feed, isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from registry.agencies import queries as agencies
from registry.database import Connection
from registry.permits import revoke_contradicted_permits
from registry.settings import Settings
from tests.factories import add_rule, bearer, key_of, make_agency_with_key
from tests.problems import fields, problem

CONTACT = "13800138000"


def now(delta: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + delta).isoformat()


async def check(api: httpx.AsyncClient, key: Any, phone: str = CONTACT) -> dict[str, Any]:
    response = await api.post("/v1/checks", json={"phone": phone}, headers=bearer(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def report(
    api: httpx.AsyncClient, key: Any, body: dict[str, Any], idempotency_key: str | None = None
) -> httpx.Response:
    headers = bearer(key) | ({"Idempotency-Key": idempotency_key} if idempotency_key else {})
    return await api.post("/v1/attempts", json=body, headers=headers)


async def test_a_call_under_a_permit_is_compliant_once(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    permit = await check(api, key)
    first = await report(api, key, {"check_id": permit["check_id"], "occurred_at": now(), "channel": "call"})
    assert first.status_code == 201, first.text
    assert first.json()["compliant"] is True and first.json()["violation"] is None
    # The permit was for one attempt.
    second = await report(api, key, {"check_id": permit["check_id"], "occurred_at": now(), "channel": "sms"})
    assert (second.json()["compliant"], second.json()["violation"]) == (False, "permit_used")
    rows = await conn.fetch("SELECT compliant, violation, phone_key FROM attempts ORDER BY reported_at")
    assert [(r["compliant"], r["violation"]) for r in rows] == [(True, None), (False, "permit_used")]
    assert {r["phone_key"] for r in rows} == {key_of(CONTACT)}


async def test_every_violation_is_recorded_and_named(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    _, key = await make_agency_with_key(conn)
    await add_rule(conn, "13900139000", "refuse")
    denied = await check(api, key, "13900139000")
    assert denied["decision"] == "deny"
    expired = await check(api, key, "13700137000")
    revoked = await check(api, key, "13600136000")
    early = await check(api, key, "13500135000")
    await conn.execute(
        "UPDATE permits SET valid_until = now() - interval '1 hour' WHERE check_id = $1::uuid", expired["check_id"]
    )
    await add_rule(conn, "13600136000", "refuse")
    assert len(await revoke_contradicted_permits(conn, key_of("13600136000"), "refused", settings)) == 1

    cases = [
        ({"phone": "+86 131 3131 3131"}, "no_permit"),
        ({"check_id": denied["check_id"]}, "permit_denied"),
        ({"check_id": expired["check_id"]}, "permit_expired"),
        ({"check_id": revoked["check_id"]}, "permit_revoked"),
    ]
    for reference, violation in cases:
        response = await report(
            api, key, {**reference, "occurred_at": now(), "channel": "call", "outcome": "no answer"}
        )
        assert response.status_code == 201, response.text
        assert (response.json()["compliant"], response.json()["violation"]) == (False, violation)
    # A call made before the check asked has no permit behind it.
    before = await report(
        api, key, {"check_id": early["check_id"], "occurred_at": now(-timedelta(hours=1)), "channel": "visit"}
    )
    assert before.json()["violation"] == "no_permit"
    assert await conn.fetchval("SELECT count(*) FROM attempts WHERE NOT compliant") == 5


async def test_idempotency_key_returns_the_first_result(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    permit = await check(api, key)
    body = {"check_id": permit["check_id"], "occurred_at": now(), "channel": "call"}
    first = await report(api, key, body, "call-001")
    retry = await report(api, key, dict(reversed(list(body.items()))), "call-001")
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() and first.json()["compliant"] is True
    assert await conn.fetchval("SELECT count(*) FROM attempts") == 1

    other = await report(api, key, {**body, "channel": "sms"}, "call-001")
    assert str(problem(other, 409)["type"]).endswith("conflict")
    assert await conn.fetchval("SELECT count(*) FROM attempts") == 1
    # Keys are per agency: another agency may use the same key string.
    _, key_b = await make_agency_with_key(conn)
    theirs = await report(api, key_b, {"phone": CONTACT, "occurred_at": now(), "channel": "call"}, "call-001")
    assert theirs.status_code == 201 and theirs.json()["violation"] == "no_permit"


async def test_attempt_input_errors(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    permit = await check(api, key)
    bad = [
        ({"occurred_at": now(), "channel": "call"}, 422, "check_id"),
        ({"phone": "1", "occurred_at": now(), "channel": "call"}, 422, "phone"),
        ({"phone": CONTACT, "occurred_at": now(timedelta(hours=1)), "channel": "call"}, 422, "occurred_at"),
        ({"phone": CONTACT, "occurred_at": "2025-06-01T09:00:00", "channel": "call"}, 422, "occurred_at"),
        ({"phone": CONTACT, "occurred_at": "yesterday", "channel": "call"}, 400, "occurred_at"),
        ({"phone": CONTACT, "occurred_at": now(), "channel": "fax"}, 400, "channel"),
        ({"check_id": "not-a-uuid", "occurred_at": now(), "channel": "call"}, 400, "check_id"),
        (
            {"check_id": permit["check_id"], "phone": "13900139000", "occurred_at": now(), "channel": "call"},
            422,
            "phone",
        ),
    ]
    for body, status, field in bad:
        assert fields(problem(await report(api, key, body), status)) == [field], body
    long_key = await report(api, key, {"phone": CONTACT, "occurred_at": now(), "channel": "call"}, "k" * 201)
    problem(long_key, 400)
    assert await conn.fetchval("SELECT count(*) FROM attempts") == 0


async def test_agencies_never_see_each_others_checks_or_changes(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    _, key_a = await make_agency_with_key(conn)
    _, key_b = await make_agency_with_key(conn)
    permit_a = await check(api, key_a)
    permit_b = await check(api, key_b)

    # B cannot report against A's check, and cannot tell it from an unknown one.
    stolen = await report(api, key_b, {"check_id": permit_a["check_id"], "occurred_at": now(), "channel": "call"})
    unknown = await report(
        api, key_b, {"check_id": "00000000-0000-4000-8000-000000000000", "occurred_at": now(), "channel": "call"}
    )
    assert problem(stolen, 404)["detail"] == problem(unknown, 404)["detail"]
    assert await conn.fetchval("SELECT count(*) FROM attempts") == 0

    await add_rule(conn, CONTACT, "refuse")
    await revoke_contradicted_permits(conn, key_of(CONTACT), "refused", settings)
    feed_a = (await api.get("/v1/changes", headers=bearer(key_a))).json()
    feed_b = (await api.get("/v1/changes", headers=bearer(key_b))).json()
    assert [i["check_id"] for i in feed_a["items"]] == [permit_a["check_id"]]
    assert [i["check_id"] for i in feed_b["items"]] == [permit_b["check_id"]]
    # A cursor handed to B does not open A's feed.
    replay = (await api.get("/v1/changes", params={"after": "c1.AAAAAAAAAAA"}, headers=bearer(key_b))).json()
    assert [i["check_id"] for i in replay["items"]] == [permit_b["check_id"]]


async def test_changes_feed_pages_with_an_opaque_cursor(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    _, key = await make_agency_with_key(conn)
    phones = ["13800138000", "13900139000", "13700137000"]
    permits = [await check(api, key, phone) for phone in phones]
    empty = (await api.get("/v1/changes", headers=bearer(key))).json()
    assert empty["items"] == [] and empty["next"]

    for phone in phones:
        await add_rule(conn, phone, "refuse")
        await revoke_contradicted_permits(conn, key_of(phone), "refused", settings)

    seen: list[str] = []
    cursor = empty["next"]
    for _ in range(3):
        page = (await api.get("/v1/changes", params={"after": cursor, "limit": 2}, headers=bearer(key))).json()
        seen += [item["check_id"] for item in page["items"]]
        assert all(item["reason"] == "refused" and item["revoked_at"] for item in page["items"])
        cursor = page["next"]
    assert seen == [p["check_id"] for p in permits]
    # Polling at the end returns nothing new and the same cursor.
    tail = (await api.get("/v1/changes", params={"after": cursor}, headers=bearer(key))).json()
    assert tail == {"items": [], "next": cursor}

    assert fields(problem(await api.get("/v1/changes", params={"after": "garbage"}, headers=bearer(key)), 422)) == [
        "after"
    ]
    assert fields(problem(await api.get("/v1/changes", params={"limit": 0}, headers=bearer(key)), 400)) == ["limit"]
    problem(await api.get("/v1/changes"), 401)


async def test_suspended_agency_cannot_report_or_read_its_feed(api: httpx.AsyncClient, conn: Connection) -> None:
    agency, key = await make_agency_with_key(conn)
    await agencies.set_status(conn, agency.id, "suspended", "test")
    problem(await report(api, key, {"phone": CONTACT, "occurred_at": now(), "channel": "call"}), 403)
    problem(await api.get("/v1/changes", headers=bearer(key)), 403)
