"""The retention job: what is kept only for a while is deleted when its time is up.

Short-lived secrets and throttling rows go after a day (the longest window that reads them
is one hour). Call records (checks, permits, attempts) are kept for the retention term,
3 years by default (US Regulation F 1006.100), then deleted: the append-only triggers let a
DELETE through only inside this job's transaction, which sets `registry.retention`.
Complaints and the audit log are not touched here: the chain must stay whole.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from registry import audit
from registry.database import Connection

SHORT_LIVED = timedelta(days=1)

# (what, statement); $1 is the cut-off. Order matters: revocations point at permits.
PURGES = (
    ("contact codes", "DELETE FROM contact_codes WHERE created_at < $1"),
    ("failed code tries", "DELETE FROM contact_code_failures WHERE at < $1"),
    ("contact sessions", "DELETE FROM contact_sessions WHERE expires_at < $1 OR ended_at < $1"),
    ("staff sessions", "DELETE FROM admin_sessions WHERE expires_at < $1 OR ended_at < $1"),
    # The development outbox is the one table with plain numbers: keep it no longer than needed.
    ("development SMS outbox", "DELETE FROM sms_outbox WHERE created_at < $1"),
)
RECORDS = (
    ("revocations", "DELETE FROM revocations WHERE revoked_at < $1"),
    ("permits", "DELETE FROM permits WHERE issued_at < $1 AND check_id NOT IN (SELECT check_id FROM revocations)"),
    ("attempts", "DELETE FROM attempts WHERE reported_at < $1"),
    ("checks", "DELETE FROM checks WHERE checked_at < $1"),
)


class Purged(msgspec.Struct, frozen=True):
    what: str
    rows: int


async def run(conn: Connection, record_days: int, now: datetime | None = None) -> list[Purged]:
    """Delete what is past its term, in one transaction; returns the rows deleted per kind."""
    now = now or datetime.now(UTC)
    purged = []
    async with conn.transaction():
        await conn.execute("SET LOCAL registry.retention = 'on'")
        for what, statement in PURGES:
            purged.append(Purged(what, _count(await conn.execute(statement, now - SHORT_LIVED))))
        for what, statement in RECORDS:
            purged.append(Purged(what, _count(await conn.execute(statement, now - timedelta(days=record_days)))))
        await audit.record(conn, "retention", "retention.run", "retention", {p.what: p.rows for p in purged if p.rows})
    return purged


def _count(status: str) -> int:
    """`DELETE 12` -> 12."""
    return int(status.rsplit(" ", 1)[-1])
