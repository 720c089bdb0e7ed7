"""Webhooks over real HTTP: the live service posts signed events to a receiver running in the test.

The receiver verifies nothing itself; each test verifies what arrived with standardwebhooks, as an
agency's receiver would, and compares the event with what the API says (the changes feed, the
deliveries list).
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from registry.database import Connection
from tests.factories import auth, bearer, complaint, contact_session, make_agency_with_key, staff_token
from tests.problems import fields, problem
from tests.webhooks.receiver import receiver, verified

CONTACT = "+8613800138000"


async def register(api: httpx.AsyncClient, key: str, url: str, events: list[str]) -> str:
    answer = await api.put("/v1/webhook", json={"url": url, "events": events}, headers=bearer(key))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["url"], body["events"]) == (url, events)
    secret: str = body["secret"]
    return secret


async def deliveries(api: httpx.AsyncClient, key: str) -> list[dict[str, Any]]:
    answer = await api.get("/v1/webhook/deliveries", headers=bearer(key))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def settled(api: httpx.AsyncClient, key: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """The deliveries once none is pending any more."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        items = await deliveries(api, key)
        if items and all(item["status"] != "pending" for item in items):
            return items
        if loop.time() > deadline:
            raise AssertionError(f"deliveries still pending after {timeout} s: {items}")
        await asyncio.sleep(0.05)


async def test_refusal_delivers_a_signed_permit_revoked_retried_after_a_500(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    _, key = await make_agency_with_key(conn)
    _, other_key = await make_agency_with_key(conn)
    async with receiver([500, 204]) as hooks:
        secret = await register(api, key.key, hooks.url, ["permit.revoked"])
        assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
        checked = await api.post("/v1/checks", json={"phone": CONTACT}, headers=bearer(key.key))
        assert checked.json()["decision"] == "allow", checked.text

        token = await contact_session(conn, CONTACT)
        refused = await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token))
        assert refused.status_code == 201, refused.text

        first, second = await hooks.wait_for(2)
    feed = (await api.get("/v1/changes", headers=bearer(key.key))).json()["items"]
    assert [item["check_id"] for item in feed] == [checked.json()["check_id"]]
    for request in (first, second):
        event = verified(secret, request)
        assert event["type"] == "permit.revoked"
        # The event's data is the changes-feed item, field for field.
        assert event["data"] == feed[0]
    # The retry is the same event: the same webhook-id, for the receiver to de-duplicate.
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    # Another secret does not verify it.
    with pytest.raises(WebhookVerificationError):
        Webhook(await register(api, other_key.key, hooks.url, ["permit.revoked"])).verify(first.body, first.headers)

    [delivery] = await settled(api, key.key)
    assert delivery["id"] == first.headers["webhook-id"]
    assert (delivery["event"], delivery["status"], delivery["attempts"]) == ("permit.revoked", "delivered", 2)
    assert delivery["last_error"] == "HTTP 500"
    assert delivery["delivered_at"] is not None and delivery["next_try_at"] is None
    # One agency never sees another's deliveries.
    assert await deliveries(api, other_key.key) == []


async def test_dispute_filed_and_decided_reach_the_agency(api: httpx.AsyncClient, conn: Connection) -> None:
    agency, key = await make_agency_with_key(conn)
    async with receiver([204]) as hooks:
        secret = await register(api, key.key, hooks.url, ["dispute.filed", "dispute.decided"])
        token = await contact_session(conn, CONTACT)
        filed = await api.post("/v1/contact/disputes", json=complaint(agency.id), headers=auth(token))
        assert filed.status_code == 201, filed.text
        ref = filed.json()["ref"]
        reviewer = await staff_token(api, conn)
        decided = await api.post(
            f"/v1/admin/disputes/{ref}/decision",
            json={"outcome": "upheld", "sanction": "warning", "note": "the call log shows eleven calls"},
            headers=auth(reviewer),
        )
        assert decided.status_code == 200, decided.text
        arrived = await hooks.wait_for(2)
    events = {event["type"]: event["data"] for event in (verified(secret, request) for request in arrived)}
    assert events["dispute.filed"]["ref"] == ref
    assert events["dispute.filed"]["status"] == "awaiting_agency"
    assert events["dispute.decided"] == {"ref": ref, "outcome": "upheld", "sanction": "warning"}
    # No contact's number in what the agency is sent.
    assert not any(CONTACT.removeprefix("+86") in request.body.decode() for request in arrived)
    listed = await settled(api, key.key)
    assert sorted((d["event"], d["status"], d["attempts"]) for d in listed) == [
        ("dispute.decided", "delivered", 1),
        ("dispute.filed", "delivered", 1),
    ]


async def test_no_webhook_no_event_and_bad_bodies_name_the_field(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    async with receiver([204]) as hooks:
        await register(api, key.key, hooks.url, ["dispute.filed"])
        removed = await api.delete("/v1/webhook", headers=bearer(key.key))
        assert removed.status_code == 204
        await api.post("/v1/checks", json={"phone": CONTACT}, headers=bearer(key.key))
        token = await contact_session(conn, CONTACT)
        await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token))
    assert await deliveries(api, key.key) == []
    assert await conn.fetchval("SELECT count(*) FROM webhook_deliveries") == 0

    unknown = await api.put(
        "/v1/webhook", json={"url": "https://hooks.example.com/", "events": ["permit.granted"]}, headers=bearer(key.key)
    )
    assert "events" in problem(unknown, 400)["detail"]
    not_http = await api.put(
        "/v1/webhook", json={"url": "ftp://hooks.example.com/", "events": ["permit.revoked"]}, headers=bearer(key.key)
    )
    assert fields(problem(not_http, 422)) == ["url"]
    no_key = await api.put("/v1/webhook", json={"url": "https://hooks.example.com/", "events": ["permit.revoked"]})
    assert no_key.status_code == 401


async def test_a_removed_webhook_stops_the_retries(api: httpx.AsyncClient, conn: Connection) -> None:
    agency, key = await make_agency_with_key(conn)
    async with receiver([500]) as hooks:
        await register(api, key.key, hooks.url, ["dispute.filed"])
        token = await contact_session(conn, CONTACT)
        filed = await api.post("/v1/contact/disputes", json=complaint(agency.id), headers=auth(token))
        assert filed.status_code == 201, filed.text
        await hooks.wait_for(1)
        removed = await api.delete("/v1/webhook", headers=bearer(key.key))
        assert removed.status_code == 204
        [delivery] = await settled(api, key.key)
    assert delivery["status"] == "dropped" and delivery["next_try_at"] is None
    assert delivery["attempts"] >= 1 and "removed" in delivery["last_error"]
