"""Checks, permits, attempts and the changes feed: the SQL and the functions that run it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from registry import policy
from registry.database import Connection
from registry.errors import Suspended, Unauthorized
from registry.settings import Limits, Settings

REVOKE_REASONS = frozenset({"refused", "consent_withdrawn", "erased"})

# The same per-contact lock the check statement takes (sql/0002_checks.sql): a check
# running now either finished before us (we see and revoke its permit) or waits for
# our commit (and sees the new rule).
LOCK_CONTACT = "SELECT lock_contacts(ARRAY[$1::bytea])"

OPEN_PERMITS = """
    SELECT check_id, agency_id, borrower_key, rule_id
    FROM permits
    WHERE phone_key = $1 AND revoked_at IS NULL AND valid_until > now()
    FOR UPDATE
"""

CONTACT_RULES = """
    SELECT id, kind, agency_id, borrower_key, expires_at, withdrawn_at
    FROM rules
    WHERE phone_key = $1
"""

REVOKE = """
    WITH revoked AS (
        UPDATE permits SET revoked_at = clock_timestamp(), revoke_reason = $2
        WHERE check_id = ANY($1::uuid[]) AND revoked_at IS NULL
        RETURNING check_id, agency_id, revoked_at
    )
    INSERT INTO revocations (check_id, agency_id, revoked_at, reason)
    SELECT check_id, agency_id, revoked_at, $2 FROM revoked
    RETURNING check_id
"""


class OpenPermit(msgspec.Struct, frozen=True, kw_only=True):
    check_id: UUID
    agency_id: UUID
    borrower_key: bytes | None
    rule_id: UUID | None


async def revoke_contradicted_permits(
    conn: Connection, phone_key: bytes, reason: str, settings: Settings
) -> list[UUID]:
    """Re-evaluate this contact's open permits (revoked_at IS NULL and valid_until > now())
    against the contact's rules as they are now; revoke each permit that the decision rule
    would now deny (refusal) or whose rule_id is no longer active (withdrawn, expired,
    deleted): stamp permits.revoked_at/revoke_reason and insert a `revocations` row (the
    changes feed). Returns the revoked check ids. Runs inside the caller's transaction."""
    if reason not in REVOKE_REASONS:
        raise ValueError(f"revocation reason must be one of {sorted(REVOKE_REASONS)}, not {reason!r}")
    async with conn.transaction():
        await conn.execute(LOCK_CONTACT, phone_key)
        permits = [msgspec.convert(dict(row), OpenPermit) for row in await conn.fetch(OPEN_PERMITS, phone_key)]
        if not permits:
            return []
        rules = [msgspec.convert(dict(row), policy.Rule) for row in await conn.fetch(CONTACT_RULES, phone_key)]
        at = await conn.fetchval("SELECT clock_timestamp()")
        contradicted = [
            p.check_id for p in permits if policy.contradicts(rules, p.agency_id, p.borrower_key, p.rule_id, at)
        ]
        if not contradicted:
            return []
        return [row["check_id"] for row in await conn.fetch(REVOKE, contradicted, reason)]


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """One row of check_contacts(): the answer to item `ordinal` (1-based) of the call."""

    ordinal: int
    check_id: UUID
    decision: str
    reason: str
    rule_id: UUID | None
    checked_at: datetime
    valid_until: datetime | None
    limit_permits: int | None
    limit_days: int | None
    limit_used: int | None


# One round trip: authentication, rule lookup, counting, the log and the permits all
# happen inside check_contacts() (sql/0002_checks.sql), under the per-contact lock.
CHECK_CONTACTS = "SELECT * FROM check_contacts($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"


async def check_contacts(
    conn: Connection,
    key_hash: bytes,
    items: Sequence[tuple[bytes, bytes | None]],
    limits: Limits,
    at: datetime | None = None,
) -> list[Answer]:
    """Answer (phone key, borrower key) pairs for the agency behind the key; results in input order.

    401 for an unknown or revoked key, 403 for a suspended agency, checked by the same statement.
    """
    try:
        rows = await conn.fetch(
            CHECK_CONTACTS,
            key_hash,
            [phone for phone, _ in items],
            [borrower for _, borrower in items],
            limits.no_record_permits,
            limits.no_record_window_days,
            limits.consent_permits,
            limits.consent_window_days,
            limits.contact_daily_permits,
            limits.permit_hours,
            at,
        )
    except asyncpg.PostgresError as exc:
        mapped = _auth_error(exc)
        if mapped is None:
            raise
        raise mapped from None
    answers = [msgspec.convert(dict(row), Answer) for row in rows]
    answers.sort(key=lambda a: a.ordinal)
    return answers


def _auth_error(exc: asyncpg.PostgresError) -> Exception | None:
    code = getattr(exc, "sqlstate", None)
    if code == "RG401":
        return Unauthorized("unknown or revoked API key")
    if code == "RG403":
        return Suspended("this agency is suspended; checks and reports are refused until it is reinstated")
    return None
