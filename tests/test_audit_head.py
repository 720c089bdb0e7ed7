"""The audit chain's head is published signed; a saved head shows a deleted tail that verify alone misses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from registry import audit, signing
from registry.database import Connection
from registry.settings import Settings


async def test_the_head_is_signed_with_the_published_key(api: httpx.AsyncClient, conn: Connection) -> None:
    await audit.record(conn, "test", "test.one", "x", {})
    seq = await audit.record(conn, "test", "test.two", "x", {})
    head = (await api.get("/v1/audit/head")).json()
    keys = (await api.get("/.well-known/jwks.json")).json()
    assert head["seq"] == seq
    payload = signing.verify(head["signature"], keys)
    assert payload["seq"] == seq and payload["hash"] == head["hash"]
    # Anyone can check it: a changed payload does not verify.
    header, body, signature = head["signature"].split(".")
    forged = ".".join([header, body[:-4] + ("AAAA" if body[-4:] != "AAAA" else "BBBB"), signature])
    with pytest.raises(signing.SignatureInvalid):
        signing.verify(forged, keys)


async def test_a_cut_tail_shows_against_a_saved_head(
    api: httpx.AsyncClient, conn: Connection, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    for n in range(3):
        await audit.record(conn, "test", f"test.{n}", "x", {})
    saved = tmp_path / "head.json"
    saved.write_text(json.dumps((await api.get("/v1/audit/head")).json()))
    # An owner (not the service: it may not) deletes the newest row.
    async with conn.transaction():
        await conn.execute("SET LOCAL registry.retention = 'on'")
        await conn.execute("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)")
    assert (await audit.verify(conn))[1] is None  # the chain alone still looks whole
    env = {
        "DATABASE_URL": database_url,
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "REGISTRY_PEPPER": settings.pepper.hex(),
        "REGISTRY_SESSION_KEY": settings.session_key.hex(),
        "PATH": "/usr/bin:/bin",
    }
    command = [sys.executable, "-m", "registry", "--json", "audit", "verify", "--head", str(saved)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    answer = json.loads(result.stdout)
    assert answer["ok"] is False and "cut" in answer["reason"]
