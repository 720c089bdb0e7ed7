"""Revocation through the queries: a new refusal, a withdrawal or an erasure revokes the permits it contradicts."""

from __future__ import annotations

from uuid import UUID

import pytest

from registry.checks import queries
from registry.database import Connection
from registry.permits import revoke_contradicted_permits
from registry.settings import Settings
from registry.tokens import token_hash
from tests.factories import add_rule, key_of, make_agency_with_key, one_row, withdraw_rule

CONTACT = "13800138000"
OTHER = "13900139000"


async def check(conn: Connection, key: str, phone: str, borrower: str | None = None) -> queries.Answer:
    # No sealed number: nobody to ask first, so the v1 rule answers (the notice step is tested elsewhere).
    item = queries.Item(key_of(phone), key_of(borrower) if borrower else None)
    [answer] = await queries.check_contacts(conn, token_hash(key), [item], Settings().limits, Settings().notice)
    return answer


async def feed(conn: Connection) -> list[tuple[UUID, str]]:
    return [
        (r["check_id"], r["reason"]) for r in await conn.fetch("SELECT check_id, reason FROM revocations ORDER BY seq")
    ]


async def test_new_refusal_revokes_open_permits_of_every_agency(conn: Connection, settings: Settings) -> None:
    _, key_a = await make_agency_with_key(conn)
    _, key_b = await make_agency_with_key(conn)
    permit_a = await check(conn, key_a.key, CONTACT)
    permit_b = await check(conn, key_b.key, CONTACT)
    untouched = await check(conn, key_a.key, OTHER)
    assert {permit_a.decision, permit_b.decision, untouched.decision} == {"allow"}

    async with conn.transaction():
        await add_rule(conn, CONTACT, "refuse")
        revoked = await revoke_contradicted_permits(conn, key_of(CONTACT), "refused", settings)

    assert set(revoked) == {permit_a.check_id, permit_b.check_id}
    assert sorted(await feed(conn)) == sorted([(permit_a.check_id, "refused"), (permit_b.check_id, "refused")])
    row = await one_row(conn, "SELECT revoked_at, revoke_reason FROM permits WHERE check_id = $1", permit_a.check_id)
    assert row["revoked_at"] is not None and row["revoke_reason"] == "refused"
    still_open = await conn.fetchval("SELECT revoked_at FROM permits WHERE check_id = $1", untouched.check_id)
    assert still_open is None
    # Nothing is revoked twice.
    assert await revoke_contradicted_permits(conn, key_of(CONTACT), "refused", settings) == []
    assert len(await feed(conn)) == 2


async def test_refusal_of_one_agency_revokes_only_its_permits(conn: Connection, settings: Settings) -> None:
    agency_a, key_a = await make_agency_with_key(conn)
    _, key_b = await make_agency_with_key(conn)
    permit_a = await check(conn, key_a.key, CONTACT)
    permit_b = await check(conn, key_b.key, CONTACT)

    await add_rule(conn, CONTACT, "refuse", agency_id=agency_a.id)
    revoked = await revoke_contradicted_permits(conn, key_of(CONTACT), "refused", settings)

    assert revoked == [permit_a.check_id]
    assert await conn.fetchval("SELECT revoked_at FROM permits WHERE check_id = $1", permit_b.check_id) is None


async def test_withdrawn_consent_revokes_the_permits_resting_on_it(conn: Connection, settings: Settings) -> None:
    agency_a, key_a = await make_agency_with_key(conn)
    _, key_b = await make_agency_with_key(conn)
    consent = await add_rule(conn, CONTACT, "consent", agency_id=agency_a.id)
    on_consent = await check(conn, key_a.key, CONTACT)
    no_record = await check(conn, key_b.key, CONTACT)
    assert (on_consent.reason, on_consent.rule_id) == ("consent", consent)
    assert no_record.reason == "no_record"

    async with conn.transaction():
        await withdraw_rule(conn, consent)
        revoked = await revoke_contradicted_permits(conn, key_of(CONTACT), "consent_withdrawn", settings)

    # B's permit never rested on the consent, and nothing refuses B: it stays.
    assert revoked == [on_consent.check_id]
    assert await feed(conn) == [(on_consent.check_id, "consent_withdrawn")]


async def test_a_consent_still_in_force_keeps_its_permit(conn: Connection, settings: Settings) -> None:
    agency_a, key_a = await make_agency_with_key(conn)
    await add_rule(conn, CONTACT, "consent", agency_id=agency_a.id)
    permit = await check(conn, key_a.key, CONTACT, borrower=None)
    other_consent = await add_rule(conn, CONTACT, "consent", agency_id=agency_a.id, borrower=OTHER)
    await withdraw_rule(conn, other_consent)

    assert await revoke_contradicted_permits(conn, key_of(CONTACT), "consent_withdrawn", settings) == []
    assert await conn.fetchval("SELECT revoked_at FROM permits WHERE check_id = $1", permit.check_id) is None


async def test_erasure_revokes_permits_whose_rule_is_gone(conn: Connection, settings: Settings) -> None:
    agency_a, key_a = await make_agency_with_key(conn)
    await add_rule(conn, CONTACT, "consent", agency_id=agency_a.id, borrower=OTHER)
    permit = await check(conn, key_a.key, CONTACT, borrower=OTHER)
    assert permit.reason == "consent"

    async with conn.transaction():
        await conn.execute("DELETE FROM rules WHERE phone_key = $1", key_of(CONTACT))
        revoked = await revoke_contradicted_permits(conn, key_of(CONTACT), "erased", settings)

    assert revoked == [permit.check_id]
    assert await feed(conn) == [(permit.check_id, "erased")]


async def test_expired_and_denied_answers_are_not_revoked(conn: Connection, settings: Settings) -> None:
    _, key_a = await make_agency_with_key(conn)
    permit = await check(conn, key_a.key, CONTACT)
    denied = await check(conn, key_a.key, CONTACT)
    assert denied.reason == "frequency_limit"
    await conn.execute(
        "UPDATE permits SET valid_until = now() - interval '1 second' WHERE check_id = $1", permit.check_id
    )

    await add_rule(conn, CONTACT, "refuse")
    assert await revoke_contradicted_permits(conn, key_of(CONTACT), "refused", settings) == []


async def test_a_failed_caller_transaction_leaves_no_revocation(conn: Connection, settings: Settings) -> None:
    _, key_a = await make_agency_with_key(conn)
    await check(conn, key_a.key, CONTACT)
    with pytest.raises(RuntimeError):
        async with conn.transaction():
            await add_rule(conn, CONTACT, "refuse")
            assert len(await revoke_contradicted_permits(conn, key_of(CONTACT), "refused", settings)) == 1
            raise RuntimeError("the caller's later step failed")
    assert await feed(conn) == []
    assert await conn.fetchval("SELECT count(*) FROM permits WHERE revoked_at IS NOT NULL") == 0


async def test_unknown_reason_is_a_programming_error(conn: Connection, settings: Settings) -> None:
    with pytest.raises(ValueError, match="reason"):
        await revoke_contradicted_permits(conn, key_of(CONTACT), "bored", settings)
