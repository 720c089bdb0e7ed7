"""POST /v1/checks with an Idempotency-Key: a retry gets the first answer (same check id, same receipt)
and spends nothing; another body is 409; another key, or the same after 24 hours, is a new check."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx
import msgspec

from registry import receipts
from registry.agencies import queries as agencies
from registry.checks.schemas import CheckRequest
from registry.database import Connection
from tests.factories import bearer, make_agency_with_key
from tests.problems import problem

CONTACT = "13800138000"


async def check(api: httpx.AsyncClient, key: Any, body: dict[str, Any], idempotency_key: str) -> httpx.Response:
    return await api.post("/v1/checks", json=body, headers=bearer(key) | {"Idempotency-Key": idempotency_key})


async def test_a_repeated_check_returns_the_first_answer_and_receipt(api: httpx.AsyncClient, conn: Connection) -> None:
    agency, key = await make_agency_with_key(conn)
    first = await check(api, key, {"phone": CONTACT}, "dial-0001")
    assert first.status_code == 200, first.text
    assert (first.json()["decision"], first.json()["reason"]) == ("allow", "no_record")
    # The same request written another way (spaces, key order) is the same request.
    again = await api.post(
        "/v1/checks",
        content=b'{ "phone" : "13800138000" }',
        headers=bearer(key) | {"Idempotency-Key": "dial-0001", "Content-Type": "application/json"},
    )
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.json()["receipt"] == first.json()["receipt"]
    receipts.verify_answer(again.json(), (await api.get("/.well-known/jwks.json")).json())
    # One decision, one permit: the retry spent nothing.
    assert await conn.fetchval("SELECT count(*) FROM checks") == 1
    assert await conn.fetchval("SELECT count(*) FROM permits") == 1
    # No plain number in the stored answer.
    stored = await conn.fetchval("SELECT answer::text FROM check_replays")
    assert "13800138000" not in stored and first.json()["check_id"] in stored

    # A new key is a new check: the limit now answers.
    other = await check(api, key, {"phone": CONTACT}, "dial-0002")
    assert (other.json()["decision"], other.json()["reason"]) == ("deny", "frequency_limit")
    assert other.json()["check_id"] != first.json()["check_id"]

    # The same Idempotency-Key from another API key (even of the same agency) is that key's own.
    second_key = await agencies.issue_key(conn, agency.id, "test")
    theirs = await check(api, second_key, {"phone": CONTACT}, "dial-0001")
    assert theirs.status_code == 200 and theirs.json()["check_id"] != first.json()["check_id"]


async def test_the_same_key_with_another_body_is_409(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    assert (await check(api, key, {"phone": CONTACT}, "k-1")).status_code == 200
    reused = await check(api, key, {"phone": "13900139000"}, "k-1")
    assert problem(reused, 409)["code"] == "idempotency_key_reused"
    borrower = await check(api, key, {"phone": CONTACT, "borrower_phone": "13700137000"}, "k-1")
    assert problem(borrower, 409)["code"] == "idempotency_key_reused"
    assert await conn.fetchval("SELECT count(*) FROM checks") == 1


async def test_two_retries_at_once_make_one_check(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    answers = await asyncio.gather(*(check(api, key, {"phone": CONTACT}, "burst") for _ in range(4)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["check_id"] for a in answers}) == 1
    assert len({a.json()["receipt"] for a in answers}) == 1
    assert await conn.fetchval("SELECT count(*) FROM checks") == 1


async def test_after_24_hours_the_key_makes_a_new_check(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    first = (await check(api, key, {"phone": CONTACT}, "old")).json()
    await conn.execute("UPDATE check_replays SET created_at = created_at - interval '25 hours'")
    later = await check(api, key, {"phone": "13900139000"}, "old")
    assert later.status_code == 200, later.text
    assert later.json()["check_id"] != first["check_id"]
    assert await conn.fetchval("SELECT count(*) FROM check_replays") == 1


async def test_a_bad_key_hears_401_before_any_replay(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    await check(api, key, {"phone": CONTACT}, "k")
    await agencies.revoke_key(conn, key.key_id, "test")
    problem(await check(api, key, {"phone": CONTACT}, "k"), 401)


async def test_the_stored_request_hash_is_keyed(api: httpx.AsyncClient, conn: Connection) -> None:
    """A body holding one phone number has too little entropy for its plain SHA-256 to be stored."""
    _, key = await make_agency_with_key(conn)
    body = {"phone": "13600136000"}
    answer = await api.post("/v1/checks", json=body, headers=bearer(key) | {"Idempotency-Key": "hash-1"})
    assert answer.status_code == 200, answer.text
    stored = await conn.fetchval("SELECT request_hash FROM check_replays")
    assert len(stored) == 32
    # What it would be unkeyed: the decoded body re-encoded, in either key order.
    decoded = CheckRequest(phone=body["phone"])
    for encoded in (msgspec.json.encode(decoded), msgspec.json.encode(decoded, order="sorted")):
        assert stored != hashlib.sha256(encoded).digest()
