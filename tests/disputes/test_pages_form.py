"""The complaint form over plain HTTP: a complaint and its file are saved together or not at all."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from registry.database import Connection
from registry.disputes import attachments
from registry.jurisdiction import CHINA
from tests.disputes.support import PNG
from tests.factories import contact_session, key_of

PHONE = "138 0013 8000"


async def signed_in_form(api: httpx.AsyncClient, conn: Connection) -> dict[str, str]:
    """The contact's session cookie, and the CSRF token the form page hands out."""
    api.cookies.set("contact_session", await contact_session(conn, PHONE))
    form = await api.get("/complaints/new")
    assert form.status_code == 200, form.text
    return {"x-csrftoken": api.cookies["csrftoken"]}


def fields() -> dict[str, str]:
    occurred = (datetime.now(CHINA.display_zone) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    return {
        "caller_name": "Legal department",
        "categories": "impersonation",
        "occurred_at": occurred,
        "description": "They said they were the court.",
    }


async def test_a_complaint_with_a_file_is_filed_with_it(api: httpx.AsyncClient, conn: Connection) -> None:
    headers = await signed_in_form(api, conn)
    response = await api.post(
        "/complaints/", data=fields(), files={"file": ("shot.png", PNG, "image/png")}, headers=headers
    )
    assert response.status_code == 303, response.text
    assert await conn.fetchval("SELECT count(*) FROM disputes WHERE phone_key = $1", key_of(PHONE)) == 1
    assert await conn.fetchval("SELECT count(*) FROM dispute_attachments") == 1


async def test_a_file_that_cannot_be_stored_files_nothing(
    api: httpx.AsyncClient, conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = await signed_in_form(api, conn)
    # The file passes the checks made before filing, then storing it is refused.
    monkeypatch.setattr(attachments, "MAX_PER_DISPUTE", 0)
    response = await api.post(
        "/complaints/", data=fields(), files={"file": ("shot.png", PNG, "image/png")}, headers=headers
    )
    assert response.status_code == 409, response.text
    assert await conn.fetchval("SELECT count(*) FROM disputes") == 0
    assert await conn.fetchval("SELECT count(*) FROM dispute_events") == 0
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action LIKE 'dispute.%'") == 0
