"""Security headers also on the answers built by exception handlers for faults (issue 9, item 7).

tests/test_app.py covers 200, 404, 401 and a redirect; this covers a 500 from the catch-all
handler, and a reviewer's refused suspension on the staff page (403, the staff error page).
"""

from __future__ import annotations

import httpx
import pytest

from registry.agencies import routes as public_routes
from registry.agencies.queries import PublicAgency
from registry.database import Connection
from registry.settings import Settings
from tests.factories import PASSWORD, contact_session, file_dispute, make_agency, make_staff

HEADERS = ("x-content-type-options", "x-frame-options", "referrer-policy", "content-security-policy", "cache-control")


async def test_a_500_carries_the_security_headers(api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(conn: Connection) -> list[PublicAgency]:
        raise RuntimeError("a fault, for the test")

    monkeypatch.setattr(public_routes, "public_agencies", broken)
    response = await api.get("/v1/agencies")
    assert response.status_code == 500
    assert response.json()["detail"] == "internal error"  # no trace of the fault in the answer
    assert all(name in response.headers for name in HEADERS), response.headers
    assert response.headers["cache-control"] == "no-store"


async def test_a_reviewer_cannot_suspend_through_the_case_page(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    agency = await make_agency(conn)
    ref = await file_dispute(conn, settings, await contact_session(conn, "13800138000"), agency.id)
    reviewer = await make_staff(conn, "reviewer")
    await api.get("/admin/login")
    api.cookies.set("lang", "en")
    csrf = {"x-csrftoken": api.cookies["csrftoken"]}
    signed = await api.post("/admin/login", data={"username": reviewer, "password": PASSWORD}, headers=csrf)
    assert signed.status_code == 303, signed.text
    form = {"outcome": "upheld", "note": "Called after a refusal.", "sanction": "suspend"}
    refused = await api.post(f"/admin/disputes/{ref}/decision", data=form, headers=csrf)
    assert refused.status_code == 403
    assert "This needs the admin role; reviewers may read and decide disputes only." in refused.text
    assert all(name in refused.headers for name in HEADERS)
    assert await conn.fetchval("SELECT status FROM agencies WHERE id = $1", agency.id) == "active"
    assert await conn.fetchval("SELECT status FROM disputes WHERE ref = $1", ref) != "upheld"
