"""Checks, permits, attempts and the changes feed: the SQL and the functions that run it."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
import msgspec

from registry.checks.schemas import AttemptResult
from registry.database import Connection
from registry.domain import Answer as AnswerWord
from registry.domain import Reason, Violation
from registry.errors import Conflict, InvalidInput, Suspended, Unauthorized
from registry.rows import as_struct, fetch_all, fetch_one
from registry.settings import Limits, NoticeFigures
from registry.tokens import same


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """One row of check_contacts(): the answer to item `ordinal` (1-based) of the call."""

    ordinal: int
    check_id: UUID
    decision: AnswerWord
    reason: Reason
    rule_id: UUID | None
    checked_at: datetime
    valid_until: datetime | None
    limit_permits: int | None
    limit_days: int | None
    limit_used: int | None
    available_at: datetime | None = None
    # The notice this check made (its SMS is queued by the same statement).
    notice_id: UUID | None = None
    # The agency behind the key, for the receipt (read by the same statement).
    agency_id: UUID | None = None


class Item(NamedTuple):
    """One number to check: its phone key, the borrower's key, and the number sealed for a notice SMS
    (None when it cannot receive our SMS: then no notice is made)."""

    phone_key: bytes
    borrower_key: bytes | None = None
    sealed: bytes | None = None


# One round trip: authentication, rule lookup, counting, the notice step, the log, the permits and the
# notices' SMS jobs all happen inside check_contacts() (sql/0080_notice_step.sql, first sql/0011_ask_first.sql),
# under the per-contact lock.
# The agency id the receipts name comes with it: an InitPlan, run once per statement, not per row.
CHECK_CONTACTS = """
    SELECT a.*, (SELECT agency_id FROM api_keys WHERE key_hash = $1) AS agency_id
    FROM check_contacts($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) AS a
"""
# The same for one number sent with an Idempotency-Key ($15, $16): the first answer again within 24 h
# (sql/0050_idempotent_checks.sql). Also one round trip.
CHECK_CONTACTS_ONCE = """
    SELECT a.*, (SELECT agency_id FROM api_keys WHERE key_hash = $1) AS agency_id
    FROM check_contacts_once($15, $16, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) AS a
"""


# A batch sent with an Idempotency-Key ($15, $16): the whole batch in one statement, so one transaction that
# takes its contacts' locks in one sorted pass, and the first batch's answer again within 24 h
# (sql/0075_idempotent_batches.sql). One round trip; a batch without the header never comes here.
CHECK_BATCH_ONCE = """
    SELECT b.*, (SELECT agency_id FROM api_keys WHERE key_hash = $1) AS agency_id
    FROM check_batch_once($15, $16, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) AS b
"""


class Once(NamedTuple):
    """A check (or a batch) sent with an Idempotency-Key, and the keyed hash of the request (a retry has the same;
    routes.request_hash)."""

    idempotency_key: str
    request_hash: bytes


class Batch(msgspec.Struct, frozen=True, kw_only=True):
    """A batch answered once per Idempotency-Key: its id and time (both signed by its receipt) and its answers
    in input order; on a retry, the first batch's, unchanged."""

    batch_id: UUID
    checked_at: datetime
    answers: list[Answer]
    agency_id: UUID


def as_batch(row: asyncpg.Record) -> Batch:
    """The row of check_batch_once() or sandbox_batch_once(); its answers arrive as composite records."""
    return Batch(
        batch_id=row["batch_id"],
        checked_at=row["checked_at"],
        answers=[as_struct(answer, Answer) for answer in row["answers"]],
        agency_id=row["agency_id"],
    )


def key_reused() -> Conflict:
    return Conflict(
        "this Idempotency-Key was already used with a different request body", code="idempotency_key_reused"
    )


def refusal(exc: asyncpg.PostgresError) -> Exception:
    """What a check statement's refusal means to the caller: a reused Idempotency-Key (409), a
    suspended agency (403) or an unknown key (401); any other unique violation is itself."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return key_reused() if exc.detail == "idempotency_key_reused" else exc
    if exc.detail == "suspended":
        return Suspended("this agency is suspended; checks and reports are refused until it is reinstated")
    return Unauthorized("unknown or revoked API key")


async def check_contacts(
    conn: Connection,
    key_hash: bytes,
    items: Sequence[Item],
    limits: Limits,
    notice: NoticeFigures,
    at: datetime | None = None,
    once: Once | None = None,
) -> list[Answer]:
    """Answer the items for the agency behind the key; results in input order.

    401 for an unknown or revoked key, 403 for a suspended agency, checked by the same statement.
    With `once` (one item), the first answer to that Idempotency-Key in 24 h, or 409 if its body differed.
    """
    return answers_of(await check_contacts_rows(conn, key_hash, items, limits, notice, at, once))


async def check_contacts_rows(
    conn: Connection,
    key_hash: bytes,
    items: Sequence[Item],
    limits: Limits,
    notice: NoticeFigures,
    at: datetime | None = None,
    once: Once | None = None,
) -> list[asyncpg.Record]:
    """check_contacts() as the rows arrive, unconverted: a batch sends its next chunk before it converts
    these (`answers_of`), so PostgreSQL does not wait for Python between chunks."""
    query = CHECK_CONTACTS if once is None else CHECK_CONTACTS_ONCE
    try:
        rows: list[asyncpg.Record] = await conn.fetch(
            query, *_arguments(key_hash, items, limits, notice, at), *(once or ())
        )
    except (asyncpg.UniqueViolationError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise refusal(exc) from None
    return rows


def answers_of(rows: Sequence[asyncpg.Record]) -> list[Answer]:
    """A check statement's rows as answers, in input order."""
    answers = [as_struct(row, Answer) for row in rows]
    answers.sort(key=lambda a: a.ordinal)
    return answers


async def check_batch_once(
    conn: Connection, key_hash: bytes, items: Sequence[Item], limits: Limits, notice: NoticeFigures, once: Once
) -> Batch:
    """Answer a batch sent with an Idempotency-Key: decided once, then the same answer for 24 h (409 for
    another body with that key). 401/403 first, as for any check, even when no item was valid."""
    try:
        row = await conn.fetchrow(CHECK_BATCH_ONCE, *_arguments(key_hash, items, limits, notice, None), *once)
    except (asyncpg.UniqueViolationError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise refusal(exc) from None
    assert row is not None, "check_batch_once() answers one row"
    return as_batch(row)


def _arguments(
    key_hash: bytes, items: Sequence[Item], limits: Limits, notice: NoticeFigures, at: datetime | None
) -> tuple[Any, ...]:
    """check_contacts()'s arguments, $1 to $14."""
    return (
        key_hash,
        [item.phone_key for item in items],
        [item.borrower_key for item in items],
        [item.sealed for item in items],
        limits.no_record_permits,
        limits.no_record_window_days,
        limits.consent_permits,
        limits.consent_window_days,
        limits.contact_daily_permits,
        limits.permit_hours,
        notice.hours,
        notice.min_days,
        notice.daily_per_agency,
        at,
    )


# The check and, for an allow answer, its permit, locked so two reports cannot both use it.
FIND_CHECK = """
    SELECT c.id, c.phone_key, c.decision, c.checked_at, p.valid_until, p.revoked_at, p.used_at
    FROM checks c
    LEFT JOIN LATERAL (
        SELECT valid_until, revoked_at, used_at FROM permits WHERE check_id = c.id FOR UPDATE
    ) p ON true
    WHERE c.id = $1 AND c.agency_id = $2
"""

FIND_ATTEMPT = """
    SELECT id AS attempt_id, compliant, violation, request_hash
    FROM attempts
    WHERE agency_id = $1 AND idempotency_key = $2
"""

INSERT_ATTEMPT = """
    INSERT INTO attempts (agency_id, check_id, phone_key, occurred_at, channel, outcome, compliant, violation,
                          idempotency_key, request_hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (agency_id, idempotency_key) DO NOTHING
    RETURNING id AS attempt_id, compliant, violation
"""

USE_PERMIT = "UPDATE permits SET used_at = $2 WHERE check_id = $1"


class CheckedCall(msgspec.Struct, frozen=True, kw_only=True):
    """A check and its permit (the permit fields are None for a deny answer)."""

    id: UUID
    phone_key: bytes
    decision: str
    checked_at: datetime
    valid_until: datetime | None
    revoked_at: datetime | None
    used_at: datetime | None


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """What an agency reports; `phone_key` is None when it named only the check."""

    agency_id: UUID
    check_id: UUID | None
    phone_key: bytes | None
    occurred_at: datetime
    channel: str
    outcome: str | None
    idempotency_key: str | None
    request_hash: bytes


async def record_attempt(conn: Connection, attempt: Attempt) -> AttemptResult:
    """Record a reported call, SMS or visit and say whether a valid permit covered it.

    Every attempt is recorded, compliant or not. A retry with the same Idempotency-Key
    and the same body returns the first result; with another body it is 409.
    """
    async with conn.transaction():
        if attempt.idempotency_key is not None:
            first = await first_result(conn, attempt)
            if first is not None:
                return first
        phone_key, violation = await _judge(conn, attempt)
        row = await conn.fetchrow(
            INSERT_ATTEMPT,
            attempt.agency_id,
            attempt.check_id,
            phone_key,
            attempt.occurred_at,
            attempt.channel,
            attempt.outcome,
            violation is None,
            violation,
            attempt.idempotency_key,
            attempt.request_hash,
        )
        if row is None:
            # A concurrent request with the same key committed first (ON CONFLICT waited for it).
            first = await first_result(conn, attempt)
            assert first is not None
            return first
        if violation is None and attempt.check_id is not None:
            await conn.execute(USE_PERMIT, attempt.check_id, attempt.occurred_at)
        return as_struct(row, AttemptResult)


async def first_result(conn: Connection, attempt: Attempt, find: str = FIND_ATTEMPT) -> AttemptResult | None:
    """The answer an earlier report with this Idempotency-Key got (`find` reads the real or the sandbox's
    attempts), or None; 409 when that report had another body."""
    row = await conn.fetchrow(find, attempt.agency_id, attempt.idempotency_key)
    if row is None:
        return None
    if not same(bytes(row["request_hash"] or b""), attempt.request_hash):
        raise key_reused()
    return AttemptResult(attempt_id=row["attempt_id"], compliant=row["compliant"], violation=row["violation"])


async def _judge(conn: Connection, attempt: Attempt) -> tuple[bytes, Violation | None]:
    """The contact's phone key and the violation, if any (None: a valid permit covered the attempt)."""
    if attempt.check_id is None:
        assert attempt.phone_key is not None
        return attempt.phone_key, "no_permit"
    # Another agency's check id is indistinguishable from an unknown one.
    checked = await fetch_one(
        conn,
        CheckedCall,
        FIND_CHECK,
        attempt.check_id,
        attempt.agency_id,
        missing="no check with this id for your agency",
        code="unknown_check",
    )
    if attempt.phone_key is not None and not same(attempt.phone_key, checked.phone_key):
        raise InvalidInput("phone", "is not the number this check was made for")
    if checked.decision != "allow":
        return checked.phone_key, "permit_denied"
    if attempt.occurred_at < checked.checked_at:
        # The call came before the answer: no permit existed when it was made.
        return checked.phone_key, "no_permit"
    assert checked.valid_until is not None, "every allow answer has its permit row"
    if checked.revoked_at is not None and checked.revoked_at <= attempt.occurred_at:
        return checked.phone_key, "permit_revoked"
    if attempt.occurred_at > checked.valid_until:
        return checked.phone_key, "permit_expired"
    if checked.used_at is not None:
        return checked.phone_key, "permit_used"
    return checked.phone_key, None


CHANGES = """
    SELECT seq, check_id, revoked_at, reason
    FROM revocations
    WHERE agency_id = $1 AND seq > $2
    ORDER BY seq
    LIMIT $3
"""

CURSOR_PREFIX = "c1."


class Revocation(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    check_id: UUID
    revoked_at: datetime
    reason: str


def encode_cursor(seq: int) -> str:
    return CURSOR_PREFIX + base64.urlsafe_b64encode(seq.to_bytes(8, "big")).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """0 (the start) for no cursor; InvalidInput naming `after` for anything this service did not hand out."""
    if not cursor:
        return 0
    try:
        if not cursor.startswith(CURSOR_PREFIX):
            raise ValueError(cursor)
        raw = base64.urlsafe_b64decode(cursor[len(CURSOR_PREFIX) :] + "==")
        if len(raw) != 8:
            raise ValueError(cursor)
    except ValueError:
        raise InvalidInput(
            "after", "not a cursor from this feed; pass back the `next` value you were given", code="bad_cursor"
        ) from None
    return int.from_bytes(raw, "big")


async def changes(conn: Connection, agency_id: UUID, after: int, limit: int) -> tuple[list[Revocation], int]:
    """This agency's revoked permits after `after`, oldest first, and the seq to continue from."""
    rows = await fetch_all(conn, Revocation, CHANGES, agency_id, after, limit)
    return rows, (rows[-1].seq if rows else after)
