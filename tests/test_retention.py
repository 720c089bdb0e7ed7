"""The retention job deletes what is past its term and nothing else; outside it, logs stay append-only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from registry import audit, retention
from registry.database import Connection
from tests.factories import make_agency

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=4 * 365)
RECENT = NOW - timedelta(days=10)
KEY = bytes(32)


async def add_check(conn: Connection, agency_id: uuid.UUID, at: datetime) -> uuid.UUID:
    check_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO checks (id, agency_id, phone_key, decision, reason, checked_at, valid_until)"
        " VALUES ($1, $2, $3, 'allow', 'no_record', $4, $4::timestamptz + interval '1 day')",
        check_id,
        agency_id,
        KEY,
        at,
    )
    await conn.execute(
        "INSERT INTO permits (check_id, agency_id, phone_key, issued_at, valid_until)"
        " VALUES ($1, $2, $3, $4, $4::timestamptz + interval '1 day')",
        check_id,
        agency_id,
        KEY,
        at,
    )
    await conn.execute(
        "INSERT INTO attempts (agency_id, check_id, phone_key, occurred_at, reported_at, channel, compliant)"
        " VALUES ($1, $2, $3, $4, $4, 'call', true)",
        agency_id,
        check_id,
        KEY,
        at,
    )
    return check_id


async def count(conn: Connection, table: str) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))


async def test_deletes_only_what_is_past_its_term(conn: Connection) -> None:
    agency = await make_agency(conn)
    old_check = await add_check(conn, agency.id, OLD)
    await add_check(conn, agency.id, RECENT)
    await conn.execute(
        "INSERT INTO revocations (phone_key, check_id, agency_id, revoked_at, reason)"
        " VALUES ($1, $2, $3, $4, 'refused')",
        KEY,
        old_check,
        agency.id,
        OLD,
    )
    for at in (NOW - timedelta(days=2), NOW - timedelta(minutes=5)):
        await conn.execute(
            "INSERT INTO contact_codes (phone_key, code_hash, created_at, expires_at) VALUES ($1, $2, $3, $3)",
            KEY,
            b"x",
            at,
        )
        await conn.execute("INSERT INTO sms_outbox (phone, body, created_at) VALUES ('+8613800138000', 'x', $1)", at)
        # A complaint draft kept while she signed in again expires a day after it was kept.
        await conn.execute(
            "INSERT INTO complaint_drafts (token_hash, phone_key, form, expires_at) VALUES ($1, $2, '{}', $3)",
            at.isoformat().encode(),
            KEY,
            at + timedelta(days=1),
        )

    purged = {p.what: p.rows for p in await retention.run(conn, record_days=1096, now=NOW)}

    assert purged["checks"] == 1 and purged["attempts"] == 1 and purged["permits"] == 1
    assert purged["revocations"] == 1
    assert purged["contact codes"] == 1 and purged["development SMS outbox"] == 1
    assert purged["complaint drafts"] == 1
    for table in ("checks", "attempts", "permits", "contact_codes", "sms_outbox", "complaint_drafts"):
        assert await count(conn, table) == 1, table
    assert await conn.fetchval("SELECT count(*) FROM checks WHERE checked_at = $1", RECENT) == 1
    # The job is itself a change of state, recorded in the chain, which stays whole.
    rows, broken = await audit.verify(conn)
    assert broken is None
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'retention.run'") == 1
    assert rows >= 2


async def test_outside_the_job_the_logs_stay_append_only(conn: Connection) -> None:
    agency = await make_agency(conn)
    await add_check(conn, agency.id, OLD)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await conn.execute("DELETE FROM checks")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await conn.execute("DELETE FROM attempts")
    # The job's setting is transaction-local: it does not linger after the job.
    await retention.run(conn, record_days=1096, now=NOW)
    await add_check(conn, agency.id, OLD)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("DELETE FROM checks")
