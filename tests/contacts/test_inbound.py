"""SMS replies over real HTTP: a signed TD refuses all agencies for a number that never saw the site."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import httpx
import msgspec
import pytest

from registry.contacts.inbound import refuses
from registry.contacts.rules import receipt_reference
from registry.database import Connection
from registry.settings import NoticeFigures, Settings
from tests.factories import add_rule, bearer, key_of, make_agency_with_key
from tests.sms import CONFIRMATION, GATEWAY_SECRET, HELP, outbox, post_reply, queue_settled, signed_reply

PHONE = "+8613800138000"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, notice=NoticeFigures(), sms_webhook_secret=GATEWAY_SECRET)


def reply(text: str, message_id: str = "gw-1", sender: str = PHONE) -> dict[str, str]:
    return {"id": message_id, "from": sender, "text": text, "received_at": datetime.now(UTC).isoformat()}


async def test_td_refuses_a_number_that_never_visited_and_confirms_by_sms(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    _, key = await make_agency_with_key(conn)
    answered = await post_reply(api, reply("TD", sender="13800138000"))
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["action"] == "refused" and body["id"] == "gw-1"
    [confirmation] = await outbox(conn, PHONE, containing=CONFIRMATION)
    assert receipt_reference(UUID(body["receipt_id"])) in confirmation
    rule = await conn.fetchrow(
        "SELECT kind, agency_id, borrower_key, expires_at FROM rules WHERE phone_key = $1", key_of(PHONE)
    )
    assert rule is not None and dict(rule) == {
        "kind": "refuse",
        "agency_id": None,
        "borrower_key": None,
        "expires_at": None,
    }
    receipt = await conn.fetchrow("SELECT via, action FROM contact_receipts WHERE id = $1", UUID(body["receipt_id"]))
    assert receipt is not None and (receipt["via"], receipt["action"]) == ("sms", "rule_added")

    check = await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))
    assert (check.json()["decision"], check.json()["reason"]) == ("deny", "refused")


async def test_the_same_message_posted_again_does_nothing_more(api: httpx.AsyncClient, conn: Connection) -> None:
    first = await post_reply(api, reply("拒绝", "gw-7"))
    again = await post_reply(api, reply("拒绝", "gw-7"))
    assert first.json() == again.json()
    await queue_settled(conn)
    assert await conn.fetchval("SELECT count(*) FROM rules") == 1
    assert len(await outbox(conn, PHONE, containing=CONFIRMATION)) == 1
    # Another message with TD while refused: the refusal in force is the answer, not a second rule.
    third = await post_reply(api, reply("td", "gw-8"))
    assert third.json()["receipt_id"] == first.json()["receipt_id"]
    assert await conn.fetchval("SELECT count(*) FROM rules") == 1


async def test_other_text_gets_one_help_reply_a_day(api: httpx.AsyncClient, conn: Connection) -> None:
    first = await post_reply(api, reply("你们是谁？", "gw-20"))
    second = await post_reply(api, reply("Who is this?", "gw-21"))
    assert (first.json()["action"], second.json()["action"]) == ("help", "quiet")
    await queue_settled(conn)
    [help_reply] = await outbox(conn, PHONE, containing=HELP)
    assert "TD" in help_reply and "http://127.0.0.1:8000" in help_reply
    assert await conn.fetchval("SELECT count(*) FROM rules") == 0
    # Nothing of what she wrote is kept.
    row = await conn.fetchrow("SELECT * FROM sms_inbound WHERE gateway_id = 'gw-20'")
    assert row is not None and "你们是谁" not in str(dict(row))


async def test_a_bad_or_missing_signature_is_401_and_changes_nothing(api: httpx.AsyncClient, conn: Connection) -> None:
    wrong = await post_reply(api, reply("TD"), secret="not-the-secret")
    assert wrong.status_code == 401 and wrong.json()["code"] == "bad_signature"
    body, headers = signed_reply(reply("TD"))
    tampered = body.replace(b"TD", b"td")
    assert (await api.post("/v1/sms/inbound", content=tampered, headers=headers)).status_code == 401
    unsigned = await api.post("/v1/sms/inbound", content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    assert await conn.fetchval("SELECT count(*) FROM rules") == 0
    assert await conn.fetchval("SELECT count(*) FROM sms_inbound") == 0


async def test_a_reply_works_when_the_code_limits_are_exhausted(api: httpx.AsyncClient, conn: Connection) -> None:
    # Someone asked for codes for her number and guessed wrong many times: codes wait, the reply does not.
    for n in range(3):
        await api.post("/v1/contact/codes", json={"phone": PHONE}, headers={"X-Forwarded-For": f"10.9.0.{n}"})
    for n in range(12):
        await api.post(
            "/v1/contact/sessions", json={"phone": PHONE, "code": "000000"}, headers={"X-Forwarded-For": f"10.9.1.{n}"}
        )
    refused = await post_reply(api, reply("回复TD"))
    assert refused.json()["action"] == "refused"


async def test_a_refusal_by_sms_withdraws_the_consents_it_covers(api: httpx.AsyncClient, conn: Connection) -> None:
    agency, key = await make_agency_with_key(conn)
    consent = await add_rule(conn, PHONE, "consent", agency_id=agency.id)
    allowed = await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))
    assert allowed.json()["reason"] == "consent"
    await post_reply(api, reply("N"))
    assert await conn.fetchval("SELECT withdrawn_at IS NOT NULL FROM rules WHERE id = $1", consent)
    revoked = await conn.fetchrow(
        "SELECT revoke_reason FROM permits WHERE check_id = $1", UUID(allowed.json()["check_id"])
    )
    assert revoked is not None and revoked["revoke_reason"] == "refused"
    changes = await api.get("/v1/changes", headers=bearer(key))
    assert [c["check_id"] for c in changes.json()["items"]] == [allowed.json()["check_id"]]


@pytest.mark.parametrize(
    ("text", "refusing"),
    [
        ("TD", True),
        ("td", True),
        ("ＴＤ", True),
        ("回复TD", True),
        ("TD 谢谢", True),
        ("拒绝", True),
        ("我拒绝接听", True),
        ("退订", True),
        ("R", True),
        ("n.", True),
        ("No", False),
        ("Robert", False),
        ("TDX", False),
        ("你好", False),
        ("", False),
    ],
)
def test_which_replies_refuse(text: str, refusing: bool) -> None:
    assert refuses(text) is refusing
