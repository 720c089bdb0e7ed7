"""Staff accounts: `registry admin create`, sign-in over HTTP, roles, sessions stored hashed, audited."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from registry import tokens
from registry.agencies import queries as agencies
from registry.database import Connection
from registry.sessions.staff import NAME_KEY as NAME
from tests.factories import PASSWORD, auth, bearer, credit_code, make_agency, one_row, staff_token


def admin_create(database_url: str, data_dir: Path, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "REGISTRY_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "registry", "--json", "admin", "create", *args, "--password-stdin"],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def test_cli_creates_staff_who_can_sign_in(
    api: httpx.AsyncClient, conn: Connection, database_url: str, tmp_path: Path
) -> None:
    made = admin_create(database_url, tmp_path, "--username", "li.wei", "--role", "reviewer", password=PASSWORD)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["role"] == "reviewer"
    stored = await conn.fetchval("SELECT password_hash FROM admins WHERE username = 'li.wei'")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored

    short = admin_create(database_url, tmp_path, "--username", "short", "--role", "admin", password="abc")
    assert short.returncode == 1 and "password" in short.stderr
    taken = admin_create(database_url, tmp_path, "--username", "li.wei", "--role", "admin", password=PASSWORD)
    assert taken.returncode == 1 and "taken" in taken.stderr

    signed = await api.post("/v1/admin/sessions", json={"username": "li.wei", "password": PASSWORD})
    assert signed.status_code == 201, signed.text
    token = signed.json()["token"]
    assert signed.json()["role"] == "reviewer" and token.startswith("ra_")
    # Only the hash of the token is kept.
    row = await one_row(conn, "SELECT token_hash FROM admin_sessions")
    assert bytes(row["token_hash"]) == tokens.token_hash(token)
    assert token.encode() not in bytes(row["token_hash"])
    assert (await api.get("/v1/admin/disputes", headers=auth(token))).status_code == 200
    audit = [tuple(r) for r in await conn.fetch("SELECT action, subject FROM audit_log ORDER BY seq")]
    assert [a for a, _ in audit] == ["admin.create", "admin.login"]


async def test_wrong_credentials_get_the_same_401(api: httpx.AsyncClient, conn: Connection) -> None:
    await staff_token(api, conn, "admin")
    username = await conn.fetchval("SELECT username FROM admins")
    wrong_password = await api.post("/v1/admin/sessions", json={"username": username, "password": "nope" * 4})
    no_such_user = await api.post("/v1/admin/sessions", json={"username": "nobody", "password": "nope" * 4})
    assert wrong_password.status_code == no_such_user.status_code == 401
    assert wrong_password.json()["detail"] == no_such_user.json()["detail"]
    missing = await api.post("/v1/admin/sessions", json={"username": username})
    assert missing.status_code == 400 and "required field `password`" in missing.json()["detail"]
    failed = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'admin.login_failed'")
    assert failed == 1  # an unknown username names no account, so there is nothing to record against


async def test_sign_out_and_expiry_end_the_session(api: httpx.AsyncClient, conn: Connection) -> None:
    token = await staff_token(api, conn, "reviewer")
    assert (await api.delete("/v1/admin/sessions", headers=auth(token))).status_code == 204
    assert (await api.get("/v1/admin/disputes", headers=auth(token))).status_code == 401
    other = await staff_token(api, conn, "reviewer")
    await conn.execute("UPDATE admin_sessions SET expires_at = now() - interval '1 second' WHERE ended_at IS NULL")
    assert (await api.get("/v1/admin/disputes", headers=auth(other))).status_code == 401
    disabled = await staff_token(api, conn, "admin")
    await conn.execute("UPDATE admins SET disabled_at = now() WHERE role = 'admin'")
    assert (await api.get("/v1/admin/agencies", headers=auth(disabled))).status_code == 401


async def test_reviewers_read_and_decide_but_do_not_manage_agencies(api: httpx.AsyncClient, conn: Connection) -> None:
    reviewer = await staff_token(api, conn, "reviewer")
    agency = await make_agency(conn)
    body = {"name": "New Lender", "credit_code": credit_code()}
    assert (await api.post("/v1/admin/agencies", json=body, headers=auth(reviewer))).status_code == 403
    for path in (
        f"/v1/admin/agencies/{agency.id}/suspend",
        f"/v1/admin/agencies/{agency.id}/reinstate",
        f"/v1/admin/agencies/{agency.id}/keys",
    ):
        response = await api.post(path, headers=auth(reviewer))
        assert response.status_code == 403, path
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await api.get("/v1/admin/agencies", headers=auth(reviewer))).status_code == 200
    assert (await api.get("/v1/admin/stats", headers=auth(reviewer))).status_code == 200
    assert (await conn.fetchval("SELECT status FROM agencies WHERE id = $1", agency.id)) == "active"
    # An agency's API key is not an admin credential.
    key = await agencies.issue_key(conn, agency.id, "test")
    assert (await api.get("/v1/admin/agencies", headers=bearer(key))).status_code == 401


async def test_a_run_of_wrong_passwords_locks_the_account(api: httpx.AsyncClient, conn: Connection) -> None:
    await staff_token(api, conn, "reviewer")
    username = await conn.fetchval("SELECT username FROM admins")
    for _ in range(5):
        wrong = await api.post("/v1/admin/sessions", json={"username": username, "password": "guess" * 3})
        assert wrong.status_code == 401
    locked = await api.post("/v1/admin/sessions", json={"username": username, "password": PASSWORD})
    assert locked.status_code == 429
    assert 800 <= int(locked.headers["retry-after"]) <= 900
    details = await conn.fetchval(
        "SELECT details FROM audit_log WHERE action = 'admin.login_failed' ORDER BY seq DESC LIMIT 1"
    )
    assert json.loads(details)["locked"] is True
    # When the lock runs out the right password works again, and the count starts over.
    await conn.execute(f"UPDATE rate_limits SET expires_at = now() - interval '1 second' WHERE key LIKE '%{NAME}%'")
    assert (await api.post("/v1/admin/sessions", json={"username": username, "password": PASSWORD})).status_code == 201
    assert await conn.fetchval(f"SELECT count(*) FROM rate_limits WHERE key LIKE '%{NAME}%'") == 0


async def test_concurrent_wrong_passwords_cannot_pass_the_lock(api: httpx.AsyncClient, conn: Connection) -> None:
    await staff_token(api, conn, "reviewer")
    username = await conn.fetchval("SELECT username FROM admins")
    # Each from its own address, so only the account's own lock stands in their way.
    guesses = await asyncio.gather(
        *(
            api.post(
                "/v1/admin/sessions",
                json={"username": username, "password": f"guess {i:04d}"},
                headers={"X-Forwarded-For": f"10.8.0.{i}"},
            )
            for i in range(16)
        )
    )
    # Five wrong passwords are tried; every guess after them meets the lock, however they arrive.
    assert sorted(g.status_code for g in guesses) == [401] * 5 + [429] * 11
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'admin.login_failed'") == 5
