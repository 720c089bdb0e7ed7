"""The evidence a case arrives with, read from the logs rather than typed in by anyone."""

from __future__ import annotations

from datetime import timedelta

from registry.database import Connection
from registry.disputes.schemas import (
    DisputeRow,
    Evidence,
    EvidenceAttempt,
    EvidenceCheck,
    EvidencePermit,
    EvidenceRule,
    EvidenceSummary,
)
from registry.rows import fetch_all

LOOKBACK = timedelta(days=30)
# A case with more rows than this is decided by its first thousand; the summary says how many were read.
MAX_ROWS = 1000

# $3 NULL = an unknown caller: every agency's rows on this contact, which is how a reviewer finds who it was.
CHECKS = """
    SELECT c.id AS check_id, c.agency_id, a.name AS agency_name, c.checked_at, c.decision, c.reason,
           c.valid_until, c.borrower_key IS NOT NULL AS borrower
    FROM checks c LEFT JOIN agencies a ON a.id = c.agency_id
    WHERE c.phone_key = $1 AND c.checked_at >= $2 AND ($3::uuid IS NULL OR c.agency_id = $3)
    ORDER BY c.checked_at LIMIT $4
"""
PERMITS = """
    SELECT p.check_id, p.agency_id, a.name AS agency_name, p.issued_at, p.valid_until, p.revoked_at,
           p.revoke_reason, p.used_at
    FROM permits p LEFT JOIN agencies a ON a.id = p.agency_id
    WHERE p.phone_key = $1 AND p.issued_at >= $2 AND ($3::uuid IS NULL OR p.agency_id = $3)
    ORDER BY p.issued_at LIMIT $4
"""
ATTEMPTS = """
    SELECT t.id AS attempt_id, t.agency_id, a.name AS agency_name, t.check_id, t.occurred_at, t.reported_at,
           t.channel, t.outcome, t.compliant, t.violation
    FROM attempts t LEFT JOIN agencies a ON a.id = t.agency_id
    WHERE t.phone_key = $1 AND t.occurred_at >= $2 AND ($3::uuid IS NULL OR t.agency_id = $3)
    ORDER BY t.occurred_at LIMIT $4
"""
# The whole rule history, withdrawn and expired rules included: what the contact had said, and when.
RULES = """
    SELECT r.id AS rule_id, r.kind, r.agency_id, a.name AS agency_name, r.borrower_hint, r.created_at,
           r.expires_at, r.withdrawn_at,
           (r.created_at <= $2 AND (r.withdrawn_at IS NULL OR r.withdrawn_at > $2)
            AND (r.expires_at IS NULL OR r.expires_at > $2)) AS in_force_at_incident
    FROM rules r LEFT JOIN agencies a ON a.id = r.agency_id
    WHERE r.phone_key = $1
    ORDER BY r.created_at LIMIT $3
"""


async def gather(conn: Connection, dispute: DisputeRow) -> Evidence:
    since = dispute.occurred_at - LOOKBACK
    key, agency = dispute.phone_key, dispute.agency_id
    checks = await fetch_all(conn, EvidenceCheck, CHECKS, key, since, agency, MAX_ROWS)
    permits = await fetch_all(conn, EvidencePermit, PERMITS, key, since, agency, MAX_ROWS)
    attempts = await fetch_all(conn, EvidenceAttempt, ATTEMPTS, key, since, agency, MAX_ROWS)
    rules = await fetch_all(conn, EvidenceRule, RULES, key, dispute.occurred_at, MAX_ROWS)
    refused = any(
        r.kind == "refuse" and r.in_force_at_incident and (r.agency_id is None or r.agency_id == agency) for r in rules
    )
    return Evidence(
        window_from=since,
        scope="agency" if agency is not None else "all_agencies",
        summary=EvidenceSummary(
            checks=len(checks),
            denied_checks=sum(c.decision == "deny" for c in checks),
            permits=len(permits),
            attempts=len(attempts),
            non_compliant_attempts=sum(not a.compliant for a in attempts),
            refusal_in_force_at_incident=refused,
            calls_claimed=dispute.call_count,
        ),
        checks=checks,
        permits=permits,
        attempts=attempts,
        rules=rules,
    )
