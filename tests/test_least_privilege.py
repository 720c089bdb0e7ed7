"""The service runs as registry_app, which owns nothing: the record cannot be rewritten from it.

Each test here failed when the service connected as the owner (a superuser in tests):
then SET LOCAL registry.retention let it delete checks and audit rows, and
session_replication_role = replica let it rewrite a check from deny to allow.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from registry import audit, database, retention
from registry.database import Connection
from registry.settings import Settings
from tests.factories import bearer, make_agency_with_key

DENIED = (asyncpg.InsufficientPrivilegeError,)


@pytest.fixture
async def app_conn(database_url: str, settings: Settings) -> AsyncIterator[Connection]:
    """A connection as the service makes it: the runtime role, through the migrate step's login."""
    await database.migrate_url(database_url, settings)
    connection = await asyncpg.connect(database.runtime_url(settings, database_url))
    yield connection
    await connection.close()


async def one_check(api: httpx.AsyncClient, conn: Connection) -> uuid.UUID:
    _, key = await make_agency_with_key(conn)
    answer = await api.post("/v1/checks", json={"phone": "13800138000"}, headers=bearer(key))
    assert answer.status_code == 200, answer.text
    return uuid.UUID(answer.json()["check_id"])


async def test_the_running_service_is_the_runtime_role(
    api: httpx.AsyncClient, conn: Connection, database_url: str
) -> None:
    await one_check(api, conn)
    users = await conn.fetch(
        "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    assert [row["usename"] for row in users] == ["registry_app"]
    assert await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = 'registry_app'") is False
    owned = await conn.fetchval(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = 'registry_app'"
    )
    assert owned == 0


async def test_the_record_cannot_be_rewritten_by_the_service(
    api: httpx.AsyncClient, conn: Connection, app_conn: Connection
) -> None:
    check_id = await one_check(api, conn)
    await audit.record(conn, "test", "test.row", "test", {})
    attempts = [
        "UPDATE checks SET decision = 'allow'",
        "DELETE FROM checks",
        "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM revocations",
        "DELETE FROM attempts",
        "TRUNCATE checks",
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'x', 'x')",
        "ALTER TABLE checks DISABLE TRIGGER checks_append_only",
        "CREATE TABLE mine (x int)",
    ]
    # A partition reached by its own name is no back door either.
    partition = await conn.fetchval("SELECT tableoid::regclass::text FROM checks WHERE id = $1", check_id)
    attempts.append(f"UPDATE {partition} SET decision = 'allow'")
    decided = await conn.fetchval("SELECT decision FROM checks WHERE id = $1", check_id)
    for statement in attempts:
        transaction = app_conn.transaction()
        await transaction.start()
        try:
            # The old escape hatch, set by an attacker: it buys nothing without the privilege.
            await app_conn.execute("SET LOCAL registry.retention = 'on'")
            with pytest.raises(DENIED):
                await app_conn.execute(statement)
        finally:
            await transaction.rollback()
    with pytest.raises(DENIED):
        await app_conn.execute("SET session_replication_role = replica")
    assert await conn.fetchval("SELECT decision FROM checks WHERE id = $1", check_id) == decided
    count, broken = await audit.verify(conn)
    assert broken is None and count >= 2


async def test_retention_runs_as_the_runtime_role(conn: Connection, app_conn: Connection) -> None:
    """Only through purge_expired(), a SECURITY DEFINER function of the owner."""
    long_ago = datetime.now(UTC) - timedelta(days=5 * 365)
    agency_id = await conn.fetchval(
        "INSERT INTO agencies (name, credit_code) VALUES ('Old Lender', '91110000MA00000X0X') RETURNING id"
    )
    await conn.execute(
        "INSERT INTO checks (agency_id, phone_key, decision, reason, checked_at)"
        " VALUES ($1, $2, 'deny', 'refused', $3)",
        agency_id,
        b"k" * 32,
        long_ago,
    )
    purged = await retention.run(app_conn, 1096)
    assert {p.what: p.rows for p in purged}["checks"] == 1
    assert await conn.fetchval("SELECT count(*) FROM checks") == 0
