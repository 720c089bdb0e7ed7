"""Factories for the rows many tests need: agencies with keys, contacts with sessions, staff, complaints, rules.

They go through the real queries where one exists; rules are written with SQL as the contacts
feature stores them, so the checks tests do not depend on the contacts feature.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx

from registry import jurisdiction, phones
from registry.agencies import queries as agencies
from registry.agencies.queries import Agency, IssuedKey
from registry.database import Connection
from registry.sessions import staff as accounts
from registry.sessions.contact import start_session
from tests.conftest import TEST_PEPPER

_counter = itertools.count()


def credit_code() -> str:
    """A fresh valid unified social credit code."""
    body = "91110000" + "".join(random.choice(jurisdiction.CREDIT_CODE_ALPHABET) for _ in range(9))
    return jurisdiction.with_check_character(body)


async def make_agency(conn: Connection, name: str | None = None) -> Agency:
    return await agencies.create_agency(conn, name or f"Agency {next(_counter)}", credit_code(), "test")


async def make_agency_with_key(conn: Connection, name: str | None = None) -> tuple[Agency, IssuedKey]:
    agency = await make_agency(conn, name)
    return agency, await agencies.issue_key(conn, agency.id, "test")


def bearer(key: IssuedKey | str) -> dict[str, str]:
    token = key if isinstance(key, str) else key.key
    return {"Authorization": f"Bearer {token}"}


async def one_row(conn: Connection, query: str, *args: object) -> asyncpg.Record:
    """The row a test expects to exist (a missing one fails the test here, by name)."""
    row = await conn.fetchrow(query, *args)
    assert row is not None, f"no row for {query!r}"
    return row


# ---- contacts, staff, complaints ----------------------------------------------------------------

PASSWORD = "correct horse battery staple"
_names = itertools.count()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def contact_token(conn: Connection, phone: str, minutes: int = 60) -> str:
    """A signed-in contact (as after the code step), through the sessions module itself."""
    e164 = phones.normalize(phone)
    session = await start_session(conn, phones.phone_key(e164, TEST_PEPPER), phones.mask(e164), minutes)
    return session.token


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


async def make_staff(conn: Connection, role: str) -> str:
    username = f"{role}{next(_names)}"
    await accounts.create_admin(conn, username, role, PASSWORD, "test")
    return username


# ---- rules, written as the contacts feature stores them -------------------------------------------


def key_of(phone: str) -> bytes:
    """The phone key the service computes for this number under the test pepper."""
    return phones.phone_key(phones.normalize(phone), TEST_PEPPER)


async def add_rule(
    conn: Connection,
    phone: str,
    kind: str,
    *,
    agency_id: UUID | None = None,
    borrower: str | None = None,
    expires_in: timedelta | None = None,
) -> UUID:
    """A rule as the contacts feature would store it (tests of this feature write it with SQL)."""
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
