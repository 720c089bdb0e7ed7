"""POST /v1/checks/batch with an Idempotency-Key: a retry gets the first batch's answer (same check ids, same
receipt) and spends nothing; another body with the key is 409; retries at once make one decision; the
sandbox's batches alike."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import msgspec

from registry import receipts
from registry.agencies import queries as agencies
from registry.database import Connection
from registry.settings import Settings
from tests.conftest import LiveServer
from tests.factories import bearer, make_agency_with_key
from tests.problems import problem

ITEMS: list[dict[str, Any]] = [
    {"phone": "13800138000"},
    {"phone": "not a number"},
    {"phone": "13900139000", "borrower_phone": "13700137000"},
    # The same contact again in the batch: its one permit of the month went to the first item.
    {"phone": "138 0013 8000"},
]


async def batch(api: httpx.AsyncClient, key: Any, items: list[dict[str, Any]], idempotency_key: str) -> httpx.Response:
    headers = bearer(key) | {"Idempotency-Key": idempotency_key}
    return await api.post("/v1/checks/batch", json={"items": items}, headers=headers)


async def keys(api: httpx.AsyncClient) -> dict[str, Any]:
    return (await api.get("/.well-known/jwks.json")).json()  # type: ignore[no-any-return]


def check_ids(answer: dict[str, Any]) -> list[str]:
    return [r["check_id"] for r in answer["results"] if r["status"] == "answered"]


async def test_a_repeated_batch_returns_the_first_answer_and_receipt(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    first = await batch(api, key, ITEMS, "dial-run-0001")
    assert first.status_code == 200, first.text
    answer = first.json()
    assert [r["status"] for r in answer["results"]] == ["answered", "error", "answered", "answered"]
    assert [r.get("reason") for r in answer["results"]] == ["no_record", None, "no_record", "frequency_limit"]
    checks, permits = (
        await conn.fetchval("SELECT count(*) FROM checks"),
        await conn.fetchval("SELECT count(*) FROM permits"),
    )
    assert (checks, permits) == (3, 2)

    # The same batch written another way (spaces, key order) is the same batch.
    reordered = {"items": [dict(reversed(item.items())) for item in ITEMS]}
    again = await api.post(
        "/v1/checks/batch",
        content=json.dumps(reordered, indent=2).encode(),
        headers=bearer(key) | {"Idempotency-Key": "dial-run-0001", "Content-Type": "application/json"},
    )
    assert again.status_code == 200, again.text
    assert again.json() == answer
    assert again.json()["receipt"] == answer["receipt"]
    proof = receipts.verify_answer(again.json(), await keys(api))
    assert proof.kind == "batch" and proof.claims["batch_id"] == answer["batch_id"] and proof.claims["count"] == 3
    # One decision: the retry wrote no check and spent no permit.
    assert await conn.fetchval("SELECT count(*) FROM checks") == checks
    assert await conn.fetchval("SELECT count(*) FROM permits") == permits
    # No plain number in the stored answer.
    stored = await conn.fetchval("SELECT answer::text FROM check_replays")
    assert "13800138000" not in stored and "13900139000" not in stored and check_ids(answer)[0] in stored

    # A new key is a new batch: now the limits answer.
    other = (await batch(api, key, ITEMS, "dial-run-0002")).json()
    assert [r.get("reason") for r in other["results"]] == [
        "frequency_limit",
        None,
        "frequency_limit",
        "frequency_limit",
    ]
    assert not set(check_ids(other)) & set(check_ids(answer))


async def test_the_same_key_with_another_body_is_409(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    assert (await batch(api, key, ITEMS, "run-1")).status_code == 200
    reused = problem(await batch(api, key, ITEMS[:2], "run-1"), 409)
    assert reused["code"] == "idempotency_key_reused" and "Idempotency-Key" in reused["detail"]
    # The answer a single check gets for a reused key, word for word.
    assert (await api.post("/v1/checks", json={"phone": "13600136000"}, headers=bearer(key))).status_code == 200
    single = await api.post(
        "/v1/checks", json={"phone": "13600136000"}, headers=bearer(key) | {"Idempotency-Key": "one-1"}
    )
    assert single.status_code == 200
    single_reused = await api.post(
        "/v1/checks", json={"phone": "13500135000"}, headers=bearer(key) | {"Idempotency-Key": "one-1"}
    )
    assert problem(single_reused, 409) == reused
    # One namespace of keys per API key: a check's key sent with a batch, or a batch's with a check, is reused.
    assert problem(await batch(api, key, [{"phone": "13600136000"}], "one-1"), 409)["code"] == "idempotency_key_reused"
    crossed = await api.post(
        "/v1/checks", json={"phone": "13800138000"}, headers=bearer(key) | {"Idempotency-Key": "run-1"}
    )
    assert problem(crossed, 409)["code"] == "idempotency_key_reused"
    # Nothing was decided for the refused requests: 3 checks of the batch, 2 single checks.
    assert await conn.fetchval("SELECT count(*) FROM checks") == 5


async def test_two_retries_at_once_make_one_decision(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    answers = await asyncio.gather(*(batch(api, key, ITEMS, "burst") for _ in range(4)))
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    assert len({a.json()["receipt"] for a in answers}) == 1
    assert await conn.fetchval("SELECT count(*) FROM checks") == 3
    assert await conn.fetchval("SELECT count(*) FROM permits") == 2
    assert await conn.fetchval("SELECT count(*) FROM check_replays") == 1
    receipts.verify_answer(answers[-1].json(), await keys(api))


async def test_a_batch_of_only_bad_items_is_answered_once_too(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    first = await batch(api, key, [{"phone": "nope"}], "empty")
    again = await batch(api, key, [{"phone": "nope"}], "empty")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and first.json()["results"][0]["status"] == "error"
    assert receipts.verify_answer(again.json(), await keys(api)).claims["count"] == 0


async def test_after_24_hours_the_key_makes_a_new_batch(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    first = (await batch(api, key, ITEMS, "old")).json()
    await conn.execute("UPDATE check_replays SET created_at = created_at - interval '25 hours'")
    later = await batch(api, key, ITEMS[:1], "old")
    assert later.status_code == 200, later.text
    assert check_ids(later.json()) != check_ids(first)[:1]
    assert await conn.fetchval("SELECT count(*) FROM check_replays") == 1


async def test_a_bad_key_hears_401_before_any_replay(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    assert (await batch(api, key, ITEMS, "k")).status_code == 200
    await agencies.revoke_key(conn, key.key_id, "test")
    problem(await batch(api, key, ITEMS, "k"), 401)


async def test_a_sandbox_batch_is_answered_once_too(api: httpx.AsyncClient, conn: Connection) -> None:
    agency, _ = await make_agency_with_key(conn)
    test_key = await agencies.issue_key(conn, agency.id, "test", sandbox=True)
    items = [{"phone": "13800138001"}, {"phone": "13800138002"}, {"phone": "bad"}, {"phone": "13800138005"}]
    first = await batch(api, test_key, items, "sandbox-run")
    assert first.status_code == 200, first.text
    assert [r.get("reason") for r in first.json()["results"]] == ["refused", "consent", None, "no_record"]
    again = await batch(api, test_key, items, "sandbox-run")
    assert again.json() == first.json()
    assert receipts.verify_answer(again.json(), await keys(api)).claims["sandbox"] is True
    assert await conn.fetchval("SELECT count(*) FROM sandbox_checks") == 3
    assert problem(await batch(api, test_key, items[:1], "sandbox-run"), 409)["code"] == "idempotency_key_reused"
    # Nothing about a real contact was read or written.
    assert await conn.fetchval("SELECT count(*) FROM checks") == 0


async def test_the_api_document_describes_the_header_on_the_batch(api: httpx.AsyncClient) -> None:
    document = (await api.get("/schema/openapi.json")).json()
    for path in ("/v1/checks", "/v1/checks/batch"):
        operation = document["paths"][path]["post"]
        [header] = [p for p in operation["parameters"] if p["in"] == "header" and p["name"] == "Idempotency-Key"]
        assert header["required"] is False and header["schema"]["maxLength"] == 200, header
        assert "409" in operation["responses"]


async def test_a_retry_under_another_default_region_is_another_request(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    """The same digits read in another region are other numbers (or none): a retry after the operator changed
    REGISTRY_DEFAULT_REGION is a different request, 409, not the first answer fitted to other items."""
    _, key = await make_agency_with_key(conn)
    first = await batch(api, key, ITEMS, "region-run")
    assert first.status_code == 200, first.text
    # The same database, a server that reads national numbers as Hong Kong's: "13800138000" is no valid
    # number there, so the batch has one valid item fewer than the first answer.
    elsewhere = LiveServer(msgspec.structs.replace(settings, default_region="HK"))
    await elsewhere.start()
    try:
        async with httpx.AsyncClient(base_url=elsewhere.url) as client:
            retried = problem(await batch(client, key, ITEMS, "region-run"), 409)
            assert retried["code"] == "idempotency_key_reused"
    finally:
        await elsewhere.stop()
    # Back in the first region, the first answer, unchanged.
    assert (await batch(api, key, ITEMS, "region-run")).json() == first.json()
    assert await conn.fetchval("SELECT count(*) FROM checks") == 3
