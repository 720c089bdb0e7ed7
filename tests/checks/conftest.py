"""Helpers for the agency API tests: contacts' phone keys and rules written with plain SQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from registry import phones
from registry.database import Connection
from tests.conftest import TEST_PEPPER


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
