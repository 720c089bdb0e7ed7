"""A contact's side of a complaint: file it, follow it, withdraw it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from registry import audit, phones
from registry.agencies import queries as agencies
from registry.database import Connection
from registry.disputes.records import add_event, as_view, attachments, dispute_by_ref, events, new_ref
from registry.disputes.schemas import (
    PENDING,
    ContactDispute,
    DisputeRequest,
    DisputeRow,
    Event,
    Filed,
)
from registry.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from registry.rows import as_struct
from registry.sessions.contact import ContactSession
from registry.settings import Settings
from registry.tokens import same
from registry.webhooks import events as webhook_events

AGENCY_ANSWER_DAYS = 7
DECISION_DAYS = 30
# Complaints older than the call-record retention term (Regulation F 1006.100: 3 years) have no evidence left.
OLDEST_INCIDENT_DAYS = 3 * 365
# Clocks differ; an incident "a minute from now" is a skewed phone clock, not a lie.
CLOCK_SKEW = timedelta(minutes=5)
DAILY_FILINGS = 10

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


async def file_dispute(conn: Connection, contact: ContactSession, request: DisputeRequest, settings: Settings) -> Filed:
    """A contact's complaint; against a registered agency it goes straight to that agency for an answer."""
    now = datetime.now(UTC)
    description = request.description.strip()
    if not description:
        raise InvalidInput("description", "say what happened")
    caller_name = (request.caller_name or "").strip() or None
    numbers = [
        phones.normalize(raw, settings.default_region, field=f"caller_numbers[{i}]")
        for i, raw in enumerate(request.caller_numbers or [])
    ]
    numbers = list(dict.fromkeys(numbers))
    if request.agency_id is None and caller_name is None and not numbers:
        raise InvalidInput(
            "agency_id", "name the agency, or give the caller's name or number", code="dispute_needs_caller"
        )
    if request.occurred_at > now + CLOCK_SKEW:
        raise InvalidInput("occurred_at", "is in the future")
    if request.occurred_at < now - timedelta(days=OLDEST_INCIDENT_DAYS):
        raise InvalidInput("occurred_at", "is older than the three years call records are kept")
    if request.agency_id is not None:
        try:
            await agencies.get_agency(conn, request.agency_id)
        except NotFound:
            raise InvalidInput(
                "agency_id",
                "no registered agency has this id; leave it out for an unknown caller",
                code="dispute_needs_caller",
            ) from None
    categories = list(dict.fromkeys(request.categories))
    status = "awaiting_agency" if request.agency_id is not None else "open"
    async with conn.transaction():
        await conn.execute(LOCK_FILER, contact.phone_key)
        if await conn.fetchval(RECENT_FILINGS, contact.phone_key) >= DAILY_FILINGS:
            raise TooManyRequests(
                f"at most {DAILY_FILINGS} complaints a day; add to an open one instead", 3600, code="daily_filings"
            )
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
                        [phones.phone_key(n, settings.pepper) for n in numbers],
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
        filed = as_struct(row, Filed)
        await add_event(conn, row["id"], "contact", "filed", None)
        if request.agency_id is not None:
            await add_event(conn, row["id"], "system", "sent_to_agency", None)
            # The agency hears of it at once if its webhook asks; the data is what `Filed` says, no contact.
            await webhook_events.queue(conn, "dispute.filed", [(request.agency_id, filed)])
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


async def own_dispute(conn: Connection, contact: ContactSession, ref: str, *, lock: bool = False) -> DisputeRow:
    """Another contact's dispute is indistinguishable from none at all."""
    dispute = await dispute_by_ref(conn, ref, lock=lock)
    if not same(bytes(dispute.phone_key), bytes(contact.phone_key)):
        raise NotFound("no such dispute", code="unknown_dispute")
    return dispute


def contact_timeline(all_events: list[Event]) -> list[Event]:
    # The contact is a party to the dispute: she reads the agency's written answer too (issue 11). The
    # agencies' API says so where they write it (POST /v1/disputes/{ref}/responses).
    return [e for e in all_events if e.visible_to_contact]


async def contact_view(conn: Connection, contact: ContactSession, ref: str) -> ContactDispute:
    d = await own_dispute(conn, contact, ref)
    timeline = contact_timeline(await events(conn, d.id))
    return as_view(d, ContactDispute, timeline=timeline, attachments=await attachments(conn, d.id))


SET_STATUS = "UPDATE disputes SET status = $2 WHERE id = $1"


async def withdraw(conn: Connection, contact: ContactSession, ref: str) -> None:
    async with conn.transaction():
        d = await own_dispute(conn, contact, ref, lock=True)
        if d.status not in PENDING:
            raise Conflict(f"this dispute is {d.status} and can no longer be withdrawn", code="dispute_closed")
        await conn.execute(SET_STATUS, d.id, "withdrawn")
        await add_event(conn, d.id, "contact", "withdrawn")
        await audit.record(conn, contact.actor, "dispute.withdraw", f"dispute:{d.ref}", {"from": d.status})
