"""Figures per agency: how much it checks, how often it is refused, how often it breaks the rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from registry.database import Connection
from registry.jurisdiction import CHINA
from registry.rows import as_struct, fetch_all


class AgencyFigures(msgspec.Struct, frozen=True, kw_only=True):
    agency_id: UUID
    name: str
    status: str
    checks: int
    denied: int
    deny_rate: float | None
    attempts: int
    non_compliant_attempts: int
    complaints: int
    upheld_complaints: int
    upheld_per_10k_checks: float | None
    # Notices the agency's checks caused (SMS to contacts before a first call), and its daily budget.
    notices: int = 0
    notice_daily_budget: int | None = None


class NoticeDay(msgspec.Struct, frozen=True, kw_only=True):
    """Notices one agency caused on one day (in the jurisdiction's zone), and how many went out."""

    day: date
    agency_id: UUID
    name: str
    notices: int
    sent: int


class Figures(msgspec.Struct, frozen=True, kw_only=True):
    since: datetime
    until: datetime
    agencies: list[AgencyFigures]
    notices_by_day: list[NoticeDay] = msgspec.field(default_factory=list)


# One statement; each log is read through its (agency_id, time) index for the window only.
FIGURES = """
    WITH c AS (
        SELECT agency_id, count(*) AS checks, count(*) FILTER (WHERE decision = 'deny') AS denied
        FROM checks WHERE checked_at >= $1 GROUP BY agency_id
    ), t AS (
        SELECT agency_id, count(*) AS attempts, count(*) FILTER (WHERE NOT compliant) AS non_compliant
        FROM attempts WHERE reported_at >= $1 GROUP BY agency_id
    ), n AS (
        SELECT agency_id, count(*) AS notices FROM notices WHERE created_at >= $1 GROUP BY agency_id
    ), d AS (
        SELECT agency_id, count(*) AS complaints, count(*) FILTER (WHERE outcome = 'upheld') AS upheld
        FROM disputes WHERE created_at >= $1 AND agency_id IS NOT NULL GROUP BY agency_id
    )
    SELECT a.id AS agency_id, a.name, a.status,
           coalesce(c.checks, 0) AS checks, coalesce(c.denied, 0) AS denied,
           round(c.denied::numeric / nullif(c.checks, 0), 4)::float8 AS deny_rate,
           coalesce(t.attempts, 0) AS attempts, coalesce(t.non_compliant, 0) AS non_compliant_attempts,
           coalesce(d.complaints, 0) AS complaints, coalesce(d.upheld, 0) AS upheld_complaints,
           round(coalesce(d.upheld, 0) * 10000.0 / nullif(c.checks, 0), 2)::float8 AS upheld_per_10k_checks,
           coalesce(n.notices, 0) AS notices, a.notice_daily_budget
    FROM agencies a
    LEFT JOIN c ON c.agency_id = a.id LEFT JOIN t ON t.agency_id = a.id LEFT JOIN d ON d.agency_id = a.id
    LEFT JOIN n ON n.agency_id = a.id
    ORDER BY coalesce(c.checks, 0) DESC, a.name
"""


# Newest day first; a day is a calendar day where the staff are ($2, e.g. Asia/Shanghai).
NOTICES_BY_DAY = """
    SELECT (n.created_at AT TIME ZONE $2)::date AS day, n.agency_id, a.name,
           count(*) AS notices, count(*) FILTER (WHERE n.status = 'sent') AS sent
    FROM notices n JOIN agencies a ON a.id = n.agency_id
    WHERE n.created_at >= $1
    GROUP BY 1, 2, 3
    ORDER BY 1 DESC, 4 DESC, 3
    LIMIT 1000
"""


async def figures(conn: Connection, since: datetime, zone: ZoneInfo = CHINA.display_zone) -> Figures:
    rows = await conn.fetch(FIGURES, since)
    return Figures(
        since=since,
        until=datetime.now(UTC),
        agencies=[as_struct(r, AgencyFigures) for r in rows],
        notices_by_day=await fetch_all(conn, NoticeDay, NOTICES_BY_DAY, since, zone.key),
    )
