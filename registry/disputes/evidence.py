"""The evidence a case arrives with, read from the logs rather than typed in by anyone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Generic, TypeVar

import msgspec

from registry.database import Connection
from registry.disputes.schemas import (
    DisputeRow,
    Evidence,
    EvidenceAttempt,
    EvidenceCheck,
    EvidenceNotice,
    EvidencePermit,
    EvidenceRule,
    EvidenceSummary,
)
from registry.rows import as_struct, fetch_all

LOOKBACK = timedelta(days=30)
# At most this many rows of each kind: those nearest the incident (before or after it), shown in
# time order. The summary counts every row in the window and says when a list was cut.
MAX_ROWS = 1000

# Each list is one statement: the window functions count (and sum up) every row the WHERE finds,
# before LIMIT keeps the nearest; $5 is the incident. $3 NULL = an unknown caller: every agency's
# rows on this contact, which is how a reviewer finds who it was.
CHECKS = """
    SELECT * FROM (
        SELECT c.id AS check_id, c.agency_id, a.name AS agency_name, c.checked_at, c.decision, c.reason,
               c.valid_until, c.borrower_key IS NOT NULL AS borrower,
               count(*) OVER () AS found, count(*) FILTER (WHERE c.decision = 'deny') OVER () AS flagged
        FROM checks c LEFT JOIN agencies a ON a.id = c.agency_id
        WHERE c.phone_key = $1 AND c.checked_at >= $2 AND ($3::uuid IS NULL OR c.agency_id = $3)
        ORDER BY abs(extract(epoch FROM c.checked_at - $5::timestamptz)), c.checked_at LIMIT $4
    ) nearest
    ORDER BY checked_at
"""
PERMITS = """
    SELECT * FROM (
        SELECT p.check_id, p.agency_id, a.name AS agency_name, p.issued_at, p.valid_until, p.revoked_at,
               p.revoke_reason, p.used_at, count(*) OVER () AS found, 0::bigint AS flagged
        FROM permits p LEFT JOIN agencies a ON a.id = p.agency_id
        WHERE p.phone_key = $1 AND p.issued_at >= $2 AND ($3::uuid IS NULL OR p.agency_id = $3)
        ORDER BY abs(extract(epoch FROM p.issued_at - $5::timestamptz)), p.issued_at LIMIT $4
    ) nearest
    ORDER BY issued_at
"""
ATTEMPTS = """
    SELECT * FROM (
        SELECT t.id AS attempt_id, t.agency_id, a.name AS agency_name, t.check_id, t.occurred_at, t.reported_at,
               t.channel, t.outcome, t.compliant, t.violation,
               count(*) OVER () AS found, count(*) FILTER (WHERE NOT t.compliant) OVER () AS flagged
        FROM attempts t LEFT JOIN agencies a ON a.id = t.agency_id
        WHERE t.phone_key = $1 AND t.occurred_at >= $2 AND ($3::uuid IS NULL OR t.agency_id = $3)
        ORDER BY abs(extract(epoch FROM t.occurred_at - $5::timestamptz)), t.occurred_at LIMIT $4
    ) nearest
    ORDER BY occurred_at
"""
# The whole rule history, withdrawn and expired rules included: what the contact had said, and when.
# `flagged` says whether any rule (shown or not) was a refusal of this agency in force at the incident.
RULES = """
    SELECT * FROM (
        SELECT *, count(*) OVER () AS found,
               count(*) FILTER (WHERE kind = 'refuse' AND in_force_at_incident
                                  AND (agency_id IS NULL OR agency_id = $3)) OVER () AS flagged
        FROM (
            SELECT r.id AS rule_id, r.kind, r.agency_id, a.name AS agency_name, r.borrower_hint, r.created_at,
                   r.expires_at, r.withdrawn_at,
                   (r.created_at <= $2 AND (r.withdrawn_at IS NULL OR r.withdrawn_at > $2)
                    AND (r.expires_at IS NULL OR r.expires_at > $2)) AS in_force_at_incident
            FROM rules r LEFT JOIN agencies a ON a.id = r.agency_id
            WHERE r.phone_key = $1
        ) history
        ORDER BY abs(extract(epoch FROM created_at - $2::timestamptz)), created_at LIMIT $4
    ) nearest
    ORDER BY created_at
"""

# The notices are few (one per contact per 30 days at most), so the window's list is whole.
NOTICES = """
    SELECT n.id AS notice_id, n.agency_id, a.name AS agency_name, n.created_at AS asked_at, n.check_id, n.status,
           n.attempts, n.sent_at, n.failed_at, n.link_used_at, n.link_action
    FROM notices n LEFT JOIN agencies a ON a.id = n.agency_id
    WHERE n.phone_key = $1 AND n.created_at >= $2
    ORDER BY n.created_at
    LIMIT 100
"""

T = TypeVar("T")


class Found(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """The rows shown, how many the window holds in all, and how many of those were flagged."""

    rows: list[T]
    total: int
    flagged: int


async def nearest(conn: Connection, row_type: type[T], query: str, *args: Any) -> Found[T]:
    records = await conn.fetch(query, *args)
    total, flagged = (records[0]["found"], records[0]["flagged"]) if records else (0, 0)
    return Found(rows=[as_struct(r, row_type) for r in records], total=total, flagged=flagged)


async def gather(conn: Connection, dispute: DisputeRow) -> Evidence:
    since = dispute.occurred_at - LOOKBACK
    key, agency, incident = dispute.phone_key, dispute.agency_id, dispute.occurred_at
    checks = await nearest(conn, EvidenceCheck, CHECKS, key, since, agency, MAX_ROWS, incident)
    permits = await nearest(conn, EvidencePermit, PERMITS, key, since, agency, MAX_ROWS, incident)
    attempts = await nearest(conn, EvidenceAttempt, ATTEMPTS, key, since, agency, MAX_ROWS, incident)
    rules = await nearest(conn, EvidenceRule, RULES, key, incident, agency, MAX_ROWS)
    lists = (checks, permits, attempts, rules)
    return Evidence(
        window_from=since,
        scope="agency" if agency is not None else "all_agencies",
        summary=EvidenceSummary(
            checks=checks.total,
            denied_checks=checks.flagged,
            permits=permits.total,
            attempts=attempts.total,
            non_compliant_attempts=attempts.flagged,
            refusal_in_force_at_incident=rules.flagged > 0,
            calls_claimed=dispute.call_count,
            rules=rules.total,
            truncated=any(found.total > len(found.rows) for found in lists),
            rows_per_list=MAX_ROWS,
        ),
        checks=checks.rows,
        permits=permits.rows,
        attempts=attempts.rows,
        rules=rules.rows,
        notices=await fetch_all(conn, EvidenceNotice, NOTICES, key, since),
    )
