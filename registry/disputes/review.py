"""The reviewers' side: the queue, the case with its evidence, and the decision."""

from __future__ import annotations

from uuid import UUID

from registry import audit
from registry.agencies import queries as agencies
from registry.database import Connection
from registry.disputes import evidence
from registry.disputes.records import DISPUTE, PENDING_SQL, add_event, as_view, attachments, dispute_by_ref, events
from registry.disputes.schemas import (
    PENDING,
    AdminDispute,
    DecidedEvent,
    DecisionRequest,
    DisputeRow,
    QueueItem,
    Status,
)
from registry.errors import Conflict, Forbidden, InvalidInput
from registry.rows import fetch_all
from registry.sessions.staff import Staff
from registry.webhooks import events as webhook_events

QUEUE = (
    DISPUTE
    + f"""
    WHERE ($1::text IS NULL OR status = $1)
      AND ($2::uuid IS NULL OR agency_id = $2)
      AND ($3::boolean IS NULL OR overdue = $3)
    ORDER BY (status IN {PENDING_SQL}) DESC, decision_due_at, created_at
    LIMIT $4 OFFSET $5
"""
)


async def queue(
    conn: Connection,
    *,
    status: Status | None,
    agency_id: UUID | None,
    overdue: bool | None,
    limit: int,
    offset: int,
) -> list[QueueItem]:
    """Pending first, soonest decision deadline first."""
    rows = await fetch_all(conn, DisputeRow, QUEUE, status, agency_id, overdue, limit, offset)
    return [as_view(d, QueueItem) for d in rows]


DECIDE = """
    UPDATE disputes SET status = $2, outcome = $2, sanction = $3, decision_note = $4, decided_by = $5,
                        decided_at = now()
    WHERE id = $1
"""


async def decide(conn: Connection, ref: str, decision: DecisionRequest, staff: Staff) -> None:
    """Record the outcome; a suspension takes effect in the same transaction, so the next check is 403.

    Suspending is the admin role's, as it is when done directly: a reviewer may uphold and warn.
    """
    admin_id, actor = staff.admin_id, staff.actor
    note = decision.note.strip()
    if not note:
        raise InvalidInput("note", "say why")
    async with conn.transaction():
        d = await dispute_by_ref(conn, ref, lock=True)
        if d.status not in PENDING:
            raise Conflict(f"this dispute is already {d.status}", code="dispute_closed")
        if decision.sanction != "none" and decision.outcome != "upheld":
            raise InvalidInput("sanction", "only an upheld complaint carries a sanction", code="sanction_needs_upheld")
        if decision.sanction != "none" and d.agency_id is None:
            raise InvalidInput(
                "sanction",
                "the caller is not a registered agency, so there is no one to sanction",
                code="sanction_needs_agency",
            )
        if decision.sanction == "suspend" and staff.role != "admin":
            raise Forbidden(
                "suspending an agency needs the admin role; a reviewer may uphold and warn", code="admin_only"
            )
        await conn.execute(DECIDE, d.id, decision.outcome, decision.sanction, note, admin_id)
        await add_event(conn, d.id, "reviewer", decision.outcome, note, actor_id=admin_id)
        if decision.sanction == "warning":
            await add_event(conn, d.id, "reviewer", "warning", None, actor_id=admin_id, visible_to_contact=False)
        if d.agency_id is not None:
            decided = DecidedEvent(ref=d.ref, outcome=decision.outcome, sanction=decision.sanction)
            await webhook_events.queue(conn, "dispute.decided", [(d.agency_id, decided)])
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


async def admin_view(conn: Connection, ref: str) -> AdminDispute:
    d = await dispute_by_ref(conn, ref)
    return as_view(
        d,
        AdminDispute,
        evidence=await evidence.gather(conn, d),
        timeline=await events(conn, d.id),
        attachments=await attachments(conn, d.id),
    )
