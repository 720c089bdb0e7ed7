"""Sandbox keys (rk_test_...): answers by the number's last digit, every time; no row about a real
contact, nothing queued to send; their checks, attempts and feed kept apart; receipts marked sandbox."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from registry import receipts
from registry.admin import cli as admin_cli
from registry.agencies import queries as agencies
from registry.checks import cli as checks_cli
from registry.database import Connection
from registry.settings import Settings
from tests.factories import add_rule, bearer, key_of, make_agency_with_key

# The magic digits (docs/contract.md) and what each answers.
MAGIC = {
    "13800138001": ("deny", "refused"),
    "13800138002": ("allow", "consent"),
    "13800138003": ("deny", "notice_pending"),
    "13800138004": ("deny", "frequency_limit"),
    "13800138005": ("allow", "no_record"),
    "13800138000": ("allow", "no_record"),
}
# Tables a real check, attempt or notice writes; a sandbox key must leave every one as it was.
REAL = ["checks", "permits", "notices", "attempts", "revocations", "pgqueuer", "pgqueuer_log", "sms_outbox"]


async def counts(conn: Connection) -> dict[str, int]:
    return {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in REAL}


async def rows_about(conn: Connection, phones: list[str]) -> dict[str, int]:
    """Rows in any table with a phone_key column that name one of these numbers."""
    tables = await conn.fetch(
        """SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE a.attname = 'phone_key' AND n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT a.attisdropped
             AND NOT c.relispartition"""
    )
    keys = [key_of(p) for p in phones]
    found = {}
    for row in tables:
        n = await conn.fetchval(f'SELECT count(*) FROM "{row["relname"]}" WHERE phone_key = ANY($1)', keys)
        if n:
            found[row["relname"]] = n
    return found


async def test_a_sandbox_key_gets_each_magic_answer_and_touches_no_real_contact(
    api: httpx.AsyncClient, conn: Connection, settings: Settings, tmp_path: Path
) -> None:
    agency, _ = await make_agency_with_key(conn)
    made = await admin_cli.key_create(conn, settings, argparse.Namespace(agency_id=str(agency.id), sandbox=True))
    test_key = made.data["key"]
    assert test_key.startswith("rk_test_") and made.data["sandbox"] is True
    # Real rules on these numbers change nothing for the sandbox.
    await add_rule(conn, "13800138002", "refuse")
    await add_rule(conn, "13800138001", "consent", agency_id=agency.id)
    before = await counts(conn)

    answers: dict[str, dict[str, Any]] = {}
    for phone, expected in MAGIC.items():
        for _ in range(2):  # the same answer every time: no limit is counted in the sandbox
            response = await api.post("/v1/checks", json={"phone": phone}, headers=bearer(test_key))
            assert response.status_code == 200, response.text
            answer = response.json()
            assert (answer["decision"], answer["reason"]) == expected, phone
        answers[phone] = answer
    assert "available_at" in answers["13800138003"] and "valid_until" not in answers["13800138003"]
    assert answers["13800138004"]["limit"] == {"permits": 1, "window_days": 30, "used": 1}
    assert answers["13800138002"]["limit"]["permits"] == 7 and "valid_until" in answers["13800138002"]
    assert "limit" not in answers["13800138001"]

    batch = await api.post(
        "/v1/checks/batch", json={"items": [{"phone": p} for p in MAGIC] + [{"phone": "x"}]}, headers=bearer(test_key)
    )
    assert batch.status_code == 200, batch.text
    results = batch.json()["results"]
    assert [(r["decision"], r["reason"]) for r in results[:-1]] == list(MAGIC.values())
    assert results[-1]["status"] == "error"

    # Receipts say sandbox, and `registry receipt verify` never passes one as real proof (exit 3).
    keys = (await api.get("/.well-known/jwks.json")).json()
    assert receipts.verify_answer(answers["13800138005"], keys).claims["sandbox"] is True
    assert receipts.verify_answer(batch.json(), keys).claims["sandbox"] is True
    saved, key_file = tmp_path / "answer.json", tmp_path / "jwks.json"
    saved.write_text(json.dumps(answers["13800138005"]))
    key_file.write_text(json.dumps(keys))
    verdict = checks_cli.receipt_verify(settings, argparse.Namespace(file=str(saved), keys=str(key_file)))
    assert verdict.exit_code == 3 and verdict.text.startswith("VALID. SANDBOX receipt")

    # Attempts are judged against sandbox permits and recorded apart.
    allowed = answers["13800138005"]["check_id"]
    now = datetime.now(UTC).isoformat()
    reports = [
        {"check_id": allowed, "occurred_at": now, "channel": "call"},
        {"check_id": allowed, "occurred_at": now, "channel": "call", "phone": "13800138005"},
        {"check_id": answers["13800138001"]["check_id"], "occurred_at": now, "channel": "call"},
        {"phone": "13800138009", "occurred_at": now, "channel": "sms"},
    ]
    judged = []
    for body in reports:
        response = await api.post("/v1/attempts", json=body, headers=bearer(test_key))
        assert response.status_code == 201, response.text
        judged.append(response.json()["violation"])
    assert judged == [None, "permit_used", "permit_denied", "no_permit"]
    wrong_number = await api.post("/v1/attempts", json=reports[0] | {"phone": "13800138006"}, headers=bearer(test_key))
    assert wrong_number.status_code == 422

    # Its feed and complaints are empty; idempotent checks work as for a real key.
    feed = await api.get("/v1/changes", headers=bearer(test_key))
    assert feed.status_code == 200 and feed.json()["items"] == []
    assert (await api.get("/v1/disputes", headers=bearer(test_key))).json() == {"items": []}
    # Its webhook is the sandbox's own (tests/webhooks/test_sandbox_webhooks.py): no deliveries yet.
    assert (await api.get("/v1/webhook/deliveries", headers=bearer(test_key))).json() == {"items": []}
    retry = {"Idempotency-Key": "sandbox-1"} | bearer(test_key)
    once = (await api.post("/v1/checks", json={"phone": "13800138003"}, headers=retry)).json()
    assert (await api.post("/v1/checks", json={"phone": "13800138003"}, headers=retry)).json() == once

    # Nothing real was written or queued: no row names these numbers, no SMS, no real check.
    assert await counts(conn) == before
    assert await rows_about(conn, [*MAGIC, "13800138009"]) == {"rules": 2}
    assert await conn.fetchval("SELECT count(*) FROM sandbox_checks") == 2 * len(MAGIC) + len(MAGIC) + 1
    assert await conn.fetchval("SELECT count(*) FROM sandbox_attempts") == 4


async def test_a_real_key_is_untouched_by_sandbox_traffic(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    agency, real_key = await make_agency_with_key(conn)
    test_key = await agencies.issue_key(conn, agency.id, "test", sandbox=True)
    for _ in range(3):
        await api.post("/v1/checks", json={"phone": "13800138005"}, headers=bearer(test_key))
    # The real permit of the month is still there to spend, and the sandbox check ids mean nothing to a real key.
    real = (await api.post("/v1/checks", json={"phone": "13800138005"}, headers=bearer(real_key))).json()
    assert (real["decision"], real["reason"]) == ("allow", "no_record")
    assert "sandbox" not in receipts.verify_answer(real, (await api.get("/.well-known/jwks.json")).json()).claims
    sandbox_check = await conn.fetchval("SELECT id FROM sandbox_checks LIMIT 1")
    crossed = await api.post(
        "/v1/attempts",
        json={"check_id": str(sandbox_check), "occurred_at": datetime.now(UTC).isoformat(), "channel": "call"},
        headers=bearer(real_key),
    )
    assert crossed.status_code == 404
    # A revoked sandbox key is refused like any other.
    await agencies.revoke_key(conn, test_key.key_id, "test")
    assert (await api.post("/v1/checks", json={"phone": "13800138005"}, headers=bearer(test_key))).status_code == 401
