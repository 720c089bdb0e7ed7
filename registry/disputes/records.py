"""A dispute as stored, read the one way every view starts from; its events and files; references.

What "pending" and "overdue" mean is written here once: PENDING in Python, and the same
tuple rendered into the SQL that computes the overdue flags and filters by them.
"""

from __future__ import annotations

import secrets
import unicodedata
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import msgspec

from registry.database import Connection
from registry.disputes.schemas import PENDING, Attachment, DisputeRow, Event
from registry.errors import NotFound
from registry.rows import fetch_all, fetch_one

V = TypeVar("V")

# Crockford-style: no 0/O, 1/I/L, U, so a reference read over the phone is unambiguous.
REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REF_LENGTH = 6


def new_ref(now: datetime) -> str:
    return f"D-{now.year}-" + "".join(secrets.choice(REF_ALPHABET) for _ in range(REF_LENGTH))


def normalize_ref(ref: str) -> str:
    # Bounded before NFKC, whose cost can grow with the square of the input; a reference is 13 characters.
    if len(ref) > 40:
        raise NotFound("no such dispute", code="unknown_dispute")
    return unicodedata.normalize("NFKC", ref).strip().upper()


PENDING_SQL = "(" + ", ".join(f"'{status}'" for status in PENDING) + ")"

# Columns are named as the views name them, so a view is the row converted (see `as_view`).
# PENDING_SQL is built from our own constant tuple, never from input.
DISPUTE = f"""
    SELECT * FROM (SELECT flags.*, (flags.agency_overdue OR flags.decision_overdue) AS overdue FROM (
        SELECT d.id, d.ref, d.phone_key, d.phone_hint AS phone, d.agency_id, a.name AS agency_name,
               a.status AS agency_status, d.caller_name, d.caller_number_hints AS caller_numbers, d.categories,
               d.occurred_at, d.call_count, d.description, d.status, d.created_at, d.agency_due_at,
               d.decision_due_at, d.agency_responded_at, d.decided_at, d.outcome, d.sanction, d.decision_note,
               u.username AS decided_by,
               (d.status = 'awaiting_agency' AND now() > d.agency_due_at) AS agency_overdue,
               (d.status IN {PENDING_SQL} AND now() > d.decision_due_at) AS decision_overdue,
               (SELECT count(*) FROM dispute_attachments x WHERE x.dispute_id = d.id) AS attachment_count
        FROM disputes d
        LEFT JOIN agencies a ON a.id = d.agency_id
        LEFT JOIN admins u ON u.id = d.decided_by
    ) flags) dispute
"""  # noqa: S608
BY_REF = DISPUTE + " WHERE ref = $1"
# FOR UPDATE cannot lock through the subquery's outer joins, so the lock is taken on the row first.
LOCK_REF = "SELECT id FROM disputes WHERE ref = $1 FOR UPDATE"


async def dispute_by_ref(conn: Connection, ref: str, *, lock: bool = False) -> DisputeRow:
    ref = normalize_ref(ref)
    if lock:
        await conn.execute(LOCK_REF, ref)
    return await fetch_one(conn, DisputeRow, BY_REF, ref, missing="no such dispute", code="unknown_dispute")


def as_view(row: DisputeRow, view: type[V], **fields: Any) -> V:
    """A view of the row (contact's, agency's, reviewer's): the fields it names, plus `fields`."""
    return msgspec.convert({**msgspec.structs.asdict(row), **fields}, view)


EVENTS = """
    SELECT at, actor, kind, text, visible_to_contact FROM dispute_events WHERE dispute_id = $1 ORDER BY id
"""


async def events(conn: Connection, dispute_id: UUID) -> list[Event]:
    return await fetch_all(conn, Event, EVENTS, dispute_id)


ATTACHMENTS = """
    SELECT id, filename, content_type, size, encode(sha256, 'hex') AS sha256, created_at
    FROM dispute_attachments WHERE dispute_id = $1 ORDER BY created_at, id
"""


async def attachments(conn: Connection, dispute_id: UUID) -> list[Attachment]:
    return await fetch_all(conn, Attachment, ATTACHMENTS, dispute_id)


INSERT_EVENT = """
    INSERT INTO dispute_events (phone_key, dispute_id, actor, actor_id, kind, text, visible_to_contact)
    VALUES ((SELECT phone_key FROM disputes WHERE id = $1), $1, $2, $3, $4, $5, $6)
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
