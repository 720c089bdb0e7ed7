"""Helpers for dispute and admin tests: contacts signed in, staff signed in, sample evidence files."""

from __future__ import annotations

import io
import itertools
import wave
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx

from registry import phones, tokens
from registry.admin import accounts
from registry.database import Connection
from tests.conftest import TEST_PEPPER

PASSWORD = "correct horse battery staple"
_names = itertools.count()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def key_of(phone: str) -> bytes:
    return phones.phone_key(phones.normalize(phone), TEST_PEPPER)


INSERT_SESSION = """
    INSERT INTO contact_sessions (phone_key, phone_hint, token_hash, expires_at)
    VALUES ($1, $2, $3, now() + interval '1 hour')
"""


async def contact_token(conn: Connection, phone: str) -> str:
    """A signed-in contact, made the way the contacts feature stores sessions (by token hash)."""
    e164 = phones.normalize(phone)
    token = tokens.new_token("rc_")
    await conn.execute(INSERT_SESSION, phones.phone_key(e164, TEST_PEPPER), phones.mask(e164), tokens.token_hash(token))
    return token


async def staff_token(api: httpx.AsyncClient, conn: Connection, role: str = "reviewer") -> str:
    username = f"{role}{next(_names)}"
    await accounts.create_admin(conn, username, role, PASSWORD, "test")
    response = await api.post("/v1/admin/sessions", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def complaint(agency_id: UUID | None = None, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "categories": ["called_after_refusal", "impersonation"],
        "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        "call_count": 5,
        "description": "They said they were the court and would arrest my mother.",
    }
    if agency_id is not None:
        body["agency_id"] = str(agency_id)
    body.update(overrides)
    return body


async def file_complaint(api: httpx.AsyncClient, token: str, agency_id: UUID | None = None, **overrides: object) -> str:
    response = await api.post("/v1/contact/disputes", json=complaint(agency_id, **overrides), headers=auth(token))
    assert response.status_code == 201, response.text
    ref: str = response.json()["ref"]
    return ref


def wav_bytes(seconds: float = 0.2) -> bytes:
    """A real (silent) WAV recording."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * int(8000 * seconds))
    return buffer.getvalue()


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"
