"""Contacts: one-time codes, sessions, rules with receipts, `me`, erasure. SQL beside the function that runs it."""

from __future__ import annotations

import secrets
import unicodedata
from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec

from registry import audit, phones, tokens
from registry.checks.queries import revoke_contradicted_permits
from registry.contacts.schemas import (
    CodeSent,
    ContactSession,
    Me,
    Receipt,
    ReceiptAction,
    RecentCheck,
    Rule,
    RuleChange,
    RuleRequest,
    SessionToken,
)
from registry.contacts.sms import SmsSender
from registry.contacts.words import receipt_text
from registry.database import Connection
from registry.disputes.queries import contact_disputes
from registry.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unauthorized
from registry.settings import Settings
from registry.web.i18n import Texts

SESSION_PREFIX = "ct_"


class Throttled(msgspec.Struct, frozen=True):
    """Seconds until the limit frees a slot; absent when under the limit."""

    phone_wait: float | None
    client_wait: float | None


def client_key(settings: Settings, address: str | None) -> bytes:
    """The client address is kept only as an HMAC, enough to count requests from it."""
    return tokens.keyed_hash(settings.session_key, "client:" + (address or "unknown"))


def _lock_id(key: bytes) -> int:
    return int.from_bytes(key[:8], "big", signed=True)


LOCK = "SELECT pg_advisory_xact_lock($1)"


def _raise_if_throttled(throttled: Throttled, what: str) -> None:
    waits = [w for w in (throttled.phone_wait, throttled.client_wait) if w is not None]
    if waits:
        raise TooManyRequests(f"too many {what}; try again later", retry_after=int(max(waits)) + 1)


# The limit-th most recent event inside the hour: once it leaves the hour a slot is free again.
SEND_PRESSURE = """
    SELECT
        (SELECT extract(epoch FROM created_at + interval '1 hour' - now())::float8 FROM contact_codes
         WHERE phone_key = $1 AND created_at > now() - interval '1 hour'
         ORDER BY created_at DESC OFFSET $3::int - 1 LIMIT 1) AS phone_wait,
        (SELECT extract(epoch FROM created_at + interval '1 hour' - now())::float8 FROM contact_codes
         WHERE client_key = $2 AND created_at > now() - interval '1 hour'
         ORDER BY created_at DESC OFFSET $4::int - 1 LIMIT 1) AS client_wait
"""
# Only the newest code works: asking for a new one voids the ones before it.
VOID_OPEN_CODES = """
    UPDATE contact_codes SET voided_at = now()
    WHERE phone_key = $1 AND used_at IS NULL AND voided_at IS NULL AND expires_at > now()
"""
INSERT_CODE = """
    INSERT INTO contact_codes (phone_key, client_key, code_hash, expires_at)
    VALUES ($1, $2, $3, now() + make_interval(mins => $4::int))
"""


def _code_hash(settings: Settings, phone_key: bytes, code: str) -> bytes:
    return tokens.keyed_hash(settings.session_key, f"{phone_key.hex()}:{code}")


def sms_text(code: str, minutes: int) -> str:
    # Both languages: the SMS goes out before we know which one the person reads.
    chinese = f"【催收联系人登记】验证码 {code}，{minutes} 分钟内有效。"
    return chinese + f"Contact registry code: {code}, valid {minutes} minutes."


async def send_code(
    conn: Connection, settings: Settings, sender: SmsSender, raw_phone: str, address: str | None
) -> CodeSent:
    """Make and send a 6-digit code. Every valid number gets the same answer, registered or not."""
    e164 = phones.normalize(raw_phone, settings.default_region)
    key = phones.phone_key(e164, settings.pepper)
    client = client_key(settings, address)
    limits = settings.contact
    code = f"{secrets.randbelow(1_000_000):06d}"
    async with conn.transaction():
        await conn.execute(LOCK, _lock_id(key))
        row = await conn.fetchrow(
            SEND_PRESSURE, key, client, limits.code_sends_per_phone_hour, limits.code_sends_per_client_hour
        )
        assert row is not None  # a SELECT without FROM always answers one row
        _raise_if_throttled(msgspec.convert(dict(row), Throttled), "codes requested")
        await conn.execute(VOID_OPEN_CODES, key)
        await conn.execute(INSERT_CODE, key, client, _code_hash(settings, key, code), limits.code_minutes)
    # Sent after the commit: a slow gateway must not hold the row locks.
    await sender.send(conn, e164, sms_text(code, limits.code_minutes))
    return CodeSent(expires_in=limits.code_minutes * 60)


TRY_PRESSURE = """
    SELECT
        (SELECT extract(epoch FROM at + interval '1 hour' - now())::float8 FROM contact_code_failures
         WHERE phone_key = $1 AND at > now() - interval '1 hour'
         ORDER BY at DESC OFFSET $3::int - 1 LIMIT 1) AS phone_wait,
        (SELECT extract(epoch FROM at + interval '1 hour' - now())::float8 FROM contact_code_failures
         WHERE client_key = $2 AND at > now() - interval '1 hour'
         ORDER BY at DESC OFFSET $4::int - 1 LIMIT 1) AS client_wait
"""
LIVE_CODE = """
    SELECT id, code_hash FROM contact_codes
    WHERE phone_key = $1 AND used_at IS NULL AND voided_at IS NULL AND expires_at > now()
    ORDER BY created_at DESC LIMIT 1
    FOR UPDATE
"""
# The code's max-th wrong try voids it.
FAIL_CODE = """
    UPDATE contact_codes
    SET failures = failures + 1, voided_at = CASE WHEN failures + 1 >= $2 THEN now() END
    WHERE id = $1
"""
RECORD_FAILURE = "INSERT INTO contact_code_failures (phone_key, client_key) VALUES ($1, $2)"
USE_CODE = "UPDATE contact_codes SET used_at = now() WHERE id = $1"
INSERT_SESSION = """
    INSERT INTO contact_sessions (phone_key, phone_hint, token_hash, expires_at)
    VALUES ($1, $2, $3, now() + make_interval(mins => $4::int))
    RETURNING expires_at
"""


def clean_code(raw: str) -> str:
    """Full-width digits and spaces are folded, so `１２３ ４５６` is `123456`."""
    code = "".join(unicodedata.normalize("NFKC", raw).split())
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise InvalidInput("code", "the code has 6 digits")
    return code


async def open_session(
    conn: Connection, settings: Settings, raw_phone: str, raw_code: str, address: str | None
) -> SessionToken:
    """Trade a right code for a session token; a wrong one counts against the code and the try limits."""
    e164 = phones.normalize(raw_phone, settings.default_region)
    code = clean_code(raw_code)
    key = phones.phone_key(e164, settings.pepper)
    client = client_key(settings, address)
    limits = settings.contact
    token = tokens.new_token(SESSION_PREFIX)
    async with conn.transaction():
        await conn.execute(LOCK, _lock_id(key))
        row = await conn.fetchrow(
            TRY_PRESSURE, key, client, limits.code_failures_per_phone_hour, limits.code_failures_per_client_hour
        )
        assert row is not None
        _raise_if_throttled(msgspec.convert(dict(row), Throttled), "wrong codes")
        live = await conn.fetchrow(LIVE_CODE, key)
        right = live is not None and tokens.same(bytes(live["code_hash"]), _code_hash(settings, key, code))
        if live is not None and right:
            await conn.execute(USE_CODE, live["id"])
            expires_at = await conn.fetchval(
                INSERT_SESSION, key, phones.mask(e164), tokens.token_hash(token), limits.session_minutes
            )
        else:
            if live is not None:
                await conn.execute(FAIL_CODE, live["id"], limits.code_max_failures)
            await conn.execute(RECORD_FAILURE, key, client)
    # Raised after the commit, so the wrong try stays counted.
    if not right:
        raise Unauthorized("wrong or expired code")
    return SessionToken(token=token, expires_at=expires_at)


SESSION = """
    SELECT id, phone_key, phone_hint, expires_at FROM contact_sessions
    WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > now()
"""


async def session_from_token(conn: Connection, token: str | None) -> ContactSession:
    """The session a bearer token or cookie names; looked up by hash, so no plain token is stored."""
    if not token:
        raise Unauthorized("a contact session is required: Authorization: Bearer <token>")
    row = await conn.fetchrow(SESSION, tokens.token_hash(token))
    if row is None:
        raise Unauthorized("unknown, ended or expired contact session")
    return msgspec.convert(dict(row), ContactSession)


END_SESSION = "UPDATE contact_sessions SET ended_at = now() WHERE id = $1 AND ended_at IS NULL"


async def end_session(conn: Connection, contact: ContactSession) -> None:
    await conn.execute(END_SESSION, contact.id)


# A rule's state is computed, never stored: expiry needs no job to flip it.
RULES_OF = """
    SELECT r.id, r.kind, r.agency_id, a.name AS agency_name, r.borrower_hint AS borrower,
           r.created_at, r.expires_at, r.withdrawn_at,
           CASE WHEN r.withdrawn_at IS NOT NULL THEN 'withdrawn'
                WHEN r.expires_at IS NOT NULL AND r.expires_at <= now() THEN 'expired'
                ELSE 'active' END AS state
    FROM rules r LEFT JOIN agencies a ON a.id = r.agency_id
    WHERE r.phone_key = $1
    ORDER BY r.created_at DESC, r.id
"""


async def rules_of(conn: Connection, phone_key: bytes) -> list[Rule]:
    """Every rule of a contact, newest first, each with its state now."""
    return [msgspec.convert(dict(row), Rule) for row in await conn.fetch(RULES_OF, phone_key)]


AGENCY_NAME = "SELECT name FROM agencies WHERE id = $1"
INSERT_RULE = """
    INSERT INTO rules (phone_key, kind, agency_id, borrower_key, borrower_hint, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6)
    RETURNING id
"""
INSERT_RECEIPT = """
    INSERT INTO contact_receipts (phone_key, action, rule_id, rule, in_force)
    VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)
    RETURNING id, issued_at
"""


def _expiry(request: RuleRequest, settings: Settings, now: datetime) -> datetime | None:
    """A consent must end (default 180 days, at most 365); a refusal may be open-ended."""
    limits = settings.limits
    if request.expires_at is None:
        return now + timedelta(days=limits.consent_default_days) if request.kind == "consent" else None
    expires_at = request.expires_at
    if expires_at.tzinfo is None:
        raise InvalidInput("expires_at", "give a time zone, for example 2026-06-30T00:00:00Z")
    if expires_at <= now:
        raise InvalidInput("expires_at", "must be in the future")
    # A minute of slack, so "exactly 365 days from now" computed by a client a moment ago passes.
    if request.kind == "consent" and expires_at > now + timedelta(days=limits.consent_max_days, minutes=1):
        raise InvalidInput("expires_at", f"a consent lasts at most {limits.consent_max_days} days")
    return expires_at


LIVE_SESSION = "SELECT 1 FROM contact_sessions WHERE id = $1 AND ended_at IS NULL AND expires_at > now()"


async def _hold(conn: Connection, contact: ContactSession) -> None:
    """Rule changes and erasure of one contact take turns; a rule change then re-reads its session.

    Without this, a change authenticated a moment before an erasure would write its rule
    after the erasure's DELETE, and the erased contact would keep a rule.
    """
    await conn.execute(LOCK, _lock_id(contact.phone_key))
    if await conn.fetchval(LIVE_SESSION, contact.id) is None:
        raise Unauthorized("unknown, ended or expired contact session")


async def _revoke(conn: Connection, phone_key: bytes, reason: str, settings: Settings) -> None:
    """Revoke the open permits the change contradicts (the checks feature owns permits)."""
    await revoke_contradicted_permits(conn, phone_key, reason, settings)


async def _receipt(
    conn: Connection, contact: ContactSession, action: ReceiptAction, rule_id: UUID, texts: Texts
) -> RuleChange:
    rules = await rules_of(conn, contact.phone_key)
    rule = next(r for r in rules if r.id == rule_id)  # written or stamped in this same transaction
    in_force = [r for r in rules if r.state == "active"]
    stored = await conn.fetchrow(
        INSERT_RECEIPT,
        contact.phone_key,
        action,
        rule.id,
        msgspec.json.encode(rule).decode(),
        msgspec.json.encode(in_force).decode(),
    )
    assert stored is not None
    receipt = Receipt(
        id=stored["id"],
        issued_at=stored["issued_at"],
        action=action,
        text=receipt_text(action, rule, texts),
        rule=rule,
        rules_in_force=in_force,
    )
    return RuleChange(rule=rule, receipt=receipt)


async def add_rule(
    conn: Connection, settings: Settings, contact: ContactSession, request: RuleRequest, texts: Texts
) -> RuleChange:
    """Record a refusal or a consent; a refusal revokes the open permits it contradicts."""
    now = datetime.now(UTC)
    expires_at = _expiry(request, settings, now)
    borrower_key = borrower_hint = None
    if request.borrower_phone is not None:
        borrower = phones.normalize(request.borrower_phone, settings.default_region, field="borrower_phone")
        borrower_key, borrower_hint = phones.phone_key(borrower, settings.pepper), phones.mask(borrower)
    if request.kind == "consent" and request.agency_id is None and borrower_key is None:
        raise InvalidInput("agency_id", "a consent names an agency, a borrower's phone, or both")
    if request.agency_id is not None and await conn.fetchval(AGENCY_NAME, request.agency_id) is None:
        raise InvalidInput("agency_id", "no registered agency has this id")
    async with conn.transaction():
        await _hold(conn, contact)
        rule_id = await conn.fetchval(
            INSERT_RULE, contact.phone_key, request.kind, request.agency_id, borrower_key, borrower_hint, expires_at
        )
        if request.kind == "refuse":
            await _revoke(conn, contact.phone_key, "refused", settings)
        await audit.record(
            conn,
            contact.actor,
            f"rule.{request.kind}",
            f"rule:{rule_id}",
            {"agency_id": request.agency_id, "borrower": borrower_hint, "expires_at": expires_at},
        )
        return await _receipt(conn, contact, "rule_added", rule_id, texts)


WITHDRAW = """
    UPDATE rules SET withdrawn_at = now()
    WHERE id = $1 AND phone_key = $2 AND withdrawn_at IS NULL
    RETURNING id
"""
OWNS_RULE = "SELECT withdrawn_at FROM rules WHERE id = $1 AND phone_key = $2"


async def withdraw_rule(
    conn: Connection, settings: Settings, contact: ContactSession, rule_id: UUID, texts: Texts
) -> RuleChange:
    """Stamp withdrawn_at (rules are never changed otherwise) and revoke the permits it allowed."""
    async with conn.transaction():
        await _hold(conn, contact)
        withdrawn = await conn.fetchval(WITHDRAW, rule_id, contact.phone_key)
        if withdrawn is None:
            # Another person's rule is as unknown as a rule that never existed.
            if await conn.fetchrow(OWNS_RULE, rule_id, contact.phone_key) is None:
                raise NotFound("no such rule")
            raise Conflict("this rule was already withdrawn")
        await _revoke(conn, contact.phone_key, "consent_withdrawn", settings)
        await audit.record(conn, contact.actor, "rule.withdraw", f"rule:{rule_id}", {})
        return await _receipt(conn, contact, "rule_withdrawn", rule_id, texts)


RECEIPT = """
    SELECT id, issued_at, action, rule, in_force FROM contact_receipts WHERE id = $1 AND phone_key = $2
"""


async def get_receipt(conn: Connection, contact: ContactSession, receipt_id: UUID, texts: Texts) -> Receipt:
    """A receipt as issued (rules as they were then), its words in the reader's language now."""
    row = await conn.fetchrow(RECEIPT, receipt_id, contact.phone_key)
    if row is None:
        raise NotFound("no such receipt")
    rule = msgspec.json.decode(row["rule"], type=Rule)
    return Receipt(
        id=row["id"],
        issued_at=row["issued_at"],
        action=row["action"],
        text=receipt_text(row["action"], rule, texts),
        rule=rule,
        rules_in_force=msgspec.json.decode(row["in_force"], type=list[Rule]),
    )


RECENT_CHECKS = """
    SELECT a.name AS agency, c.agency_id, c.checked_at, c.decision, c.reason
    FROM checks c JOIN agencies a ON a.id = c.agency_id
    WHERE c.phone_key = $1 AND c.checked_at > now() - interval '90 days'
    ORDER BY c.checked_at DESC
    LIMIT 500
"""


async def recent_checks(conn: Connection, phone_key: bytes) -> list[RecentCheck]:
    """Who looked the number up in the last 90 days (newest first)."""
    return [msgspec.convert(dict(row), RecentCheck) for row in await conn.fetch(RECENT_CHECKS, phone_key)]


async def me(conn: Connection, contact: ContactSession) -> Me:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return Me(
            phone=contact.phone_hint,
            rules=await rules_of(conn, contact.phone_key),
            recent_checks=await recent_checks(conn, contact.phone_key),
            disputes=await contact_disputes(conn, contact.phone_key),
        )


ERASE = """
    WITH rules_gone AS (DELETE FROM rules WHERE phone_key = $1 RETURNING 1),
    receipts_gone AS (DELETE FROM contact_receipts WHERE phone_key = $1 RETURNING 1),
    sessions_gone AS (DELETE FROM contact_sessions WHERE phone_key = $1 RETURNING 1),
    codes_gone AS (DELETE FROM contact_codes WHERE phone_key = $1 RETURNING 1)
    SELECT (SELECT count(*) FROM rules_gone) AS rules, (SELECT count(*) FROM sessions_gone) AS sessions
"""


async def erase(conn: Connection, settings: Settings, contact: ContactSession) -> None:
    """Delete the contact's rules, receipts, sessions and codes: this also ends the protection.

    Checks, attempts, complaints and the audit log stay for their retention term.
    """
    async with conn.transaction():
        await conn.execute(LOCK, _lock_id(contact.phone_key))
        counts = await conn.fetchrow(ERASE, contact.phone_key)
        assert counts is not None
        await _revoke(conn, contact.phone_key, "erased", settings)
        await audit.record(
            conn,
            contact.actor,
            "contact.erase",
            contact.actor,
            {"rules": counts["rules"], "sessions": counts["sessions"]},
        )
