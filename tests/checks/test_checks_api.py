"""POST /v1/checks and /v1/checks/batch over real HTTP: the design's answers, the limits, the errors."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timedelta
from uuid import UUID

import httpx
import pytest

from registry.agencies import queries as agencies
from registry.database import Connection
from tests.factories import add_rule, bearer, credit_code, key_of, make_agency_with_key
from tests.problems import fields, problem

CONTACT = "13800138000"
E164 = "+8613800138000"
BORROWER = "13912345678"


async def test_first_check_allows_once_then_the_limit_denies(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    first = await api.post("/v1/checks", json={"phone": "138 0013 8000"}, headers=bearer(key))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["phone"] == E164
    assert (body["decision"], body["reason"]) == ("allow", "no_record")
    assert body["limit"] == {"permits": 1, "window_days": 30, "used": 1}
    checked_at = datetime.fromisoformat(body["checked_at"])
    assert checked_at.tzinfo is not None
    assert datetime.fromisoformat(body["valid_until"]) - checked_at == timedelta(hours=24)

    # Another written form of the same number is the same contact.
    again = (await api.post("/v1/checks", json={"phone": "+86-138-0013-8000"}, headers=bearer(key))).json()
    assert (again["decision"], again["reason"]) == ("deny", "frequency_limit")
    assert again["limit"] == {"permits": 1, "window_days": 30, "used": 1}
    assert "valid_until" not in again

    rows = await conn.fetch("SELECT id, decision FROM checks ORDER BY checked_at")
    assert [(str(r["id"]), r["decision"]) for r in rows] == [
        (body["check_id"], "allow"),
        (again["check_id"], "deny"),
    ]
    assert await conn.fetchval("SELECT count(*) FROM permits") == 1
    # No plain number is stored: the log holds the phone key only.
    assert await conn.fetchval("SELECT phone_key FROM checks LIMIT 1") == key_of(CONTACT)


async def test_refusal_denies_and_consent_allows_seven_a_week(api: httpx.AsyncClient, conn: Connection) -> None:
    agency, key = await make_agency_with_key(conn)
    await add_rule(conn, "13900139000", "refuse")
    refused = (await api.post("/v1/checks", json={"phone": "13900139000"}, headers=bearer(key))).json()
    assert (refused["decision"], refused["reason"]) == ("deny", "refused")
    assert "limit" not in refused and "valid_until" not in refused

    rule = await add_rule(conn, CONTACT, "consent", agency_id=agency.id, expires_in=timedelta(hours=2))
    answers = []
    for _ in range(3):
        answers.append((await api.post("/v1/checks", json={"phone": CONTACT}, headers=bearer(key))).json())
    assert [(a["decision"], a["reason"]) for a in answers] == [("allow", "consent")] * 3
    assert [a["limit"]["used"] for a in answers] == [1, 2, 3]
    assert answers[0]["limit"]["permits"] == 7 and answers[0]["limit"]["window_days"] == 7
    # The permit ends when the consent does (2 h), not after the usual 24 h.
    expires_at = await conn.fetchval("SELECT expires_at FROM rules WHERE id = $1", rule)
    assert datetime.fromisoformat(answers[0]["valid_until"]) == expires_at
    # The fourth in 24 h hits the contact's daily limit (3 across all agencies).
    fourth = (await api.post("/v1/checks", json={"phone": CONTACT}, headers=bearer(key))).json()
    assert (fourth["decision"], fourth["reason"]) == ("deny", "frequency_limit")
    assert fourth["limit"] == {"permits": 3, "window_days": 1, "used": 3}


async def test_borrower_scoped_consent_needs_the_borrower(api: httpx.AsyncClient, conn: Connection) -> None:
    agency, key = await make_agency_with_key(conn)
    await add_rule(conn, CONTACT, "refuse")
    await add_rule(conn, CONTACT, "consent", agency_id=agency.id, borrower=BORROWER)
    with_borrower = await api.post(
        "/v1/checks", json={"phone": CONTACT, "borrower_phone": "+86 139 1234 5678"}, headers=bearer(key)
    )
    assert (with_borrower.json()["decision"], with_borrower.json()["reason"]) == ("allow", "consent")
    without = (await api.post("/v1/checks", json={"phone": CONTACT}, headers=bearer(key))).json()
    assert (without["decision"], without["reason"]) == ("deny", "refused")
    other_borrower = await api.post(
        "/v1/checks", json={"phone": CONTACT, "borrower_phone": "13700137000"}, headers=bearer(key)
    )
    assert other_borrower.json()["reason"] == "refused"


async def test_daily_limit_holds_across_agencies(api: httpx.AsyncClient, conn: Connection) -> None:
    keys = [(await make_agency_with_key(conn))[1] for _ in range(4)]
    answers = [(await api.post("/v1/checks", json={"phone": CONTACT}, headers=bearer(k))).json() for k in keys]
    assert [a["decision"] for a in answers] == ["allow", "allow", "allow", "deny"]
    assert answers[3]["limit"] == {"permits": 3, "window_days": 1, "used": 3}


async def test_concurrent_checks_never_share_the_last_permit(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    responses = await asyncio.gather(
        *(api.post("/v1/checks", json={"phone": CONTACT}, headers=bearer(key)) for _ in range(12))
    )
    decisions = sorted(r.json()["decision"] for r in responses)
    assert decisions == ["allow"] + ["deny"] * 11
    assert await conn.fetchval("SELECT count(*) FROM permits") == 1


async def test_concurrent_agencies_never_exceed_the_daily_limit(api: httpx.AsyncClient, conn: Connection) -> None:
    keys = [(await make_agency_with_key(conn))[1] for _ in range(6)]
    batch = {"items": [{"phone": CONTACT}] * 3}
    responses = await asyncio.gather(
        *(api.post("/v1/checks", json={"phone": CONTACT}, headers=bearer(k)) for k in keys),
        *(api.post("/v1/checks/batch", json=batch, headers=bearer(k)) for k in keys),
    )
    assert all(r.status_code == 200 for r in responses)
    assert await conn.fetchval("SELECT count(*) FROM permits WHERE phone_key = $1", key_of(CONTACT)) == 3


async def test_bad_credentials_are_401(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    body = {"phone": CONTACT}
    for headers in ({}, {"Authorization": "Basic abc"}, bearer("rk_not-a-real-key"), bearer("sk_other")):
        for path, payload in (("/v1/checks", body), ("/v1/checks/batch", {"items": [body]})):
            response = await api.post(path, json=payload, headers=headers)
            problem(response, 401)
            assert response.headers["www-authenticate"] == "Bearer"
    await agencies.revoke_key(conn, key.key_id, "test")
    problem(await api.post("/v1/checks", json=body, headers=bearer(key)), 401)
    # A bad key is told so even when the body is bad too.
    problem(await api.post("/v1/checks", json={"phone": "12"}, headers=bearer(key)), 401)
    assert await conn.fetchval("SELECT count(*) FROM checks") == 0


async def test_suspended_agency_is_403_at_once(api: httpx.AsyncClient, conn: Connection) -> None:
    agency, key = await make_agency_with_key(conn)
    assert (await api.post("/v1/checks", json={"phone": CONTACT}, headers=bearer(key))).status_code == 200
    await agencies.set_status(conn, agency.id, "suspended", "test")
    body = problem(await api.post("/v1/checks", json={"phone": "13900139000"}, headers=bearer(key)), 403)
    assert str(body["type"]).endswith("agency_suspended")
    problem(await api.post("/v1/checks/batch", json={"items": [{"phone": CONTACT}]}, headers=bearer(key)), 403)
    await agencies.set_status(conn, agency.id, "active", "test")
    assert (await api.post("/v1/checks", json={"phone": "13900139000"}, headers=bearer(key))).status_code == 200


async def test_bad_input_names_the_field(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    auth = bearer(key)
    assert fields(problem(await api.post("/v1/checks", json={"phone": "12345"}, headers=auth), 422)) == ["phone"]
    assert fields(problem(await api.post("/v1/checks", json={"phone": "not a number"}, headers=auth), 422)) == ["phone"]
    bad_borrower = await api.post("/v1/checks", json={"phone": CONTACT, "borrower_phone": "99"}, headers=auth)
    assert fields(problem(bad_borrower, 422)) == ["borrower_phone"]
    assert fields(problem(await api.post("/v1/checks", json={"phone": 138}, headers=auth), 400)) == ["phone"]
    # (errors.py names these "data", the body, and says which field in the detail.)
    unknown = problem(await api.post("/v1/checks", json={"phone": CONTACT, "name": "x"}, headers=auth), 400)
    assert "`name`" in str(unknown["detail"])
    missing = problem(await api.post("/v1/checks", json={}, headers=auth), 400)
    assert "`phone`" in str(missing["detail"])
    problem(await api.post("/v1/checks", content=b"{not json", headers=auth), 400)
    assert await conn.fetchval("SELECT count(*) FROM checks") == 0


async def test_oversized_bodies_are_413(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    big = {"phone": CONTACT, "borrower_phone": "1" * 300_000}
    problem(await api.post("/v1/checks", json=big, headers=bearer(key)), 413)
    huge = {"items": [{"phone": CONTACT, "borrower_phone": "1" * 500}] * 9_000}
    problem(await api.post("/v1/checks/batch", json=huge, headers=bearer(key)), 413)


async def test_batch_answers_in_order_with_errors_in_place(api: httpx.AsyncClient, conn: Connection) -> None:
    agency, key = await make_agency_with_key(conn)
    await add_rule(conn, "13900139000", "refuse")
    await add_rule(conn, "13700137000", "consent", agency_id=agency.id)
    items: list[object] = [
        {"phone": CONTACT},
        {"phone": "12"},
        {"phone": "13900139000"},
        {"phone": CONTACT},
        {"phone": 42},
        {"phone": "13700137000", "extra": True},
        "not an object",
        {"phone": "13700137000", "borrower_phone": "bad"},
        {"phone": "13700137000"},
        {"phone": "13700137000"},
    ]
    response = await api.post("/v1/checks/batch", json={"items": items}, headers=bearer(key))
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    summary = [
        (r["decision"], r["reason"]) if "decision" in r else (r["error"]["code"], r["error"]["field"]) for r in results
    ]
    assert summary == [
        ("allow", "no_record"),
        ("invalid_input", "phone"),
        ("deny", "refused"),
        ("deny", "frequency_limit"),
        ("invalid_input", "phone"),
        ("invalid_input", "extra"),
        ("invalid_input", "item"),
        ("invalid_input", "borrower_phone"),
        ("allow", "consent"),
        ("allow", "consent"),
    ]
    assert results[0]["phone"] == E164
    assert [r["limit"]["used"] for r in results[8:]] == [1, 2]
    assert await conn.fetchval("SELECT count(*) FROM checks") == 5


async def test_batch_size_is_1_to_10000(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    assert fields(problem(await api.post("/v1/checks/batch", json={"items": []}, headers=bearer(key)), 400)) == [
        "items"
    ]
    too_many = {"items": [{"phone": CONTACT}] * 10_001}
    assert fields(problem(await api.post("/v1/checks/batch", json=too_many, headers=bearer(key)), 400)) == ["items"]
    all_bad = await api.post("/v1/checks/batch", json={"items": [{"phone": "1"}]}, headers=bearer(key))
    assert all_bad.json()["results"][0]["error"]["field"] == "phone"


def registry_cli(database_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "registry", "--json", *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


ASKED_BEFORE = """
    INSERT INTO notices (id, phone_key, agency_id, check_id, created_at, status)
    SELECT gen_random_uuid(), k, $2, gen_random_uuid(), now() - interval '2 days', 'sent' FROM unnest($1::bytea[]) AS k
"""


async def test_cli_agency_checks_ten_thousand_numbers(
    api: httpx.AsyncClient, conn: Connection, database_url: str
) -> None:
    import json

    agency = json.loads(
        registry_cli(database_url, "agency", "create", "--name", "安心资产", "--credit-code", credit_code())
    )
    key = json.loads(registry_cli(database_url, "key", "create", "--agency", agency["agency_id"]))["key"]
    numbers = [f"1380000{n:04d}" for n in range(10_000)]
    refused = numbers[::100]
    for number in refused:
        await add_rule(conn, number, "refuse")
    # Every contact was asked first two days ago and said nothing: the v1 rule answers (and no SMS goes out).
    await conn.execute(ASKED_BEFORE, [key_of(n) for n in numbers], UUID(agency["agency_id"]))
    response = await api.post("/v1/checks/batch", json={"items": [{"phone": n} for n in numbers]}, headers=bearer(key))
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 10_000
    assert [r["phone"] for r in results] == [f"+86{n}" for n in numbers]
    expected = ["refused" if i % 100 == 0 else "no_record" for i in range(10_000)]
    assert [r["reason"] for r in results] == expected
    assert await conn.fetchval("SELECT count(*) FROM checks") == 10_000
    assert await conn.fetchval("SELECT count(*) FROM permits") == 9_900


@pytest.mark.parametrize("path", ["/v1/agencies"])
async def test_public_agency_list_needs_no_key(api: httpx.AsyncClient, conn: Connection, path: str) -> None:
    active, _ = await make_agency_with_key(conn, "Alpha Credit")
    suspended, _ = await make_agency_with_key(conn, "Beta Collections")
    await agencies.set_status(conn, suspended.id, "suspended", "test")
    response = await api.get(path)
    assert response.status_code == 200
    assert response.json() == [
        {"id": str(active.id), "name": "Alpha Credit", "status": "active"},
        {"id": str(suspended.id), "name": "Beta Collections", "status": "suspended"},
    ]


async def test_a_number_repeated_across_chunks_of_a_batch_sees_its_first_permit(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    _, key = await make_agency_with_key(conn)
    numbers = [f"1390000{n:04d}" for n in range(1_500)]
    numbers[1_200] = numbers[0]
    response = await api.post("/v1/checks/batch", json={"items": [{"phone": n} for n in numbers]}, headers=bearer(key))
    results = response.json()["results"]
    assert (results[0]["reason"], results[1_200]["reason"]) == ("no_record", "frequency_limit")
    assert sum(r["decision"] == "allow" for r in results) == 1_499


async def test_a_batch_of_only_bad_items_still_needs_a_good_key(api: httpx.AsyncClient, conn: Connection) -> None:
    problem(await api.post("/v1/checks/batch", json={"items": [{"phone": "1"}]}, headers=bearer("rk_unknown")), 401)
