"""The agency's side of a complaint: the list against it, one case, and its answer."""

from __future__ import annotations

from uuid import UUID

from registry import audit
from registry.database import Connection
from registry.disputes.records import DISPUTE, add_event, as_view, dispute_by_ref, events
from registry.disputes.schemas import PENDING, AgencyDispute, DisputeRow, Event, Status
from registry.errors import Conflict, InvalidInput, NotFound
from registry.rows import fetch_all

AGENCY_LIST = DISPUTE + " WHERE agency_id = $1 AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC LIMIT $3"


def agency_timeline(all_events: list[Event]) -> list[Event]:
    # Reviewers' internal events stay internal; the agency sees the contact-visible story and its own answers.
    return [
        Event(at=e.at, actor=e.actor, kind=e.kind, text=e.text)
        for e in all_events
        if e.visible_to_contact or e.actor == "agency"
    ]


async def agency_disputes(conn: Connection, agency_id: UUID, status: Status | None, limit: int) -> list[AgencyDispute]:
    rows = await fetch_all(conn, DisputeRow, AGENCY_LIST, agency_id, status, limit)
    return [as_view(d, AgencyDispute, timeline=[]) for d in rows]


async def agency_dispute(conn: Connection, agency_id: UUID, ref: str, *, lock: bool = False) -> DisputeRow:
    """Another agency's dispute (or one against an unknown caller) is 404, as if it did not exist."""
    d = await dispute_by_ref(conn, ref, lock=lock)
    if d.agency_id != agency_id:
        raise NotFound("no such dispute", code="unknown_dispute")
    return d


async def agency_view(conn: Connection, agency_id: UUID, ref: str) -> AgencyDispute:
    d = await agency_dispute(conn, agency_id, ref)
    return as_view(d, AgencyDispute, timeline=agency_timeline(await events(conn, d.id)))


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
            raise Conflict(f"this dispute is {d.status}; it takes no more answers", code="dispute_closed")
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
