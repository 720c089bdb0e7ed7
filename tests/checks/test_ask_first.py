"""Ask first, as an agency meets it over real HTTP: the notice before the first call, its hold, its budget."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import asyncpg
import httpx
import msgspec
import pytest

from registry.checks import queries
from registry.database import Connection
from registry.jurisdiction import sms_segments
from registry.settings import NoticeFigures, Settings
from registry.sms import sealer_for
from registry.tokens import token_hash
from tests.conftest import LiveServer
from tests.factories import add_rule, auth, bearer, contact_session, key_of, make_agency_with_key, staff_token
from tests.sms import GATEWAY_SECRET, NOTICE, link_token, outbox, queue_settled

PHONE = "+8613800138000"
OTHER = "+8613900139000"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The defaults of production: a 24-hour hold, a notice at most every 30 days, 5,000 a day per agency."""
    return msgspec.structs.replace(settings, notice=NoticeFigures(), sms_webhook_secret=GATEWAY_SECRET)


async def check(api: httpx.AsyncClient, key: object, phone: str) -> dict[str, object]:
    response = await api.post("/v1/checks", json={"phone": phone}, headers=bearer(key))  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_the_first_check_asks_the_contact_and_every_agency_waits(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    agency, key = await make_agency_with_key(conn, "安心资产管理有限公司")
    _, other_key = await make_agency_with_key(conn, "另一家催收公司")

    first = await check(api, key, "138 0013 8000")
    assert (first["decision"], first["reason"]) == ("deny", "notice_pending")
    checked_at = datetime.fromisoformat(str(first["checked_at"]))
    available_at = datetime.fromisoformat(str(first["available_at"]))
    assert available_at - checked_at == timedelta(hours=24)
    assert "valid_until" not in first and "limit" not in first

    [notice] = await outbox(conn, PHONE, containing=NOTICE)
    # Who is about to call, that she owes nothing, that "harbouring" is a false threat, TD, and the link.
    assert "安心资产管理" in notice and "您不欠款" in notice and "包庇" in notice and "TD" in notice
    assert "You owe nothing" in notice
    assert f"/n/{link_token(notice)}" in notice
    assert sms_segments(notice) <= 2

    # During the hold, the same agency and any other hear the same, and no second notice goes out.
    again = await check(api, key, PHONE)
    by_other = await check(api, other_key, "+86 139 0013 9000")
    elsewhere = await check(api, other_key, PHONE)
    assert (again["reason"], again["available_at"]) == ("notice_pending", first["available_at"])
    assert (elsewhere["reason"], elsewhere["available_at"]) == ("notice_pending", first["available_at"])
    assert by_other["reason"] == "notice_pending"  # another contact: her own notice
    await queue_settled(conn)
    assert len(await outbox(conn, PHONE, containing=NOTICE)) == 1
    assert await conn.fetchval("SELECT count(*) FROM notices WHERE phone_key = $1", key_of(PHONE)) == 1
    row = await conn.fetchrow("SELECT agency_id, status, sent_at FROM notices WHERE phone_key = $1", key_of(PHONE))
    assert row is not None and (row["agency_id"], row["status"]) == (agency.id, "sent")

    # After the hold, the v1 rule: one call per agency per 30 days.
    await conn.execute("UPDATE notices SET created_at = created_at - interval '25 hours'")
    after = await check(api, key, PHONE)
    assert (after["decision"], after["reason"]) == ("allow", "no_record")
    assert "available_at" not in after
    await queue_settled(conn)
    assert len(await outbox(conn, PHONE, containing=NOTICE)) == 1


async def test_a_batch_sends_one_notice_per_contact_however_often_it_appears(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    _, key = await make_agency_with_key(conn)
    items = [{"phone": PHONE}, {"phone": "13800138000"}, {"phone": OTHER}, {"phone": "+86 138-0013-8000"}]
    response = await api.post("/v1/checks/batch", json={"items": items}, headers=bearer(key))
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["reason"] for r in results] == ["notice_pending"] * 4
    assert len({r["available_at"] for r in results}) == 1
    await queue_settled(conn)
    assert len(await outbox(conn, PHONE, containing=NOTICE)) == 1
    assert len(await outbox(conn, OTHER, containing=NOTICE)) == 1
    assert await conn.fetchval("SELECT count(*) FROM notices") == 2


async def test_a_contact_with_a_rule_or_a_number_we_cannot_text_is_not_asked(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    _, key = await make_agency_with_key(conn)
    # She refused another agency only: no rule matches this one, but she knows the registry.
    other, _ = await make_agency_with_key(conn)
    await add_rule(conn, PHONE, "refuse", agency_id=other.id)
    known = await check(api, key, PHONE)
    assert (known["decision"], known["reason"]) == ("allow", "no_record")
    # A Beijing landline and a US number: nobody we can text, so the v1 rule answers.
    for number in ("+861058501234", "+14155550123"):
        answer = await check(api, key, number)
        assert (answer["decision"], answer["reason"]) == ("allow", "no_record"), number
    await queue_settled(conn)
    assert await conn.fetchval("SELECT count(*) FROM notices") == 0
    assert await conn.fetchval("SELECT count(*) FROM sms_outbox") == 0


async def test_the_daily_budget_stops_notices_and_staff_see_them_per_day(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    agency, key = await make_agency_with_key(conn, "批量查询公司")
    admin = await staff_token(api, conn, "admin")
    set_budget = await api.put(f"/v1/admin/agencies/{agency.id}/notice-budget", json={"daily": 2}, headers=auth(admin))
    assert set_budget.status_code == 200, set_budget.text
    assert set_budget.json()["notice_daily_budget"] == 2

    numbers = [f"+86138001{n:05d}" for n in range(4)]
    response = await api.post("/v1/checks/batch", json={"items": [{"phone": n} for n in numbers]}, headers=bearer(key))
    reasons = [r["reason"] for r in response.json()["results"]]
    assert reasons == ["notice_pending", "notice_pending", "notice_budget", "notice_budget"]
    assert all("available_at" not in r for r in response.json()["results"][2:])
    # Over budget, a single check sends nothing either; a number already asked is held as before.
    assert (await check(api, key, numbers[3]))["reason"] == "notice_budget"
    assert (await check(api, key, numbers[0]))["reason"] == "notice_pending"
    await queue_settled(conn)
    assert await conn.fetchval("SELECT count(*) FROM sms_outbox") == 2

    figures = await api.get("/v1/admin/stats", headers=auth(admin))
    assert figures.status_code == 200
    body = figures.json()
    [row] = [a for a in body["agencies"] if a["agency_id"] == str(agency.id)]
    assert (row["notices"], row["notice_daily_budget"]) == (2, 2)
    [day] = [d for d in body["notices_by_day"] if d["agency_id"] == str(agency.id)]
    assert (day["notices"], day["sent"]) == (2, 2)

    # Back to the default budget (null): notices go out again.
    reset = await api.put(f"/v1/admin/agencies/{agency.id}/notice-budget", json={"daily": None}, headers=auth(admin))
    assert reset.json()["notice_daily_budget"] is None
    assert (await check(api, key, numbers[3]))["reason"] == "notice_pending"
    reviewer = await staff_token(api, conn, "reviewer")
    refused = await api.put(f"/v1/admin/agencies/{agency.id}/notice-budget", json={"daily": 9}, headers=auth(reviewer))
    assert refused.status_code == 403


async def test_without_a_hold_the_notice_still_goes_out(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    # REGISTRY_NOTICE_HOURS=0 is another server: its own settings.
    server = LiveServer(msgspec.structs.replace(settings, notice=NoticeFigures(hours=0)))
    await server.start()
    try:
        _, key = await make_agency_with_key(conn)
        async with httpx.AsyncClient(base_url=server.url) as client:
            answer = await check(client, key, PHONE)
            assert (answer["decision"], answer["reason"]) == ("allow", "no_record")
            await outbox(conn, PHONE, containing=NOTICE)
    finally:
        await server.stop()


async def test_the_contact_sees_the_notices_sent_to_her(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn, "安心资产管理有限公司")
    await check(api, key, PHONE)
    await outbox(conn, PHONE, containing=NOTICE)
    token = await contact_session(conn, PHONE)
    me = await api.get("/v1/contact/me", headers=auth(token))
    [notice] = me.json()["notices"]
    assert notice["agency"] == "安心资产管理有限公司" and notice["status"] == "sent"
    assert notice["asked_at"] and notice["sent_at"]
    checks = me.json()["recent_checks"]
    assert [c["reason"] for c in checks] == ["notice_pending"]


async def test_the_schema_documents_the_new_answers(api: httpx.AsyncClient) -> None:
    document = (await api.get("/schema/openapi.json")).json()
    text = msgspec.json.encode(document).decode()
    assert "notice_pending" in text and "notice_budget" in text and "available_at" in text
    assert "/v1/sms/inbound" in document["paths"]
    assert "/v1/admin/agencies/{agency_id}/notice-budget" in document["paths"]


async def test_checks_at_once_cannot_both_spend_the_last_notice(
    api: httpx.AsyncClient, conn: Connection, settings: Settings, database_url: str
) -> None:
    """The budget is exact: a check that may cause a notice waits for the agency's notice lock, so it counts
    the notices of a check still running beside it; a check that cannot cause one does not wait."""
    agency, key = await make_agency_with_key(conn)
    await conn.execute("UPDATE agencies SET notice_daily_budget = 1 WHERE id = $1", agency.id)
    refused = "+8613800138003"
    await add_rule(conn, refused, "refuse")
    sealer = sealer_for(settings.session_key)
    running = await asyncpg.connect(database_url)
    try:
        # A check that has caused the agency's one notice of the day and has not committed yet.
        transaction = running.transaction()
        await transaction.start()
        [first] = await queries.check_contacts(
            running,
            token_hash(key.key),
            [queries.Item(key_of(PHONE), None, sealer.seal_numbers([PHONE])[0])],
            settings.limits,
            settings.notice,
        )
        assert first.reason == "notice_pending"
        # Another new contact, checked meanwhile: it waits for that check to end...
        second = asyncio.create_task(check(api, key, OTHER))
        # ...while a contact who cannot be asked (she refused) is answered at once.
        assert (await asyncio.wait_for(check(api, key, refused), timeout=10))["reason"] == "refused"
        await asyncio.sleep(0.5)
        assert not second.done()
        await transaction.commit()
        # Then it counts the committed notice: the budget is spent.
        assert (await asyncio.wait_for(second, timeout=10))["reason"] == "notice_budget"
    finally:
        await running.close()
    assert await conn.fetchval("SELECT count(*) FROM notices WHERE agency_id = $1", agency.id) == 1


async def test_a_spent_budget_is_remembered_until_its_oldest_counted_notice_is_a_day_old(
    conn: Connection, settings: Settings
) -> None:
    """Checks of an agency whose budget is spent skip counting its day until the budget has room again."""
    agency, key = await make_agency_with_key(conn)
    await conn.execute("UPDATE agencies SET notice_daily_budget = 1 WHERE id = $1", agency.id)
    sealer = sealer_for(settings.session_key)

    async def at(when: datetime, phone: str) -> str:
        item = queries.Item(key_of(phone), None, sealer.seal_numbers([phone])[0])
        [answer] = await queries.check_contacts(
            conn, token_hash(key.key), [item], settings.limits, settings.notice, at=when
        )
        return answer.reason

    start = await conn.fetchval("SELECT date_trunc('second', now())")
    assert await at(start, PHONE) == "notice_pending"
    assert await conn.fetchval("SELECT count(*) FROM notice_budget_spent") == 0
    assert await at(start + timedelta(hours=1), OTHER) == "notice_budget"
    spent = await conn.fetchrow("SELECT budget, until FROM notice_budget_spent WHERE agency_id = $1", agency.id)
    assert spent is not None and (spent["budget"], spent["until"]) == (1, start + timedelta(days=1))
    assert await at(start + timedelta(hours=23), OTHER) == "notice_budget"
    # A day after the first notice it no longer counts: room for one more, spent again until a day after it.
    later = start + timedelta(days=1, seconds=1)
    assert await at(later, OTHER) == "notice_pending"
    assert await at(later + timedelta(seconds=1), "+8613800138009") == "notice_budget"
    until = await conn.fetchval("SELECT until FROM notice_budget_spent WHERE agency_id = $1", agency.id)
    assert until == later + timedelta(days=1)
    # Staff raise the budget: the record is of another budget, so the next check counts again.
    await conn.execute("UPDATE agencies SET notice_daily_budget = 2 WHERE id = $1", agency.id)
    assert await at(later + timedelta(seconds=2), "+8613800138009") == "notice_pending"


async def test_a_once_consent_used_up_within_a_call_lets_the_repeat_be_asked(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    """[P, P] where P's only rule is a once-consent: the first is allowed and uses it up, the second finds no
    rule in force and P is asked first (as for any contact without a rule), not told the budget is spent."""
    agency, key = await make_agency_with_key(conn)
    rule = await add_rule(conn, PHONE, "consent", agency_id=agency.id)
    await conn.execute("UPDATE rules SET once = true WHERE id = $1", rule)
    response = await api.post(
        "/v1/checks/batch", json={"items": [{"phone": PHONE}, {"phone": PHONE}]}, headers=bearer(key)
    )
    assert response.status_code == 200, response.text
    assert [r["reason"] for r in response.json()["results"]] == ["consent", "notice_pending"]
    assert await conn.fetchval("SELECT count(*) FROM notices") == 1


async def test_an_agency_with_no_notice_budget_never_waits_for_the_notice_lock(
    api: httpx.AsyncClient, conn: Connection, settings: Settings, database_url: str
) -> None:
    agency, key = await make_agency_with_key(conn)
    await conn.execute("UPDATE agencies SET notice_daily_budget = 0 WHERE id = $1", agency.id)
    holder = await asyncpg.connect(database_url)
    try:
        # Somebody holds the agency's notice lock (namespace 72404, sql/0080) and does not let go.
        async with holder.transaction():
            await holder.execute("SELECT pg_advisory_xact_lock(72404, hashtext($1::text))", str(agency.id))
            answer = await asyncio.wait_for(check(api, key, PHONE), timeout=10)
            assert answer["reason"] == "notice_budget"
    finally:
        await holder.close()
    assert await conn.fetchval("SELECT count(*) FROM notices") == 0
