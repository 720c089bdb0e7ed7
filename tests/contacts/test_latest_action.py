"""The latest action wins: a refusal withdraws the consents it covers and says so; a later consent is an exception."""

from __future__ import annotations

import httpx

from registry.database import Connection
from tests.factories import auth, bearer, contact_session, make_agency_with_key

PHONE = "+8613800138000"


async def test_refusing_all_withdraws_a_consent_and_revokes_its_permit(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    agency, key = await make_agency_with_key(conn, "安心资产管理有限公司")
    token = await contact_session(conn, PHONE)
    consent = await api.post(
        "/v1/contact/rules", json={"kind": "consent", "agency_id": str(agency.id)}, headers=auth(token)
    )
    assert consent.status_code == 201
    permit = await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))
    assert (permit.json()["decision"], permit.json()["reason"]) == ("allow", "consent")

    refused = await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token, "en"))
    assert refused.status_code == 201
    receipt = refused.json()["receipt"]
    [withdrawn] = receipt["withdrawn"]
    assert withdrawn["id"] == consent.json()["rule"]["id"] and withdrawn["state"] == "withdrawn"
    assert "Withdrawn with it" in receipt["text"] and "安心资产管理有限公司" in receipt["text"]
    assert [r["kind"] for r in receipt["rules_in_force"]] == ["refuse"]
    # The consent's permit is revoked, and the agency sees it in its feed.
    changes = (await api.get("/v1/changes", headers=bearer(key))).json()["items"]
    assert [(c["check_id"], c["reason"]) for c in changes] == [(permit.json()["check_id"], "refused")]
    again = await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))
    assert again.json()["reason"] == "refused"


async def test_refusing_one_agency_leaves_other_consents(api: httpx.AsyncClient, conn: Connection) -> None:
    a, _ = await make_agency_with_key(conn)
    b, key_b = await make_agency_with_key(conn)
    token = await contact_session(conn, PHONE)
    for agency in (a, b):
        await api.post("/v1/contact/rules", json={"kind": "consent", "agency_id": str(agency.id)}, headers=auth(token))
    refused = await api.post("/v1/contact/rules", json={"kind": "refuse", "agency_id": str(a.id)}, headers=auth(token))
    assert [r["agency_id"] for r in refused.json()["receipt"]["withdrawn"]] == [str(a.id)]
    assert (await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key_b))).json()["reason"] == "consent"


async def test_a_consent_after_refusing_all_is_an_exception_the_page_shows(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    agency, key = await make_agency_with_key(conn, "我哥哥的贷款公司")
    _, other_key = await make_agency_with_key(conn)
    token = await contact_session(conn, PHONE)
    await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token))
    await api.post("/v1/contact/rules", json={"kind": "consent", "agency_id": str(agency.id)}, headers=auth(token))
    assert (await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))).json()["reason"] == "consent"
    assert (await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(other_key))).json()[
        "reason"
    ] == "refused"
    api.cookies.set("contact_session", token)
    status = await api.get("/me", headers={"Accept-Language": "en"})
    assert status.status_code == 200
    assert 'id="exceptions"' in status.text and "Except:" in status.text and "我哥哥的贷款公司" in status.text
