"""The retention job: what is kept only for a while is deleted when its time is up.

Short-lived secrets and throttling rows go after a day (the longest window that reads them
is one hour). Call records (checks, permits, attempts) are kept for the retention term
(the jurisdiction's; 3 years in China's defaults, after US Regulation F 1006.100), then
deleted. The service's role may not delete records at all: the deleting is done by
`purge_expired()` (sql/0005_least_privilege.sql), a SECURITY DEFINER function owned by
the schema's owner. Complaints and the audit log are not touched: the chain must stay whole.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from registry import audit
from registry.database import Connection
from registry.rows import fetch_all

SHORT_LIVED = timedelta(days=1)


class Purged(msgspec.Struct, frozen=True):
    what: str
    rows: int


PURGE = "SELECT what, deleted AS rows FROM purge_expired($1, $2)"
# Complaint drafts kept while a contact signed in again (sql/0041) are hers, not records: the
# service's role may delete them, so they need no change to purge_expired().
PURGE_DRAFTS = """
    WITH gone AS (DELETE FROM complaint_drafts WHERE expires_at < $1 RETURNING 1)
    SELECT 'complaint drafts' AS what, count(*)::bigint AS rows FROM gone
"""


async def run(conn: Connection, record_days: int, now: datetime | None = None) -> list[Purged]:
    """Delete what is past its term, in one transaction; returns the rows deleted per kind."""
    now = now or datetime.now(UTC)
    async with conn.transaction():
        purged = await fetch_all(conn, Purged, PURGE, now - SHORT_LIVED, now - timedelta(days=record_days))
        purged += await fetch_all(conn, Purged, PURGE_DRAFTS, now)
        await audit.record(conn, "retention", "retention.run", "retention", {p.what: p.rows for p in purged if p.rows})
    return purged
