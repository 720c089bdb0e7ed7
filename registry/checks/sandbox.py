"""The sandbox: what an `rk_test_...` key's checks and attempts do, apart from every real contact.

A sandbox check is answered by the number's last digit alone (sql/0051_sandbox.sql): `...1`
refused, `...2` consent, `...3` notice_pending, `...4` frequency_limit, any other allow /
no_record, every time, so an integration can be tried again and again. Nothing about a real
contact is read or written and no SMS is queued; the rows go to sandbox_checks and
sandbox_attempts and hold no phone key. The feed of a sandbox key is empty: no contact acts on
sandbox permits.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from registry.checks.queries import Attempt, Batch, Once, as_batch, first_result, refusal
from registry.checks.schemas import AttemptResult
from registry.database import Connection
from registry.domain import Violation
from registry.errors import InvalidInput
from registry.rows import as_struct, fetch_one
from registry.settings import Limits, NoticeFigures

SANDBOX_CHECK = """
    SELECT a.*, (SELECT agency_id FROM api_keys WHERE key_hash = $1) AS agency_id
    FROM sandbox_check($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS a
"""


async def check(
    conn: Connection,
    key_hash: bytes,
    last_digits: list[int],
    limits: Limits,
    notice: NoticeFigures,
    once: Once | None = None,
) -> list[asyncpg.Record]:
    """The sandbox's rows, unconverted (queries.answers_of puts them in input order); 401/403 as for a real
    check."""
    try:
        rows: list[asyncpg.Record] = await conn.fetch(
            SANDBOX_CHECK,
            key_hash,
            last_digits,
            limits.no_record_permits,
            limits.no_record_window_days,
            limits.consent_permits,
            limits.consent_window_days,
            limits.permit_hours,
            notice.hours,
            *(once or (None, None)),
        )
    except (asyncpg.UniqueViolationError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise refusal(exc) from None
    return rows


# A sandbox batch sent with an Idempotency-Key: the first batch's answer again within 24 h, as for a
# real key (sql/0075_idempotent_batches.sql).
SANDBOX_BATCH_ONCE = """
    SELECT b.*, (SELECT agency_id FROM api_keys WHERE key_hash = $3) AS agency_id
    FROM sandbox_batch_once($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS b
"""


async def check_batch_once(
    conn: Connection, key_hash: bytes, last_digits: list[int], limits: Limits, notice: NoticeFigures, once: Once
) -> Batch:
    """The sandbox's batch, answered once per Idempotency-Key; 401/403 and 409 as for a real batch."""
    try:
        row = await conn.fetchrow(
            SANDBOX_BATCH_ONCE,
            *once,
            key_hash,
            last_digits,
            limits.no_record_permits,
            limits.no_record_window_days,
            limits.consent_permits,
            limits.consent_window_days,
            limits.permit_hours,
            notice.hours,
        )
    except (asyncpg.UniqueViolationError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise refusal(exc) from None
    assert row is not None, "sandbox_batch_once() answers one row"
    return as_batch(row)


class SandboxCheck(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    last_digit: int
    decision: str
    checked_at: datetime
    valid_until: datetime | None
    used_at: datetime | None


FIND_CHECK = """
    SELECT id, last_digit, decision, checked_at, valid_until, used_at
    FROM sandbox_checks WHERE id = $1 AND agency_id = $2 FOR UPDATE
"""
FIND_ATTEMPT = """
    SELECT id AS attempt_id, compliant, violation, request_hash
    FROM sandbox_attempts WHERE agency_id = $1 AND idempotency_key = $2
"""
INSERT_ATTEMPT = """
    INSERT INTO sandbox_attempts (agency_id, check_id, occurred_at, channel, outcome, compliant, violation,
                                  idempotency_key, request_hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (agency_id, idempotency_key) DO NOTHING
    RETURNING id AS attempt_id, compliant, violation
"""
USE_PERMIT = "UPDATE sandbox_checks SET used_at = $2 WHERE id = $1"


async def record_attempt(conn: Connection, attempt: Attempt, last_digit: int | None) -> AttemptResult:
    """A sandbox attempt, judged against the sandbox check as a real one is against its permit
    (a sandbox check keeps only the number's last digit, so that is what a given phone is held to)."""
    async with conn.transaction():
        if attempt.idempotency_key is not None:
            first = await first_result(conn, attempt, FIND_ATTEMPT)
            if first is not None:
                return first
        violation = await _judge(conn, attempt, last_digit)
        row = await conn.fetchrow(
            INSERT_ATTEMPT,
            attempt.agency_id,
            attempt.check_id,
            attempt.occurred_at,
            attempt.channel,
            attempt.outcome,
            violation is None,
            violation,
            attempt.idempotency_key,
            attempt.request_hash,
        )
        if row is None:
            first = await first_result(conn, attempt, FIND_ATTEMPT)
            assert first is not None
            return first
        if violation is None:
            await conn.execute(USE_PERMIT, attempt.check_id, attempt.occurred_at)
        return as_struct(row, AttemptResult)


async def _judge(conn: Connection, attempt: Attempt, last_digit: int | None) -> Violation | None:
    if attempt.check_id is None:
        return "no_permit"
    checked = await fetch_one(
        conn,
        SandboxCheck,
        FIND_CHECK,
        attempt.check_id,
        attempt.agency_id,
        missing="no check with this id for your agency",
        code="unknown_check",
    )
    if last_digit is not None and last_digit != checked.last_digit:
        raise InvalidInput("phone", "is not the number this check was made for")
    if checked.decision != "allow":
        return "permit_denied"
    if attempt.occurred_at < checked.checked_at:
        return "no_permit"
    assert checked.valid_until is not None
    if attempt.occurred_at > checked.valid_until:
        return "permit_expired"
    if checked.used_at is not None:
        return "permit_used"
    return None
