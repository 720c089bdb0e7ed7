"""Permits that a change of a contact's rules contradicts are revoked here, for every feature.

A permit is issued by a check (checks/), but revoked when the contact refuses, withdraws
a consent or erases her data (contacts/): so revocation lives below both. Each revocation
is a row of `revocations`, which the agencies' changes feed reads, and, in the same transaction,
a `permit.revoked` webhook event carrying the same item for each agency that asked for one.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from registry import policy
from registry.database import Connection
from registry.rows import fetch_all
from registry.settings import Settings
from registry.webhooks import events

REVOKE_REASONS = frozenset({"refused", "consent_withdrawn", "erased"})

# The same per-contact lock the check statement takes (sql/0002_checks.sql): a check
# running now either finished before us (we see and revoke its permit) or waits for
# our commit (and sees the new rule).
LOCK_CONTACT = "SELECT lock_contacts(ARRAY[$1::bytea])"

# clock_timestamp(), not now(): read after the lock, so rules committed while we waited count.
OPEN_PERMITS = """
    SELECT check_id, agency_id, borrower_key, rule_id, clock_timestamp() AS at
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
        RETURNING phone_key, check_id, agency_id, revoked_at
    )
    INSERT INTO revocations (phone_key, check_id, agency_id, revoked_at, reason)
    SELECT phone_key, check_id, agency_id, revoked_at, $2 FROM revoked
    RETURNING check_id, agency_id, revoked_at, reason
"""


class Revoked(msgspec.Struct, frozen=True, kw_only=True):
    """A changes-feed item, as `GET /v1/changes` shows it and a `permit.revoked` webhook carries it."""

    check_id: UUID
    revoked_at: datetime
    reason: str


class OpenPermit(msgspec.Struct, frozen=True, kw_only=True):
    check_id: UUID
    agency_id: UUID
    borrower_key: bytes | None
    rule_id: UUID | None
    at: datetime


async def revoke_contradicted_permits(
    conn: Connection, phone_key: bytes, reason: str, settings: Settings
) -> list[UUID]:
    """Re-evaluate this contact's open permits (revoked_at IS NULL and valid_until > now())
    against the contact's rules as they are now; revoke each permit that the decision rule
    would now deny (refusal) or whose rule_id is no longer active (withdrawn, expired,
    deleted): stamp permits.revoked_at/revoke_reason and insert a `revocations` row (the
    changes feed) and queue a `permit.revoked` webhook event for each. Returns the revoked check
    ids. Runs inside the caller's transaction."""
    if reason not in REVOKE_REASONS:
        raise ValueError(f"revocation reason must be one of {sorted(REVOKE_REASONS)}, not {reason!r}")
    if not conn.is_in_transaction():
        async with conn.transaction():
            return await revoke_contradicted_permits(conn, phone_key, reason, settings)
    await conn.execute(LOCK_CONTACT, phone_key)
    permits = await fetch_all(conn, OpenPermit, OPEN_PERMITS, phone_key)
    if not permits:
        return []
    rules = await fetch_all(conn, policy.Rule, CONTACT_RULES, phone_key)
    contradicted = [
        p.check_id for p in permits if policy.contradicts(rules, p.agency_id, p.borrower_key, p.rule_id, p.at)
    ]
    if not contradicted:
        return []
    rows = await conn.fetch(REVOKE, contradicted, reason)
    await events.queue(
        conn,
        "permit.revoked",
        [
            (row["agency_id"], Revoked(check_id=row["check_id"], revoked_at=row["revoked_at"], reason=row["reason"]))
            for row in rows
        ],
    )
    return [row["check_id"] for row in rows]
