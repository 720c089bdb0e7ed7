"""Factories for the rows many tests need, and the headers that present them.

Agencies with keys, contacts with sessions, staff, disputes, rules and phone keys. They go
through the shared layer's and the features' own functions where one exists (agencies.queries,
sessions.contact.start_session, sessions.staff.create_admin, disputes.intake.file_dispute), so a
test's setup is what the service itself would have stored; rules are written with SQL as the
contacts feature stores them, so the checks tests do not depend on the contacts feature.

A test about signing in, filing or creating goes through HTTP itself (`sign_in` is the contact's
real code flow, for the tests that are about it); the rest take their setup from here.
"""

from __future__ import annotations

import itertools
import random
import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx
import msgspec

from registry import jurisdiction, phones
from registry.agencies import queries as agencies
from registry.agencies.queries import Agency, IssuedKey
from registry.database import Connection
from registry.disputes import intake
from registry.disputes.schemas import DisputeRequest
from registry.sessions import staff as accounts
from registry.sessions.contact import session_from_token, start_session
from registry.settings import Settings
from tests.conftest import TEST_PEPPER
from tests.sms import CODE as SMS_CODE
from tests.sms import all_sent

_counter = itertools.count()


# ---- headers ----------------------------------------------------------------------------------------


def bearer(key: IssuedKey | str) -> dict[str, str]:
    """An agency's API key (or any token) as the Authorization header."""
    token = key if isinstance(key, str) else key.key
    return {"Authorization": f"Bearer {token}"}


def auth(token: str, language: str | None = None) -> dict[str, str]:
    """A contact's or staff member's session token, with the caller's Accept-Language if given."""
    headers = bearer(token)
    if language:
        headers["Accept-Language"] = language
    return headers


async def one_row(conn: Connection, query: str, *args: object) -> asyncpg.Record:
    """The row a test expects to exist (a missing one fails the test here, by name)."""
    row = await conn.fetchrow(query, *args)
    assert row is not None, f"no row for {query!r}"
    return row


# ---- agencies -----------------------------------------------------------------------------------------


def credit_code() -> str:
    """A fresh valid unified social credit code."""
    body = "91110000" + "".join(random.choice(jurisdiction.CREDIT_CODE_ALPHABET) for _ in range(9))
    return jurisdiction.with_check_character(body)


async def make_agency(conn: Connection, name: str | None = None) -> Agency:
    return await agencies.create_agency(conn, name or f"Agency {next(_counter)}", credit_code(), "test")


async def make_agency_with_key(conn: Connection, name: str | None = None) -> tuple[Agency, IssuedKey]:
    agency = await make_agency(conn, name)
    return agency, await agencies.issue_key(conn, agency.id, "test")


# ---- phone keys -----------------------------------------------------------------------------------------


def key_of(phone: str) -> bytes:
    """The phone key the service computes for this number (as written anyhow) under the test pepper."""
    return phones.phone_key(phones.normalize(phone), TEST_PEPPER)


# ---- contacts -------------------------------------------------------------------------------------------


async def contact_session(conn: Connection, phone: str, minutes: int = 60) -> str:
    """A signed-in contact (as after the code step), through sessions.contact.start_session; its token."""
    e164 = phones.normalize(phone)
    session = await start_session(conn, key_of(e164), phones.mask(e164), minutes)
    return session.token


CODE = re.compile(r"(\d{6})")


async def latest_code(conn: Connection, e164: str) -> str:
    """The code in the newest code SMS for this number (what the person reads on their phone), once the
    SMS worker has sent what was queued (codes go through the job queue, a moment after the request)."""
    await all_sent(conn)
    body = await conn.fetchval(
        "SELECT body FROM sms_outbox WHERE phone = $1 AND body LIKE $2 ORDER BY id DESC LIMIT 1", e164, f"%{SMS_CODE}%"
    )
    assert body is not None, f"no SMS in the outbox for {e164}"
    match = CODE.search(body)
    assert match is not None, body
    code: str = match.group(1)
    return code


async def sign_in(api: httpx.AsyncClient, conn: Connection, e164: str, address: str | None = "10.0.0.1") -> str:
    """The contact's real way in, over HTTP: ask for a code, read it from the development outbox,
    trade it for a bearer token (from `address`, sent as X-Forwarded-For, or from loopback when None).

    For the tests about signing in; any other test takes `contact_session`.
    """
    headers = {"X-Forwarded-For": address} if address else {}
    sent = await api.post("/v1/contact/codes", json={"phone": e164}, headers=headers)
    assert sent.status_code == 202, sent.text
    code = await latest_code(conn, e164)
    opened = await api.post("/v1/contact/sessions", json={"phone": e164, "code": code}, headers=headers)
    assert opened.status_code == 201, opened.text
    token: str = opened.json()["token"]
    return token


# ---- staff --------------------------------------------------------------------------------------------

PASSWORD = "correct horse battery staple"
_names = itertools.count()


async def make_staff(conn: Connection, role: str) -> str:
    """A staff account with PASSWORD; its username."""
    username = f"{role}{next(_names)}"
    await accounts.create_admin(conn, username, role, PASSWORD, "test")
    return username


async def staff_token(api: httpx.AsyncClient, conn: Connection, role: str = "reviewer") -> str:
    """A signed-in staff member's API token (the sign-in goes over HTTP: it is where the token is issued)."""
    username = await make_staff(conn, role)
    response = await api.post("/v1/admin/sessions", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


# ---- disputes -------------------------------------------------------------------------------------------


def complaint(agency_id: UUID | None = None, **overrides: object) -> dict[str, object]:
    """A complaint's JSON body, as a contact would send it (two hours ago, five calls, an impersonation)."""
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


async def file_dispute(
    conn: Connection, settings: Settings, token: str, agency_id: UUID | None = None, **overrides: object
) -> str:
    """A complaint filed by the contact of this session, through disputes.intake.file_dispute; its ref.

    For tests that need a complaint to exist; the tests of filing itself post to /v1/contact/disputes.
    """
    contact = await session_from_token(conn, token)
    request = msgspec.convert(complaint(agency_id, **overrides), DisputeRequest)
    filed = await intake.file_dispute(conn, contact, request, settings)
    return filed.ref


# ---- rules, written as the contacts feature stores them -------------------------------------------


async def add_rule(
    conn: Connection,
    phone: str,
    kind: str,
    *,
    agency_id: UUID | None = None,
    borrower: str | None = None,
    expires_in: timedelta | None = None,
) -> UUID:
    """A rule as the contacts feature would store it (tests of the checks write it with SQL)."""
    if kind == "consent" and expires_in is None:
        expires_in = timedelta(days=180)
    expires_at = await conn.fetchval("SELECT now() + $1::interval", expires_in) if expires_in else None
    rule_id: UUID = await conn.fetchval(
        "INSERT INTO rules (phone_key, kind, agency_id, borrower_key, expires_at) VALUES ($1, $2, $3, $4, $5)"
        " RETURNING id",
        key_of(phone),
        kind,
        agency_id,
        key_of(borrower) if borrower else None,
        expires_at,
    )
    return rule_id


async def withdraw_rule(conn: Connection, rule_id: UUID) -> datetime:
    at: datetime = await conn.fetchval(
        "UPDATE rules SET withdrawn_at = now() WHERE id = $1 RETURNING withdrawn_at", rule_id
    )
    return at
