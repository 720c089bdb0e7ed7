"""Partitions stay ahead of the clock while the service runs, and a start never fails on rows
that landed in the default partition (it used to: "updated partition constraint for default
partition would be violated" two months after the last start)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from registry import database, maintenance
from registry.database import Connection
from registry.settings import Settings
from tests.factories import make_agency

INSERT_CHECK = """
    INSERT INTO checks (agency_id, phone_key, decision, reason, checked_at)
    VALUES ($1, $2, 'deny', 'refused', $3) RETURNING tableoid::regclass::text
"""


def month_name(at: datetime) -> str:
    return f"checks_{at:%Y_%m}"


async def test_rows_in_the_default_partition_move_when_their_month_is_made(
    conn: Connection, database_url: str, settings: Settings
) -> None:
    agency = await make_agency(conn)
    # The clock runs five months past the last start: nobody made that month's partition.
    later = datetime.now(UTC) + timedelta(days=5 * 31)
    assert await conn.fetchval(INSERT_CHECK, agency.id, b"k" * 32, later) == "checks_default"

    # The next start (migrate makes partitions) moves the row instead of failing.
    await database.migrate_url(database_url, settings)
    app = await asyncpg.connect(database.runtime_url(settings, database_url))
    try:
        made = await app.fetchval("SELECT ensure_check_partitions(2, $1)", later)
    finally:
        await app.close()
    assert made >= 1
    assert await conn.fetchval("SELECT count(*) FROM checks_default") == 0
    assert await conn.fetchval(f"SELECT count(*) FROM {month_name(later)}") == 1
    # The new partition is append-only for the service like the others.
    assert not await conn.fetchval("SELECT has_table_privilege('registry_app', $1, 'UPDATE')", month_name(later))
    assert await conn.fetchval("SELECT has_table_privilege('registry_app', $1, 'INSERT')", month_name(later))
    # And a check of that month now lands in its partition.
    assert await conn.fetchval(INSERT_CHECK, agency.id, b"k" * 32, later) == month_name(later)


async def test_the_running_service_keeps_partitions_ahead(
    conn: Connection, database_url: str, settings: Settings
) -> None:
    await database.migrate_url(database_url, settings)
    ahead = datetime.now(UTC).replace(day=1) + timedelta(days=3 * 31)
    await conn.execute(f"DROP TABLE IF EXISTS {month_name(ahead)}")
    pool = await database.create_pool(database.runtime_url(settings, database_url), settings)
    try:
        task = asyncio.create_task(maintenance.keep_partitions_ahead(pool, interval=0.05, months_ahead=3))
        for _ in range(100):
            if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", month_name(ahead)):
                break
            await asyncio.sleep(0.05)
        task.cancel()
    finally:
        await pool.close()
    assert await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", month_name(ahead))
