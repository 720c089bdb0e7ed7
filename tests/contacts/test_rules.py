"""Rules over real HTTP: refuse, consent, withdraw, receipts, `me`, erasure, and what agencies then hear."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx
import pytest

from registry.contacts import rules
from registry.contacts.schemas import RuleRequest
from registry.database import Connection
from registry.errors import Unauthorized
from registry.sessions.contact import session_from_token
from registry.settings import Settings
from tests.factories import auth, bearer, contact_session, key_of, make_agency, make_agency_with_key, one_row, sign_in

PHONE = "+8613800138000"
BORROWER = "+8613700137000"


async def test_refuse_all_gives_a_receipt_in_the_callers_language(api: httpx.AsyncClient, conn: Connection) -> None:
    token = await contact_session(conn, PHONE)
    added = await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token))
    assert added.status_code == 201, added.text
    body = added.json()
    rule, receipt = body["rule"], body["receipt"]
    assert rule["kind"] == "refuse" and rule["state"] == "active"
    assert rule["agency_id"] is None and rule["borrower"] is None and rule["expires_at"] is None
    assert receipt["action"] == "rule_added" and receipt["id"] and receipt["issued_at"]
    assert receipt["text"] == "已登记：任何机构都不得因任何人的欠款给您打电话。长期有效。"
    assert [r["id"] for r in receipt["rules_in_force"]] == [rule["id"]]

    english = await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token, "en-US,en;q=0.9"))
    assert english.json()["receipt"]["text"] == "Recorded: No agency may call you about anyone's debt. No end date."
    assert len(english.json()["receipt"]["rules_in_force"]) == 2


async def test_consent_defaults_to_180_days_and_names_its_scope(api: httpx.AsyncClient, conn: Connection) -> None:
    agency = await make_agency(conn, "示例资产管理有限公司")
    token = await contact_session(conn, PHONE)
    added = await api.post(
        "/v1/contact/rules",
        json={"kind": "consent", "agency_id": str(agency.id), "borrower_phone": "137 0013 7000"},
        headers=auth(token),
    )
    assert added.status_code == 201, added.text
    rule = added.json()["rule"]
    assert rule["agency_name"] == "示例资产管理有限公司"
    assert rule["borrower"] == "+86 137****7000"
    expires = datetime.fromisoformat(rule["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=180))) < timedelta(minutes=5)
    stored = await one_row(conn, "SELECT borrower_key, borrower_hint FROM rules")
    assert bytes(stored["borrower_key"]) == key_of(BORROWER)
    assert "13700137000" not in str(dict(stored))


async def test_bad_rules_are_422_naming_the_field_and_nothing_is_saved(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    agency = await make_agency(conn)
    token = await contact_session(conn, PHONE)
    now = datetime.now(UTC)
    cases = [
        ({"kind": "consent"}, "agency_id"),
        ({"kind": "consent", "agency_id": "00000000-0000-0000-0000-000000000000"}, "agency_id"),
        ({"kind": "consent", "borrower_phone": "12345"}, "borrower_phone"),
        (
            {"kind": "consent", "agency_id": str(agency.id), "expires_at": (now + timedelta(days=366)).isoformat()},
            "expires_at",
        ),
        (
            {"kind": "consent", "agency_id": str(agency.id), "expires_at": (now - timedelta(days=1)).isoformat()},
            "expires_at",
        ),
        ({"kind": "refuse", "expires_at": "2030-01-01T00:00:00"}, "expires_at"),
    ]
    for body, field in cases:
        response = await api.post("/v1/contact/rules", json=body, headers=auth(token))
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["field"] == field
    wrong_kind = await api.post("/v1/contact/rules", json={"kind": "maybe"}, headers=auth(token))
    assert wrong_kind.status_code == 400 and "kind" in str(wrong_kind.json()["errors"])
    assert await conn.fetchval("SELECT count(*) FROM rules") == 0
    assert await conn.fetchval("SELECT count(*) FROM contact_receipts") == 0
    at_max = (now + timedelta(days=365)).isoformat()
    ok = await api.post(
        "/v1/contact/rules",
        json={"kind": "consent", "agency_id": str(agency.id), "expires_at": at_max},
        headers=auth(token),
    )
    assert ok.status_code == 201


async def test_rules_need_a_contact_session(api: httpx.AsyncClient, conn: Connection) -> None:
    assert (await api.post("/v1/contact/rules", json={"kind": "refuse"})).status_code == 401
    _, key = await make_agency_with_key(conn)
    # An agency key is not a contact session.
    assert (await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=bearer(key))).status_code == 401


async def test_withdraw_gives_a_receipt_and_only_the_owner_can(api: httpx.AsyncClient, conn: Connection) -> None:
    token = await contact_session(conn, PHONE)
    other = await contact_session(conn, "+8613900139000")
    rule = (await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token))).json()["rule"]
    assert (await api.delete(f"/v1/contact/rules/{rule['id']}", headers=auth(other))).status_code == 404
    withdrawn = await api.delete(f"/v1/contact/rules/{rule['id']}", headers=auth(token, "en"))
    assert withdrawn.status_code == 200, withdrawn.text
    body = withdrawn.json()
    assert body["rule"]["state"] == "withdrawn" and body["rule"]["withdrawn_at"]
    assert body["receipt"]["action"] == "rule_withdrawn"
    assert body["receipt"]["text"].startswith("Withdrawn, no longer in force: No agency may call you")
    assert body["receipt"]["rules_in_force"] == []
    # A retry (the first answer lost on the way) answers the same state and the same receipt.
    again = await api.delete(f"/v1/contact/rules/{rule['id']}", headers=auth(token, "en"))
    assert again.status_code == 200, again.text
    assert again.json()["receipt"]["id"] == body["receipt"]["id"]
    assert again.json()["rule"] == body["rule"]
    assert await conn.fetchval("SELECT count(*) FROM contact_receipts WHERE action = 'rule_withdrawn'") == 1
    unknown = await api.delete("/v1/contact/rules/00000000-0000-0000-0000-000000000000", headers=auth(token))
    assert unknown.status_code == 404
    # The row stays (withdrawal stamps it); me shows each rule with its state.
    agency = await make_agency(conn)
    consent = await api.post(
        "/v1/contact/rules", json={"kind": "consent", "agency_id": str(agency.id)}, headers=auth(token)
    )
    await conn.execute(
        "UPDATE rules SET expires_at = now() - interval '1 second' WHERE id = $1", consent.json()["rule"]["id"]
    )
    me = (await api.get("/v1/contact/me", headers=auth(token))).json()
    assert [(r["id"], r["state"]) for r in me["rules"]] == [
        (consent.json()["rule"]["id"], "expired"),
        (rule["id"], "withdrawn"),
    ]
    actions = [
        row["action"]
        for row in await conn.fetch("SELECT action FROM audit_log WHERE action LIKE 'rule.%' ORDER BY seq")
    ]
    assert actions == ["rule.refuse", "rule.withdraw", "rule.consent"]


async def test_me_lists_recent_checks_and_disputes_of_this_number_only(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    agency = await make_agency(conn, "Example Collections")
    token = await contact_session(conn, PHONE)
    key = key_of(PHONE)
    other_key = key_of("+8613900139000")
    insert = "INSERT INTO checks (agency_id, phone_key, decision, reason, checked_at) VALUES ($1, $2, $3, $4, $5)"
    now = datetime.now(UTC)
    await conn.execute(insert, agency.id, key, "allow", "no_record", now - timedelta(days=2))
    await conn.execute(insert, agency.id, key, "deny", "refused", now - timedelta(hours=1))
    await conn.execute(insert, agency.id, key, "allow", "no_record", now - timedelta(days=91))
    await conn.execute(insert, agency.id, other_key, "allow", "no_record", now)
    await conn.execute(
        """INSERT INTO disputes (ref, phone_key, phone_hint, categories, occurred_at, description, status,
                                 agency_due_at, decision_due_at)
           VALUES ('D-1', $1, '+86 138****8000', '{threats}', now(), 'x', 'open', now(), now())""",
        key,
    )
    me = (await api.get("/v1/contact/me", headers=auth(token))).json()
    assert [(c["agency"], c["decision"], c["reason"]) for c in me["recent_checks"]] == [
        ("Example Collections", "deny", "refused"),
        ("Example Collections", "allow", "no_record"),
    ]
    assert [(d["ref"], d["status"]) for d in me["disputes"]] == [("D-1", "open")]


async def test_erase_removes_rules_and_sessions_and_keeps_the_logs(api: httpx.AsyncClient, conn: Connection) -> None:
    agency = await make_agency(conn)
    # Signed in over HTTP, so there is a code to erase too.
    token = await sign_in(api, conn, PHONE)
    await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token))
    await api.post("/v1/contact/rules", json={"kind": "consent", "agency_id": str(agency.id)}, headers=auth(token))
    key = key_of(PHONE)
    await conn.execute(
        "INSERT INTO checks (agency_id, phone_key, decision, reason) VALUES ($1, $2, 'deny', 'refused')", agency.id, key
    )
    erased = await api.delete("/v1/contact/me", headers=auth(token))
    assert erased.status_code == 204 and erased.content == b""
    for table in ("rules", "contact_sessions", "contact_receipts", "contact_codes"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table} WHERE phone_key = $1", key) == 0, table
    assert await conn.fetchval("SELECT count(*) FROM checks WHERE phone_key = $1", key) == 1
    assert (await api.get("/v1/contact/me", headers=auth(token))).status_code == 401
    assert await conn.fetchval("SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1") == "contact.erase"


async def test_a_rule_change_in_flight_during_erasure_writes_nothing(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    token = await contact_session(conn, PHONE)
    # A request authenticated just before the erasure, which reaches its write after it.
    contact = await session_from_token(conn, token)
    rule = (await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token))).json()["rule"]
    assert (await api.delete("/v1/contact/me", headers=auth(token))).status_code == 204
    with pytest.raises(Unauthorized):
        await rules.add_rule(conn, settings, contact, RuleRequest(kind="refuse"))
    with pytest.raises(Unauthorized):
        await rules.withdraw_rule(conn, settings, contact, UUID(rule["id"]))
    key = key_of(PHONE)
    assert await conn.fetchval("SELECT count(*) FROM rules WHERE phone_key = $1", key) == 0
    assert await conn.fetchval("SELECT count(*) FROM contact_receipts WHERE phone_key = $1", key) == 0


async def test_refusal_and_withdrawal_change_what_agencies_hear(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn, "Example Collections")
    _, early_key = await make_agency_with_key(conn, "Early Lender")
    token = await contact_session(conn, PHONE)
    early = (await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(early_key))).json()
    assert (early["decision"], early["reason"]) == ("allow", "no_record")

    rule = (await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token))).json()["rule"]
    # The open permit the refusal contradicts is revoked and appears in its holder's changes feed only.
    changes = (await api.get("/v1/changes", headers=bearer(early_key))).json()
    assert [(i["check_id"], i["reason"]) for i in changes["items"]] == [(early["check_id"], "refused")]
    assert (await api.get("/v1/changes", headers=bearer(key))).json()["items"] == []
    denied = (await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))).json()
    assert (denied["decision"], denied["reason"]) == ("deny", "refused")

    me = (await api.get("/v1/contact/me", headers=auth(token))).json()
    assert [(c["agency"], c["decision"]) for c in me["recent_checks"]] == [
        ("Example Collections", "deny"),
        ("Early Lender", "allow"),
    ]
    assert (await api.delete(f"/v1/contact/rules/{rule['id']}", headers=auth(token))).status_code == 200
    after = (await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))).json()
    assert (after["decision"], after["reason"]) == ("allow", "no_record")


async def test_withdrawn_consent_revokes_its_permits(api: httpx.AsyncClient, conn: Connection) -> None:
    agency, key = await make_agency_with_key(conn)
    token = await contact_session(conn, PHONE)
    consent = await api.post(
        "/v1/contact/rules", json={"kind": "consent", "agency_id": str(agency.id)}, headers=auth(token)
    )
    check = (await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))).json()
    assert (check["decision"], check["reason"]) == ("allow", "consent")
    withdrawn = await api.delete(f"/v1/contact/rules/{consent.json()['rule']['id']}", headers=auth(token))
    assert withdrawn.status_code == 200
    changes = (await api.get("/v1/changes", headers=bearer(key))).json()
    assert [(i["check_id"], i["reason"]) for i in changes["items"]] == [(check["check_id"], "consent_withdrawn")]


async def test_a_once_consent_allows_one_call_then_ends_and_only_a_consent_can_be_once(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    token = await contact_session(conn, PHONE)
    agency, key = await make_agency_with_key(conn)
    other, other_key = await make_agency_with_key(conn)
    await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token))
    wrong = await api.post("/v1/contact/rules", json={"kind": "refuse", "once": True}, headers=auth(token))
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "once"
    for scope in (agency, other):
        body = {"kind": "consent", "agency_id": str(scope.id), "once": True}
        added = await api.post("/v1/contact/rules", json=body, headers=auth(token))
        assert added.status_code == 201 and added.json()["rule"]["once"] is True, added.text
    assert "One call only" in added.json()["receipt"]["text"] or "只允许一次来电" in added.json()["receipt"]["text"]

    answers = [(await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))).json() for _ in range(2)]
    assert [(a["decision"], a["reason"]) for a in answers] == [("allow", "consent"), ("deny", "refused")]
    # The one call stays allowed: its permit is not revoked. The other agency's once-consent is untouched.
    assert (
        await conn.fetchval("SELECT revoked_at FROM permits WHERE check_id = $1", UUID(answers[0]["check_id"])) is None
    )
    states = {
        r["agency_id"]: r["state"]
        for r in (await api.get("/v1/contact/me", headers=auth(token))).json()["rules"]
        if r["kind"] == "consent"
    }
    assert states == {str(agency.id): "withdrawn", str(other.id): "active"}
    later = await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(other_key))
    assert (later.json()["decision"], later.json()["reason"]) == ("allow", "consent")


async def test_a_withdrawal_waits_for_a_running_check_instead_of_deadlocking(
    api: httpx.AsyncClient, conn: Connection, database_url: str
) -> None:
    """A check holds the contact's check lock and then updates her once-consent (its trigger, sql/0042).
    A withdrawal takes that lock before it touches the rule, so it waits for the check; taking the rule's
    row first, the two would each wait for the other until PostgreSQL aborted one."""
    token = await contact_session(conn, PHONE)
    agency = await make_agency(conn)
    body = {"kind": "consent", "agency_id": str(agency.id), "once": True}
    rule = (await api.post("/v1/contact/rules", json=body, headers=auth(token))).json()["rule"]
    check = await asyncpg.connect(database_url)
    try:
        async with check.transaction():
            # As check_contacts(): the contact's lock, then (a permit issued) the trigger's update of the rule.
            await check.execute("SELECT lock_contacts(ARRAY[$1::bytea])", key_of(PHONE))
            withdrawal = asyncio.create_task(api.delete(f"/v1/contact/rules/{rule['id']}", headers=auth(token)))
            await asyncio.sleep(0.5)
            assert not withdrawal.done()
            await asyncio.wait_for(
                check.execute(
                    "UPDATE rules SET withdrawn_at = now() WHERE id = $1 AND withdrawn_at IS NULL", UUID(rule["id"])
                ),
                timeout=5,
            )
    finally:
        await check.close()
    # The check used the consent up first; the withdrawal then finds it already withdrawn, and answers.
    withdrawn = await asyncio.wait_for(withdrawal, timeout=10)
    assert withdrawn.status_code == 200, withdrawn.text
