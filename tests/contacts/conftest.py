"""Helpers for the contact tests: read a code from the development outbox, sign a number in."""

from __future__ import annotations

import re

import httpx

from registry.database import Connection

CODE = re.compile(r"(\d{6})")


async def latest_code(conn: Connection, e164: str) -> str:
    """The code in the newest outbox message for this number (what the person reads on their phone)."""
    body = await conn.fetchval("SELECT body FROM sms_outbox WHERE phone = $1 ORDER BY id DESC LIMIT 1", e164)
    assert body is not None, f"no SMS in the outbox for {e164}"
    match = CODE.search(body)
    assert match is not None
    return match.group(1)


async def sign_in(api: httpx.AsyncClient, conn: Connection, e164: str, address: str = "10.0.0.1") -> str:
    """Request a code, read it from the outbox, trade it for a bearer token."""
    headers = {"X-Forwarded-For": address}
    sent = await api.post("/v1/contact/codes", json={"phone": e164}, headers=headers)
    assert sent.status_code == 202, sent.text
    code = await latest_code(conn, e164)
    opened = await api.post("/v1/contact/sessions", json={"phone": e164, "code": code}, headers=headers)
    assert opened.status_code == 201, opened.text
    token: str = opened.json()["token"]
    return token


def auth(token: str, language: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if language:
        headers["Accept-Language"] = language
    return headers
