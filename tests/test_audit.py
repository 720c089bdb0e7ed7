"""The hash-chained audit log: every change of state is a row; `registry audit verify` names the first broken one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from registry.database import Connection
from registry.settings import Settings
from tests.factories import auth, contact_session, file_dispute, key_of, make_agency_with_key, staff_token


def verify(database_url: str, data_dir: Path) -> tuple[int, dict[str, object]]:
    env = {**os.environ, "DATABASE_URL": database_url, "REGISTRY_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "registry", "--json", "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


async def history(api: httpx.AsyncClient, conn: Connection, settings: Settings) -> None:
    """A little of everything that must be audited: agency, key, staff, login, complaint, decision, suspension."""
    agency, _ = await make_agency_with_key(conn)
    contact = await contact_session(conn, "13800138000")
    ref = await file_dispute(conn, settings, contact, agency.id)
    admin = await staff_token(api, conn, "admin")  # suspending is the admin role's
    decided = await api.post(
        f"/v1/admin/disputes/{ref}/decision",
        headers=auth(admin),
        json={"outcome": "upheld", "note": "ok", "sanction": "suspend"},
    )
    assert decided.status_code == 200


async def test_every_change_is_chained_and_verifies(
    api: httpx.AsyncClient, conn: Connection, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    await history(api, conn, settings)
    actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_log ORDER BY seq")]
    assert actions == [
        "agency.create",
        "key.create",
        "dispute.file",
        "admin.create",
        "admin.login",
        "agency.suspend",
        "dispute.decide",
    ]
    code, result = verify(database_url, tmp_path)
    assert (code, result) == (0, {"ok": True, "rows": 7})


async def test_append_only_tables_refuse_changes(conn: Connection) -> None:
    agency_id = await conn.fetchval(
        "INSERT INTO agencies (name, credit_code) VALUES ('A', '91110000MA00000000') RETURNING id"
    )
    await conn.execute(
        "INSERT INTO checks (id, agency_id, phone_key, decision, reason) VALUES ($1, $2, $3, 'deny', 'refused')",
        uuid.uuid4(),
        agency_id,
        key_of("13800138000"),
    )
    await conn.execute(
        "INSERT INTO attempts (agency_id, phone_key, occurred_at, channel, compliant) "
        "VALUES ($1, $2, now(), 'call', false)",
        agency_id,
        key_of("13800138000"),
    )
    from registry import audit

    await audit.record(conn, "test", "thing.happen", "thing:1", {})
    for statement in (
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE checks SET decision = 'allow'",
        "DELETE FROM checks",
        "UPDATE attempts SET compliant = true",
        "DELETE FROM attempts",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(statement)
    assert await conn.fetchval("SELECT compliant FROM attempts") is False


async def tamper(conn: Connection, statement: str) -> None:
    """What an operator with the superuser password could do behind the service's back."""
    async with conn.transaction():
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute(statement)
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")


async def test_an_edited_row_is_named(
    api: httpx.AsyncClient, conn: Connection, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    await history(api, conn, settings)
    await tamper(conn, "UPDATE audit_log SET details = '{\"outcome\": \"dismissed\"}' WHERE action = 'dispute.decide'")
    code, result = verify(database_url, tmp_path)
    assert code == 1
    assert result["ok"] is False and result["broken_seq"] == 7
    assert "no longer matches" in str(result["reason"])


async def test_a_rehashed_row_breaks_the_next_link(
    api: httpx.AsyncClient, conn: Connection, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    """Recomputing the edited row's own hash does not help: the row after it still points at the old hash."""
    await history(api, conn, settings)
    await tamper(
        conn,
        """
        UPDATE audit_log SET actor = 'cli',
            hash = audit_hash(prev_hash, seq, at, 'cli', action, subject, details)
        WHERE seq = 3
    """,
    )
    code, result = verify(database_url, tmp_path)
    assert code == 1 and result["broken_seq"] == 4
    assert "does not link" in str(result["reason"])


async def test_a_deleted_row_is_named(
    api: httpx.AsyncClient, conn: Connection, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    await history(api, conn, settings)
    await tamper(conn, "DELETE FROM audit_log WHERE seq = 5")
    code, result = verify(database_url, tmp_path)
    assert code == 1 and result["broken_seq"] == 5
    assert "missing" in str(result["reason"])
