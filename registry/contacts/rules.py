"""A contact's rules: refuse or consent, withdraw, and the receipt kept of each change.

Rules are never updated in place: a change is a new rule, a withdrawal stamps
`withdrawn_at`. Each change revokes the open permits it contradicts, in its transaction.
The latest action wins: a refusal withdraws the consents it covers (policy.covers), and its
receipt lists them; a consent given after a refusal is an exception to it.

A signed-in contact may do anything here; a notice's link and an SMS reply may only refuse
(`refuse`), with no code: so no code limit can stop anyone from refusing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec

from registry import audit, phones
from registry.contacts.codes import LOCK, lock_id
from registry.contacts.schemas import ReceiptAction, Recorded, Rule, RuleRequest, StoredReceipt, Via
from registry.database import Connection
from registry.errors import InvalidInput, NotFound
from registry.permits import LOCK_CONTACT, revoke_contradicted_permits
from registry.rows import fetch_all
from registry.sessions.contact import ContactSession, sealed_number, still_live
from registry.settings import Settings
from registry.sms import queue_sms, sealer_for

# The alphabet of dispute references (no 0/O, 1/I/L, U): a receipt's reference is read out over the phone too.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def receipt_reference(receipt_id: UUID) -> str:
    """A receipt's short reference, `R-7KQ3-M9XP`: 8 characters from the first 40 random bits of its id.

    Derived, not stored, so every receipt already has one; with her number it names one receipt
    (two receipts of one contact sharing 40 random bits is a one-in-a-trillion event).
    """
    value = receipt_id.int >> 88  # the top 40 bits of a version-4 UUID are random
    chars = []
    for _ in range(8):
        value, digit = divmod(value, len(REFERENCE_ALPHABET))
        chars.append(REFERENCE_ALPHABET[digit])
    return f"R-{''.join(chars[:4])}-{''.join(chars[4:])}"


# A rule's state is computed, never stored: expiry needs no job to flip it.
RULES_OF = """
    SELECT r.id, r.kind, r.agency_id, a.name AS agency_name, r.borrower_hint AS borrower,
           r.created_at, r.expires_at, r.withdrawn_at, r.once,
           CASE WHEN r.withdrawn_at IS NOT NULL THEN 'withdrawn'
                WHEN r.expires_at IS NOT NULL AND r.expires_at <= now() THEN 'expired'
                ELSE 'active' END AS state
    FROM rules r LEFT JOIN agencies a ON a.id = r.agency_id
    WHERE r.phone_key = $1
    ORDER BY r.created_at DESC, r.id
"""


async def rules_of(conn: Connection, phone_key: bytes) -> list[Rule]:
    """Every rule of a contact, newest first, each with its state now."""
    return await fetch_all(conn, Rule, RULES_OF, phone_key)


AGENCY_NAME = "SELECT name FROM agencies WHERE id = $1"
INSERT_RULE = """
    INSERT INTO rules (phone_key, kind, agency_id, borrower_key, borrower_hint, expires_at, once)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    RETURNING id
"""
INSERT_RECEIPT = """
    INSERT INTO contact_receipts (phone_key, action, rule_id, rule, in_force, withdrawn, via)
    VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7)
    RETURNING id, issued_at
"""
# The consents a new refusal covers (policy.covers, in SQL): its agency or any, its borrower or any.
WITHDRAW_COVERED = """
    UPDATE rules SET withdrawn_at = now()
    WHERE phone_key = $1 AND kind = 'consent' AND withdrawn_at IS NULL
      AND (expires_at IS NULL OR expires_at > now())
      AND ($2::uuid IS NULL OR agency_id = $2)
      AND ($3::bytea IS NULL OR borrower_key = $3)
    RETURNING id
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


async def _hold(conn: Connection, contact: ContactSession) -> None:
    """Rule changes and erasure of one contact take turns; a rule change then re-reads its session.

    Without this, a change authenticated a moment before an erasure would write its rule
    after the erasure's DELETE, and the erased contact would keep a rule.
    """
    await conn.execute(LOCK, lock_id(contact.phone_key))
    await still_live(conn, contact)


async def hold_for_checks(conn: Connection, phone_key: bytes) -> None:
    """The contact's check lock, before any write to her rules: a check holds it while its once-consent
    trigger updates a rule, so a rule write that took the rule's row first and the lock second could
    deadlock with it."""
    await conn.execute(LOCK_CONTACT, phone_key)


async def _receipt(
    conn: Connection,
    phone_key: bytes,
    action: ReceiptAction,
    rule_id: UUID,
    withdrawn_ids: Sequence[UUID] = (),
    via: Via = "session",
) -> Recorded:
    """Keep what the contact's rules were at this change; the words are added outside the transaction."""
    rules = await rules_of(conn, phone_key)
    rule = next(r for r in rules if r.id == rule_id)  # written or stamped in this same transaction
    in_force = [r for r in rules if r.state == "active"]
    withdrawn = [r for r in rules if r.id in withdrawn_ids]
    stored = await conn.fetchrow(
        INSERT_RECEIPT,
        phone_key,
        action,
        rule.id,
        msgspec.json.encode(rule).decode(),
        msgspec.json.encode(in_force).decode(),
        msgspec.json.encode(withdrawn).decode(),
        via,
    )
    assert stored is not None
    receipt = StoredReceipt(
        id=stored["id"],
        issued_at=stored["issued_at"],
        action=action,
        rule=rule,
        rules_in_force=in_force,
        withdrawn=withdrawn,
        via=via,
    )
    return Recorded(rule=rule, receipt=receipt)


async def _record(
    conn: Connection,
    settings: Settings,
    phone_key: bytes,
    actor: str,
    request: RuleRequest,
    borrower: tuple[bytes, str] | None,
    expires_at: datetime | None,
    via: Via,
) -> Recorded:
    """Write the rule (the caller holds the contact's lock, in its transaction). A refusal withdraws the
    consents it covers and revokes the open permits it contradicts, theirs included."""
    borrower_key, borrower_hint = borrower if borrower is not None else (None, None)
    await hold_for_checks(conn, phone_key)
    rule_id = await conn.fetchval(
        INSERT_RULE, phone_key, request.kind, request.agency_id, borrower_key, borrower_hint, expires_at, request.once
    )
    withdrawn: list[UUID] = []
    if request.kind == "refuse":
        withdrawn = [
            row["id"] for row in await conn.fetch(WITHDRAW_COVERED, phone_key, request.agency_id, borrower_key)
        ]
        await revoke_contradicted_permits(conn, phone_key, "refused", settings)
    details: dict[str, object] = {"agency_id": request.agency_id, "borrower": borrower_hint, "expires_at": expires_at}
    if request.once:
        details["once"] = True
    if withdrawn:
        details["withdrawn"] = [str(w) for w in withdrawn]
    if via != "session":
        details["via"] = via
    await audit.record(conn, actor, f"rule.{request.kind}", f"rule:{rule_id}", details)
    return await _receipt(conn, phone_key, "rule_added", rule_id, withdrawn, via)


async def add_rule(conn: Connection, settings: Settings, contact: ContactSession, request: RuleRequest) -> Recorded:
    """Record a refusal or a consent; a refusal withdraws the consents it covers and revokes the open
    permits it contradicts."""
    now = datetime.now(UTC)
    expires_at = _expiry(request, settings, now)
    borrower_key = borrower_hint = None
    if request.borrower_phone is not None:
        borrower = phones.normalize(request.borrower_phone, settings.default_region, field="borrower_phone")
        borrower_key, borrower_hint = phones.phone_key(borrower, settings.pepper), phones.mask(borrower)
    if request.once and request.kind != "consent":
        raise InvalidInput("once", "only a consent can be for one call")
    if request.kind == "consent" and request.agency_id is None and borrower_key is None:
        raise InvalidInput(
            "agency_id", "a consent names an agency, a borrower's phone, or both", code="consent_needs_scope"
        )
    if request.agency_id is not None and await conn.fetchval(AGENCY_NAME, request.agency_id) is None:
        raise InvalidInput("agency_id", "no registered agency has this id", code="unknown_agency")
    async with conn.transaction():
        await _hold(conn, contact)
        scope = (borrower_key, borrower_hint) if borrower_key is not None and borrower_hint is not None else None
        recorded = await _record(
            conn, settings, contact.phone_key, contact.actor, request, scope, expires_at, "session"
        )
        if request.kind == "refuse" and borrower_key is None:
            await _text_receipt(conn, settings, contact, recorded)
        return recorded


async def _text_receipt(conn: Connection, settings: Settings, contact: ContactSession, recorded: Recorded) -> None:
    """The refusal's receipt reference by SMS too (in the change's transaction), so she has it even
    if she closes the page: to the number the session was opened for, sealed until the job sends it."""
    sealed = await sealed_number(conn, contact)
    if sealed is None:
        return
    number = sealer_for(settings.session_key).open(sealed).to
    reference = receipt_reference(recorded.receipt.id)
    rule = recorded.rule
    text = (
        settings.jurisdiction.agency_refusal_sms(reference, rule.agency_name or "")
        if rule.agency_id
        else settings.jurisdiction.confirmation_sms(reference)
    )
    await queue_sms(conn, settings, "confirmation", number, text)


# An open-ended refusal of exactly this scope, already in force.
SAME_REFUSAL = """
    SELECT r.id, (SELECT c.id FROM contact_receipts c
                  WHERE c.rule_id = r.id AND c.action = 'rule_added' ORDER BY c.issued_at LIMIT 1) AS receipt_id
    FROM rules r
    WHERE r.phone_key = $1 AND r.kind = 'refuse' AND r.withdrawn_at IS NULL AND r.expires_at IS NULL
      AND r.borrower_key IS NULL AND r.agency_id IS NOT DISTINCT FROM $2
    ORDER BY r.created_at LIMIT 1
"""


def contact_actor(phone_key: bytes) -> str:
    """How the audit log names a contact: a prefix of the phone key (as a session's `actor`)."""
    return f"contact:{phone_key.hex()[:16]}"


async def refuse(
    conn: Connection, settings: Settings, phone_key: bytes, via: Via, agency_id: UUID | None = None
) -> Recorded:
    """Refuse all agencies (or one), without a session: from a notice's link or an SMS reply.

    Runs in the caller's transaction. A refusal of the same scope already in force is not
    recorded twice: its receipt is the answer.
    """
    await conn.execute(LOCK, lock_id(phone_key))
    same = await conn.fetchrow(SAME_REFUSAL, phone_key, agency_id)
    if same is not None:
        rule = next(r for r in await rules_of(conn, phone_key) if r.id == same["id"])
        if same["receipt_id"] is not None:
            return Recorded(rule=rule, receipt=await _stored_receipt(conn, phone_key, same["receipt_id"]))
        return await _receipt(conn, phone_key, "rule_added", same["id"], via=via)
    request = RuleRequest(kind="refuse", agency_id=agency_id)
    return await _record(conn, settings, phone_key, contact_actor(phone_key), request, None, None, via)


WITHDRAW = """
    UPDATE rules SET withdrawn_at = now()
    WHERE id = $1 AND phone_key = $2 AND withdrawn_at IS NULL
    RETURNING id
"""
OWNS_RULE = "SELECT withdrawn_at FROM rules WHERE id = $1 AND phone_key = $2"


async def withdraw_rule(conn: Connection, settings: Settings, contact: ContactSession, rule_id: UUID) -> Recorded:
    """Stamp withdrawn_at (rules are never changed otherwise) and revoke the permits it allowed."""
    async with conn.transaction():
        await _hold(conn, contact)
        await hold_for_checks(conn, contact.phone_key)
        withdrawn = await conn.fetchval(WITHDRAW, rule_id, contact.phone_key)
        if withdrawn is None:
            # Another person's rule is as unknown as a rule that never existed.
            if await conn.fetchrow(OWNS_RULE, rule_id, contact.phone_key) is None:
                raise NotFound("no such rule", code="unknown_rule")
            # Already withdrawn: a retry whose first answer was lost. Same state, same receipt.
            return await _earlier_withdrawal(conn, contact, rule_id)
        await revoke_contradicted_permits(conn, contact.phone_key, "consent_withdrawn", settings)
        await audit.record(conn, contact.actor, "rule.withdraw", f"rule:{rule_id}", {})
        return await _receipt(conn, contact.phone_key, "rule_withdrawn", rule_id)


WITHDRAWAL_RECEIPT = """
    SELECT id FROM contact_receipts
    WHERE rule_id = $1 AND phone_key = $2 AND action = 'rule_withdrawn'
    ORDER BY issued_at LIMIT 1
"""


async def _earlier_withdrawal(conn: Connection, contact: ContactSession, rule_id: UUID) -> Recorded:
    rule = next(r for r in await rules_of(conn, contact.phone_key) if r.id == rule_id)
    receipt_id = await conn.fetchval(WITHDRAWAL_RECEIPT, rule_id, contact.phone_key)
    if receipt_id is None:  # withdrawn by something that issued no receipt of its own (a refusal covering it)
        return await _receipt(conn, contact.phone_key, "rule_withdrawn", rule_id)
    return Recorded(rule=rule, receipt=await get_receipt(conn, contact, receipt_id))


RECEIPT = """
    SELECT id, issued_at, action, rule, in_force, withdrawn, via
    FROM contact_receipts WHERE id = $1 AND phone_key = $2
"""


async def get_receipt(conn: Connection, contact: ContactSession, receipt_id: UUID) -> StoredReceipt:
    """A receipt as issued (rules as they were then)."""
    return await _stored_receipt(conn, contact.phone_key, receipt_id)


async def _stored_receipt(conn: Connection, phone_key: bytes, receipt_id: UUID) -> StoredReceipt:
    row = await conn.fetchrow(RECEIPT, receipt_id, phone_key)
    if row is None:
        raise NotFound("no such receipt", code="unknown_receipt")
    return StoredReceipt(
        id=row["id"],
        issued_at=row["issued_at"],
        action=row["action"],
        rule=msgspec.json.decode(row["rule"], type=Rule),
        rules_in_force=msgspec.json.decode(row["in_force"], type=list[Rule]),
        withdrawn=msgspec.json.decode(row["withdrawn"], type=list[Rule]),
        via=row["via"],
    )
