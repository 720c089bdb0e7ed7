"""Disputes: intake, the three views (contact, agency, reviewer), answers, decisions, withdrawal."""

from __future__ import annotations

import secrets
import unicodedata
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import msgspec

from registry import audit, phones
from registry.admin import agencies
from registry.contacts.schemas import ContactSession, DisputeSummary
from registry.database import Connection
from registry.disputes import evidence
from registry.disputes.schemas import (
    PENDING,
    AdminDispute,
    AgencyDispute,
    Attachment,
    ContactDispute,
    DecisionRequest,
    DisputeRequest,
    DisputeRow,
    Event,
    Filed,
    QueueItem,
)
from registry.errors import Conflict, InvalidInput, NotFound, TooManyRequests

AGENCY_ANSWER_DAYS = 7
DECISION_DAYS = 30
# Complaints older than the call-record retention term (Regulation F 1006.100: 3 years) have no evidence left.
OLDEST_INCIDENT_DAYS = 3 * 365
# Clocks differ; an incident "a minute from now" is a skewed phone clock, not a lie.
CLOCK_SKEW = timedelta(minutes=5)
DAILY_FILINGS = 10
# Crockford-style: no 0/O, 1/I/L, U, so a reference read over the phone is unambiguous.
REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REF_LENGTH = 6


def new_ref(now: datetime) -> str:
    return f"D-{now.year}-" + "".join(secrets.choice(REF_ALPHABET) for _ in range(REF_LENGTH))


def normalize_ref(ref: str) -> str:
    return unicodedata.normalize("NFKC", ref).strip().upper()


DISPUTE = """
    SELECT d.id, d.ref, d.phone_key, d.phone_hint, d.agency_id, a.name AS agency_name, d.caller_name,
           d.caller_number_hints, d.categories, d.occurred_at, d.call_count, d.description, d.status,
           d.created_at, d.agency_due_at, d.decision_due_at, d.agency_responded_at, d.decided_at,
           d.outcome, d.sanction, d.decision_note, d.decided_by,
           (d.status = 'awaiting_agency' AND now() > d.agency_due_at) AS agency_overdue,
           (d.status IN ('open', 'awaiting_agency', 'under_review') AND now() > d.decision_due_at) AS decision_overdue,
           (SELECT count(*) FROM dispute_attachments x WHERE x.dispute_id = d.id) AS attachment_count
    FROM disputes d LEFT JOIN agencies a ON a.id = d.agency_id
"""
BY_REF = DISPUTE + " WHERE d.ref = $1"
BY_REF_FOR_UPDATE = DISPUTE + " WHERE d.ref = $1 FOR UPDATE OF d"


async def dispute_by_ref(conn: Connection, ref: str, *, lock: bool = False) -> DisputeRow:
    row = await conn.fetchrow(BY_REF_FOR_UPDATE if lock else BY_REF, normalize_ref(ref))
    if row is None:
        raise NotFound("no such dispute")
    return msgspec.convert(dict(row), DisputeRow)


EVENTS = """
    SELECT at, actor, kind, text, visible_to_contact FROM dispute_events WHERE dispute_id = $1 ORDER BY id
"""


async def events(conn: Connection, dispute_id: UUID) -> list[Event]:
    return [msgspec.convert(dict(row), Event) for row in await conn.fetch(EVENTS, dispute_id)]


ATTACHMENTS = """
    SELECT id, filename, content_type, size, encode(sha256, 'hex') AS sha256, created_at
    FROM dispute_attachments WHERE dispute_id = $1 ORDER BY created_at, id
"""


async def attachments(conn: Connection, dispute_id: UUID) -> list[Attachment]:
    return [msgspec.convert(dict(row), Attachment) for row in await conn.fetch(ATTACHMENTS, dispute_id)]


INSERT_EVENT = """
    INSERT INTO dispute_events (dispute_id, actor, actor_id, kind, text, visible_to_contact)
    VALUES ($1, $2, $3, $4, $5, $6)
"""


async def add_event(
    conn: Connection,
    dispute_id: UUID,
    actor: str,
    kind: str,
    text: str | None = None,
    *,
    actor_id: UUID | None = None,
    visible_to_contact: bool = True,
) -> None:
    await conn.execute(INSERT_EVENT, dispute_id, actor, actor_id, kind, text, visible_to_contact)


# ---- intake -------------------------------------------------------------------------------------

# Taken before counting, so concurrent filings by one contact cannot all see room under the daily limit.
LOCK_FILER = "SELECT pg_advisory_xact_lock(hashtextextended('disputes.file:' || encode($1::bytea, 'hex'), 0))"
RECENT_FILINGS = "SELECT count(*) FROM disputes WHERE phone_key = $1 AND created_at > now() - interval '1 day'"
INSERT_DISPUTE = """
    INSERT INTO disputes (ref, phone_key, phone_hint, agency_id, caller_name, caller_number_keys,
                          caller_number_hints, categories, occurred_at, call_count, description, status,
                          agency_due_at, decision_due_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
            now() + make_interval(days => $13), now() + make_interval(days => $14))
    RETURNING id, ref, status, created_at, agency_due_at, decision_due_at
"""


async def file_dispute(
    conn: Connection, contact: ContactSession, request: DisputeRequest, *, pepper: bytes, region: str
) -> Filed:
    """A contact's complaint; against a registered agency it goes straight to that agency for an answer."""
    now = datetime.now(UTC)
    description = request.description.strip()
    if not description:
        raise InvalidInput("description", "say what happened")
    caller_name = (request.caller_name or "").strip() or None
    numbers = [
        phones.normalize(raw, region, field=f"caller_numbers[{i}]")
        for i, raw in enumerate(request.caller_numbers or [])
    ]
    numbers = list(dict.fromkeys(numbers))
    if request.agency_id is None and caller_name is None and not numbers:
        raise InvalidInput("agency_id", "name the agency, or give the caller's name or number")
    if request.occurred_at > now + CLOCK_SKEW:
        raise InvalidInput("occurred_at", "is in the future")
    if request.occurred_at < now - timedelta(days=OLDEST_INCIDENT_DAYS):
        raise InvalidInput("occurred_at", "is older than the three years call records are kept")
    if request.agency_id is not None:
        try:
            await agencies.get_agency(conn, request.agency_id)
        except NotFound:
            raise InvalidInput(
                "agency_id", "no registered agency has this id; leave it out for an unknown caller"
            ) from None
    categories = list(dict.fromkeys(request.categories))
    status = "awaiting_agency" if request.agency_id is not None else "open"
    async with conn.transaction():
        await conn.execute(LOCK_FILER, contact.phone_key)
        if await conn.fetchval(RECENT_FILINGS, contact.phone_key) >= DAILY_FILINGS:
            raise TooManyRequests(f"at most {DAILY_FILINGS} complaints a day; add to an open one instead", 3600)
        row = None
        for _ in range(5):
            try:
                async with conn.transaction():  # a savepoint, so a taken ref can be retried
                    row = await conn.fetchrow(
                        INSERT_DISPUTE,
                        new_ref(now),
                        contact.phone_key,
                        contact.phone_hint,
                        request.agency_id,
                        caller_name,
                        [phones.phone_key(n, pepper) for n in numbers],
                        [phones.mask(n) for n in numbers],
                        categories,
                        request.occurred_at,
                        request.call_count,
                        description,
                        status,
                        AGENCY_ANSWER_DAYS,
                        DECISION_DAYS,
                    )
                break
            except asyncpg.UniqueViolationError:
                continue
        if row is None:
            raise Conflict("could not allocate a reference; try again")
        filed = msgspec.convert(dict(row), Filed)
        await add_event(conn, row["id"], "contact", "filed", None)
        if request.agency_id is not None:
            await add_event(conn, row["id"], "system", "sent_to_agency", None)
        await audit.record(
            conn,
            contact.actor,
            "dispute.file",
            f"dispute:{filed.ref}",
            {
                "agency_id": str(request.agency_id) if request.agency_id else None,
                "categories": categories,
                "status": status,
            },
        )
    return filed


# ---- the contact's own view ---------------------------------------------------------------------


async def own_dispute(conn: Connection, contact: ContactSession, ref: str, *, lock: bool = False) -> DisputeRow:
    """Another contact's dispute is indistinguishable from none at all."""
    dispute = await dispute_by_ref(conn, ref, lock=lock)
    if not _same_key(dispute.phone_key, contact.phone_key):
        raise NotFound("no such dispute")
    return dispute


def _same_key(a: bytes, b: bytes) -> bool:
    from registry.tokens import same

    return same(bytes(a), bytes(b))


def contact_timeline(all_events: list[Event]) -> list[Event]:
    # The agency's answer can itself contain debt details, so the contact sees that it came, not its text.
    return [
        Event(at=e.at, actor=e.actor, kind=e.kind, text=None if e.actor == "agency" else e.text)
        for e in all_events
        if e.visible_to_contact
    ]


async def contact_view(conn: Connection, contact: ContactSession, ref: str) -> ContactDispute:
    d = await own_dispute(conn, contact, ref)
    return ContactDispute(
        ref=d.ref,
        status=d.status,
        agency_id=d.agency_id,
        agency_name=d.agency_name,
        caller_name=d.caller_name,
        caller_numbers=d.caller_number_hints,
        categories=d.categories,
        occurred_at=d.occurred_at,
        call_count=d.call_count,
        description=d.description,
        created_at=d.created_at,
        decision_due_at=d.decision_due_at,
        outcome=d.outcome,
        decided_at=d.decided_at,
        decision_note=d.decision_note,
        timeline=contact_timeline(await events(conn, d.id)),
        attachments=await attachments(conn, d.id),
    )


CONTACT_LIST = """
    SELECT ref, status, created_at FROM disputes WHERE phone_key = $1 ORDER BY created_at DESC
"""


async def contact_disputes(conn: Connection, phone_key: bytes) -> list[DisputeSummary]:
    """The contact's complaints, newest first (also part of GET /v1/contact/me)."""
    return [msgspec.convert(dict(r), DisputeSummary) for r in await conn.fetch(CONTACT_LIST, phone_key)]


SET_STATUS = "UPDATE disputes SET status = $2 WHERE id = $1"


async def withdraw(conn: Connection, contact: ContactSession, ref: str) -> None:
    async with conn.transaction():
        d = await own_dispute(conn, contact, ref, lock=True)
        if d.status not in PENDING:
            raise Conflict(f"this dispute is {d.status} and can no longer be withdrawn")
        await conn.execute(SET_STATUS, d.id, "withdrawn")
        await add_event(conn, d.id, "contact", "withdrawn")
        await audit.record(conn, contact.actor, "dispute.withdraw", f"dispute:{d.ref}", {"from": d.status})


# ---- the agency's view and answer ---------------------------------------------------------------

AGENCY_LIST = (
    DISPUTE
    + """
    WHERE d.agency_id = $1 AND ($2::text IS NULL OR d.status = $2) ORDER BY d.created_at DESC LIMIT $3
"""
)


def agency_timeline(all_events: list[Event]) -> list[Event]:
    # Reviewers' internal events stay internal; the agency sees the contact-visible story and its own answers.
    return [
        Event(at=e.at, actor=e.actor, kind=e.kind, text=e.text)
        for e in all_events
        if e.visible_to_contact or e.actor == "agency"
    ]


def agency_item(d: DisputeRow, timeline: list[Event]) -> AgencyDispute:
    return AgencyDispute(
        ref=d.ref,
        status=d.status,
        phone=d.phone_hint,
        caller_name=d.caller_name,
        caller_numbers=d.caller_number_hints,
        categories=d.categories,
        occurred_at=d.occurred_at,
        call_count=d.call_count,
        description=d.description,
        created_at=d.created_at,
        agency_due_at=d.agency_due_at,
        decision_due_at=d.decision_due_at,
        overdue=d.overdue,
        agency_responded_at=d.agency_responded_at,
        outcome=d.outcome,
        sanction=d.sanction,
        decision_note=d.decision_note,
        decided_at=d.decided_at,
        attachment_count=d.attachment_count,
        timeline=timeline,
    )


async def agency_disputes(conn: Connection, agency_id: UUID, status: str | None, limit: int) -> list[AgencyDispute]:
    rows = await conn.fetch(AGENCY_LIST, agency_id, status, limit)
    return [agency_item(msgspec.convert(dict(r), DisputeRow), []) for r in rows]


async def agency_dispute(conn: Connection, agency_id: UUID, ref: str, *, lock: bool = False) -> DisputeRow:
    """Another agency's dispute (or one against an unknown caller) is 404, as if it did not exist."""
    d = await dispute_by_ref(conn, ref, lock=lock)
    if d.agency_id != agency_id:
        raise NotFound("no such dispute")
    return d


async def agency_view(conn: Connection, agency_id: UUID, ref: str) -> AgencyDispute:
    d = await agency_dispute(conn, agency_id, ref)
    return agency_item(d, agency_timeline(await events(conn, d.id)))


MARK_ANSWERED = """
    UPDATE disputes SET agency_responded_at = coalesce(agency_responded_at, now()),
                        status = CASE WHEN status IN ('open', 'awaiting_agency') THEN 'under_review' ELSE status END
    WHERE id = $1
"""


async def respond(conn: Connection, agency_id: UUID, key_id: UUID, ref: str, text: str) -> AgencyDispute:
    """The agency's answer; the first one moves the case to review. Closed cases take no more answers."""
    text = text.strip()
    if not text:
        raise InvalidInput("text", "the answer is empty")
    async with conn.transaction():
        d = await agency_dispute(conn, agency_id, ref, lock=True)
        if d.status not in PENDING:
            raise Conflict(f"this dispute is {d.status}; it takes no more answers")
        await conn.execute(MARK_ANSWERED, d.id)
        await add_event(conn, d.id, "agency", "agency_response", text, actor_id=agency_id)
        await audit.record(
            conn,
            f"agency:{agency_id}",
            "dispute.respond",
            f"dispute:{d.ref}",
            {"key_id": str(key_id), "from": d.status},
        )
    return await agency_view(conn, agency_id, ref)


# ---- the reviewers' queue and decisions ---------------------------------------------------------

QUEUE = (
    DISPUTE
    + """
    WHERE ($1::text IS NULL OR d.status = $1)
      AND ($2::uuid IS NULL OR d.agency_id = $2)
      AND ($3::boolean IS NULL OR $3 = (
            (d.status = 'awaiting_agency' AND now() > d.agency_due_at)
            OR (d.status IN ('open', 'awaiting_agency', 'under_review') AND now() > d.decision_due_at)))
    ORDER BY (d.status IN ('open', 'awaiting_agency', 'under_review')) DESC, d.decision_due_at, d.created_at
    LIMIT $4 OFFSET $5
"""
)


def queue_item(d: DisputeRow) -> QueueItem:
    return QueueItem(
        ref=d.ref,
        status=d.status,
        phone=d.phone_hint,
        agency_id=d.agency_id,
        agency_name=d.agency_name,
        caller_name=d.caller_name,
        categories=d.categories,
        occurred_at=d.occurred_at,
        created_at=d.created_at,
        agency_due_at=d.agency_due_at,
        decision_due_at=d.decision_due_at,
        overdue=d.overdue,
        agency_overdue=d.agency_overdue,
        decision_overdue=d.decision_overdue,
    )


async def queue(
    conn: Connection, *, status: str | None, agency_id: UUID | None, overdue: bool | None, limit: int, offset: int
) -> list[QueueItem]:
    rows = await conn.fetch(QUEUE, status, agency_id, overdue, limit, offset)
    return [queue_item(msgspec.convert(dict(r), DisputeRow)) for r in rows]


DECIDE = """
    UPDATE disputes SET status = $2, outcome = $2, sanction = $3, decision_note = $4, decided_by = $5,
                        decided_at = now()
    WHERE id = $1
"""


async def decide(conn: Connection, ref: str, decision: DecisionRequest, admin_id: UUID, actor: str) -> None:
    """Record the outcome; a suspension takes effect in the same transaction, so the next check is 403."""
    note = decision.note.strip()
    if not note:
        raise InvalidInput("note", "say why")
    async with conn.transaction():
        d = await dispute_by_ref(conn, ref, lock=True)
        if d.status not in PENDING:
            raise Conflict(f"this dispute is already {d.status}")
        if decision.sanction != "none" and decision.outcome != "upheld":
            raise InvalidInput("sanction", "only an upheld complaint carries a sanction")
        if decision.sanction != "none" and d.agency_id is None:
            raise InvalidInput("sanction", "the caller is not a registered agency, so there is no one to sanction")
        await conn.execute(DECIDE, d.id, decision.outcome, decision.sanction, note, admin_id)
        await add_event(conn, d.id, "reviewer", decision.outcome, note, actor_id=admin_id)
        if decision.sanction == "warning":
            await add_event(conn, d.id, "reviewer", "warning", None, actor_id=admin_id, visible_to_contact=False)
        if decision.sanction == "suspend" and d.agency_id is not None:
            await agencies.set_status(conn, d.agency_id, "suspended", actor, f"dispute {d.ref} upheld")
            await add_event(conn, d.id, "reviewer", "agency_suspended", None, actor_id=admin_id)
        await audit.record(
            conn,
            actor,
            "dispute.decide",
            f"dispute:{d.ref}",
            {
                "outcome": decision.outcome,
                "sanction": decision.sanction,
                "agency_id": str(d.agency_id) if d.agency_id else None,
            },
        )


DECIDER = "SELECT username FROM admins WHERE id = $1"


async def admin_view(conn: Connection, ref: str) -> AdminDispute:
    d = await dispute_by_ref(conn, ref)
    agency_status = None
    if d.agency_id is not None:
        agency_status = (await agencies.get_agency(conn, d.agency_id)).status
    decided_by = await conn.fetchval(DECIDER, d.decided_by) if d.decided_by is not None else None
    return AdminDispute(
        ref=d.ref,
        status=d.status,
        phone=d.phone_hint,
        agency_id=d.agency_id,
        agency_name=d.agency_name,
        agency_status=agency_status,
        caller_name=d.caller_name,
        caller_numbers=d.caller_number_hints,
        categories=d.categories,
        occurred_at=d.occurred_at,
        call_count=d.call_count,
        description=d.description,
        created_at=d.created_at,
        agency_due_at=d.agency_due_at,
        decision_due_at=d.decision_due_at,
        overdue=d.overdue,
        agency_overdue=d.agency_overdue,
        decision_overdue=d.decision_overdue,
        agency_responded_at=d.agency_responded_at,
        decided_at=d.decided_at,
        outcome=d.outcome,
        sanction=d.sanction,
        decision_note=d.decision_note,
        decided_by=decided_by,
        evidence=await evidence.gather(conn, d),
        timeline=await events(conn, d.id),
        attachments=await attachments(conn, d.id),
    )
