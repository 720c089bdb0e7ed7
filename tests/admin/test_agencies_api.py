"""Admins manage agencies and keys over the API; every change takes effect on the agency's next request."""

from __future__ import annotations

import httpx

from registry import tokens
from registry.database import Connection
from tests.factories import auth, bearer, credit_code, staff_token


async def test_agency_and_key_lifecycle(api: httpx.AsyncClient, conn: Connection) -> None:
    admin = await staff_token(api, conn, "admin")
    code = credit_code()
    created = await api.post("/v1/admin/agencies", json={"name": "安心催收", "credit_code": code}, headers=auth(admin))
    assert created.status_code == 201, created.text
    agency = created.json()
    assert agency["status"] == "active" and agency["credit_code"] == code
    duplicate = await api.post("/v1/admin/agencies", json={"name": "Again", "credit_code": code}, headers=auth(admin))
    assert duplicate.status_code == 409
    bad = await api.post("/v1/admin/agencies", json={"name": "X", "credit_code": "123"}, headers=auth(admin))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "credit_code"

    issued = await api.post(f"/v1/admin/agencies/{agency['id']}/keys", headers=auth(admin))
    assert issued.status_code == 201
    key = issued.json()["key"]
    assert key.startswith("rk_")
    stored = await conn.fetchval("SELECT key_hash FROM api_keys WHERE id = $1", issued.json()["key_id"])
    assert bytes(stored) == tokens.token_hash(key)
    shown = (await api.get(f"/v1/admin/agencies/{agency['id']}", headers=auth(admin))).json()
    assert [k["id"] for k in shown["keys"]] == [issued.json()["key_id"]]
    assert key not in str(shown)
    assert (await api.get("/v1/disputes", headers=bearer(key))).status_code == 200

    suspended = await api.post(
        f"/v1/admin/agencies/{agency['id']}/suspend", json={"reason": "audit"}, headers=auth(admin)
    )
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    assert (await api.get("/v1/disputes", headers=bearer(key))).status_code == 403
    reinstated = await api.post(f"/v1/admin/agencies/{agency['id']}/reinstate", headers=auth(admin))
    assert reinstated.status_code == 200 and reinstated.json()["status"] == "active"
    assert (await api.get("/v1/disputes", headers=bearer(key))).status_code == 200

    revoked = await api.delete(f"/v1/admin/keys/{issued.json()['key_id']}", headers=auth(admin))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert (await api.get("/v1/disputes", headers=bearer(key))).status_code == 401

    listed = (await api.get("/v1/admin/agencies", headers=auth(admin))).json()["items"]
    assert [a["name"] for a in listed] == ["安心催收"]
    unknown = "00000000-0000-0000-0000-000000000000"
    assert (await api.post(f"/v1/admin/agencies/{unknown}/suspend", headers=auth(admin))).status_code == 404
    assert (await api.delete(f"/v1/admin/keys/{unknown}", headers=auth(admin))).status_code == 404
    actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_log ORDER BY seq")]
    assert actions[-5:] == ["agency.create", "key.create", "agency.suspend", "agency.reinstate", "key.revoke"]
