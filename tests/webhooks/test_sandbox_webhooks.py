"""A sandbox key's webhook: its own URL and secret, sample events on request, never a real event;
and the real webhook never gets a sample."""

from __future__ import annotations

import httpx
import msgspec

from registry.agencies import queries as agencies
from registry.database import Connection
from registry.disputes.schemas import DecidedEvent, Filed
from registry.permits import Revoked
from tests.factories import auth, bearer, contact_session, make_agency_with_key
from tests.problems import problem
from tests.webhooks.receiver import receiver, verified
from tests.webhooks.test_webhooks import CONTACT, deliveries, register, settled


def field_names(struct: type[msgspec.Struct]) -> set[str]:
    return {field.name for field in msgspec.structs.fields(struct)}


async def test_a_sandbox_key_gets_signed_samples_on_its_own_webhook_and_no_real_event(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    agency, key = await make_agency_with_key(conn)
    test_key = (await agencies.issue_key(conn, agency.id, "test", sandbox=True)).key
    everything = ["permit.revoked", "dispute.filed", "dispute.decided"]
    async with receiver([204]) as real_hooks, receiver([204]) as sandbox_hooks:
        real_secret = await register(api, key.key, real_hooks.url, ["permit.revoked"])
        sandbox_secret = await register(api, test_key, sandbox_hooks.url, everything)
        assert real_secret != sandbox_secret

        # Each sample arrives at the sandbox webhook, signed with its secret, shaped like the real event.
        for event in everything:
            sent = await api.post("/v1/webhook/test", json={"event": event}, headers=bearer(test_key))
            assert sent.status_code == 202, sent.text
            assert sent.json() == {"event": event, "queued": True}
        arrived = await sandbox_hooks.wait_for(3)
        data = {body["type"]: body["data"] for body in (verified(sandbox_secret, request) for request in arrived)}
        assert set(data["permit.revoked"]) == field_names(Revoked)
        assert set(data["dispute.filed"]) == field_names(Filed)
        assert set(data["dispute.decided"]) == field_names(DecidedEvent)

        # A real refusal reaches the real webhook only.
        checked = await api.post("/v1/checks", json={"phone": CONTACT}, headers=bearer(key.key))
        assert checked.json()["decision"] == "allow", checked.text
        token = await contact_session(conn, CONTACT)
        refused = await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token))
        assert refused.status_code == 201, refused.text
        [real] = await real_hooks.wait_for(1)
        assert verified(real_secret, real)["data"]["check_id"] == checked.json()["check_id"]

    # Each key lists its own side's deliveries.
    assert sorted(d["event"] for d in await settled(api, test_key)) == sorted(everything)
    assert [d["event"] for d in await settled(api, key.key)] == ["permit.revoked"]
    assert len(sandbox_hooks.received) == 3 and len(real_hooks.received) == 1

    # Removing the sandbox webhook leaves the real one.
    assert (await api.delete("/v1/webhook", headers=bearer(test_key))).status_code == 204
    assert await conn.fetchval("SELECT count(*) FROM webhooks WHERE agency_id = $1", agency.id) == 1


async def test_samples_are_for_sandbox_keys_with_a_webhook_that_wants_them(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    agency, key = await make_agency_with_key(conn)
    test_key = (await agencies.issue_key(conn, agency.id, "test", sandbox=True)).key
    real = await api.post("/v1/webhook/test", json={"event": "permit.revoked"}, headers=bearer(key.key))
    assert problem(real, 403)["code"] == "sandbox_only"
    none = await api.post("/v1/webhook/test", json={"event": "permit.revoked"}, headers=bearer(test_key))
    assert problem(none, 409)["code"] == "no_sandbox_webhook"
    async with receiver([204]) as hooks:
        await register(api, test_key, hooks.url, ["dispute.filed"])
        other = await api.post("/v1/webhook/test", json={"event": "permit.revoked"}, headers=bearer(test_key))
        assert problem(other, 409)["code"] == "no_sandbox_webhook"
    bad = await api.post("/v1/webhook/test", json={"event": "permit.granted"}, headers=bearer(test_key))
    assert bad.status_code == 400
    assert await deliveries(api, test_key) == []
