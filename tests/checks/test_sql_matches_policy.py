"""The check statement in PostgreSQL gives the answers of registry/policy.py, on random cases.

policy.decide is the reference text of the rule in docs/design.md; check_contacts() computes it in
one round trip. Hypothesis draws rules, earlier permits, earlier notices (the contact's, and the
agency's for its budget), the notice figures and a batch over up to three contacts (repeats
included, some numbers we cannot text), writes them to the real database and compares every
answer, and whether it made a notice, with the pure function's.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from typing import TypedDict
from uuid import UUID

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry import jurisdiction, policy
from registry.checks import queries
from registry.database import Connection
from registry.domain import Limit, RuleKind
from registry.settings import Limits, NoticeFigures
from registry.tokens import token_hash
from tests.factories import make_agency

AT = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
BORROWERS = [None, b"\x01" * 32, b"\x02" * 32]
LIMITS = Limits()

offsets = st.integers(min_value=-40 * 24, max_value=40 * 24).map(lambda h: AT + timedelta(hours=h))
# Notices happen before the check (a later one cannot exist yet): up to 40 days earlier.
earlier = st.integers(min_value=0, max_value=40 * 24 * 60).map(lambda m: AT - timedelta(minutes=m))


class DrawnRule(TypedDict):
    kind: RuleKind
    agency: int | None  # index into the agencies of the case
    borrower: int  # index into BORROWERS
    expires_at: datetime | None
    withdrawn_at: datetime | None


class Case(TypedDict):
    rules: list[DrawnRule]  # contact 0's
    permits: list[tuple[int, datetime]]  # contact 0's, by agency index
    notices: list[datetime]  # contact 0's
    agency_notices: list[datetime]  # the checking agency's, to other contacts (its budget)
    figures: NoticeFigures
    override: bool  # the budget as the agency's own (staff set it) rather than the setting
    reachable: list[bool]  # per contact
    batch: list[tuple[int, int]]  # (contact, borrower index)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    rules: list[DrawnRule] = []
    # Contact 0 may have no rule at all, and contacts 1 and 2 never have one: the notice step's ground.
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        kind: RuleKind = "consent" if draw(st.booleans()) else "refuse"
        rules.append(
            DrawnRule(
                kind=kind,
                agency=draw(st.sampled_from([None, 0, 1])),
                borrower=draw(st.sampled_from([0, 1, 2])),
                expires_at=draw(offsets) if kind == "consent" else draw(st.none() | offsets),
                withdrawn_at=draw(st.none() | offsets),
            )
        )
    permits = draw(
        st.lists(
            # Half of them in the last day, so the daily limit is reached often.
            st.tuples(
                st.sampled_from([0, 1]),
                st.integers(min_value=1, max_value=24 * 60) | st.integers(min_value=1, max_value=35 * 24 * 60),
            ).map(lambda p: (p[0], AT - timedelta(minutes=p[1]))),
            max_size=10,
        )
    )
    return Case(
        rules=rules,
        permits=permits,
        notices=draw(st.lists(earlier, max_size=3)),
        agency_notices=draw(
            st.lists(st.integers(min_value=0, max_value=36 * 60).map(lambda m: AT - timedelta(minutes=m)), max_size=4)
        ),
        figures=NoticeFigures(
            hours=draw(st.sampled_from([24, 24, 1, 0])),
            min_days=draw(st.sampled_from([30, 2])),
            daily_per_agency=draw(st.integers(min_value=0, max_value=5)),
        ),
        override=draw(st.booleans()),
        reachable=[draw(st.booleans() | st.just(True)) for _ in range(3)],
        batch=draw(
            st.lists(st.tuples(st.sampled_from([0, 0, 1, 2]), st.sampled_from([0, 1, 2])), min_size=1, max_size=8)
        ),
    )


INSERT_RULE = """
    INSERT INTO rules (phone_key, kind, agency_id, borrower_key, expires_at, withdrawn_at)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
"""
INSERT_PERMIT = """
    INSERT INTO permits (check_id, agency_id, phone_key, issued_at, valid_until)
    VALUES (gen_random_uuid(), $1, $2, $3::timestamptz, $3::timestamptz + interval '1 day')
"""
INSERT_NOTICE = """
    INSERT INTO notices (id, phone_key, agency_id, check_id, created_at)
    VALUES (gen_random_uuid(), $1, $2, gen_random_uuid(), $3)
"""


def fresh_credit_code() -> str:
    """A credit code from os.urandom: Hypothesis seeds `random`, so the factory's would repeat across cases."""
    alphabet = jurisdiction.CREDIT_CODE_ALPHABET
    return jurisdiction.with_check_character("91110000" + "".join(alphabet[b % len(alphabet)] for b in os.urandom(9)))


INSERT_AGENCY = """
    WITH agency AS (INSERT INTO agencies (name, credit_code) VALUES ('Checking agency', $1) RETURNING id),
    key AS (INSERT INTO api_keys (agency_id, prefix, key_hash) SELECT id, $2, $3 FROM agency)
    SELECT id FROM agency
"""
# What PUT /v1/admin/agencies/{id}/notice-budget stores.
SET_BUDGET = "UPDATE agencies SET notice_daily_budget = $2 WHERE id = $1"
QUEUED_FOR = "SELECT count(*) FROM pgqueuer WHERE (headers->>'notice_id')::uuid = ANY($1::uuid[])"


async def compare(conn: Connection, other_agency: UUID, case: Case, seen: set[str]) -> None:
    """Run one random case through both; `seen` collects the answers the cases reached."""
    # A fresh checking agency per case, so its notice budget is the case's own.
    key = f"rk_case_{os.urandom(16).hex()}"
    checker: UUID = await conn.fetchval(INSERT_AGENCY, fresh_credit_code(), key[:10], token_hash(key))
    agency_ids = [checker, other_agency]
    if case["override"]:
        await conn.execute(SET_BUDGET, checker, case["figures"].daily_per_agency)
        # The setting then says something else, which the agency's own figure overrides.
        setting = NoticeFigures(hours=case["figures"].hours, min_days=case["figures"].min_days, daily_per_agency=99)
    else:
        setting = case["figures"]
    contacts = [os.urandom(32) for _ in range(3)]
    rules: list[list[policy.Rule]] = [[], [], []]
    for r in case["rules"]:
        agency_id = agency_ids[r["agency"]] if r["agency"] is not None else None
        borrower_key = BORROWERS[r["borrower"]]
        rule_id = await conn.fetchval(
            INSERT_RULE, contacts[0], r["kind"], agency_id, borrower_key, r["expires_at"], r["withdrawn_at"]
        )
        rules[0].append(
            policy.Rule(
                id=rule_id,
                kind=r["kind"],
                agency_id=agency_id,
                borrower_key=borrower_key,
                expires_at=r["expires_at"],
                withdrawn_at=r["withdrawn_at"],
            )
        )
    permits: list[list[policy.Permit]] = [[], [], []]
    for agency_index, issued_at in case["permits"]:
        await conn.execute(INSERT_PERMIT, agency_ids[agency_index], contacts[0], issued_at)
        permits[0].append(policy.Permit(agency_id=agency_ids[agency_index], issued_at=issued_at))
    notices: list[list[datetime]] = [[], [], []]
    for at in case["notices"]:
        # Caused by the other agency: the hold is every agency's, the budget only the causer's.
        await conn.execute(INSERT_NOTICE, contacts[0], other_agency, at)
        notices[0].append(at)
    agency_notices: list[datetime] = []
    for at in case["agency_notices"]:
        await conn.execute(INSERT_NOTICE, os.urandom(32), checker, at)
        agency_notices.append(at)

    items = [
        queries.Item(contacts[c], BORROWERS[b], b"sealed" if case["reachable"][c] else None) for c, b in case["batch"]
    ]
    answers = await queries.check_contacts(conn, token_hash(key), items, LIMITS, setting, at=AT)

    # The statement answers the first occurrence of each contact, then the second, ...: replay in that order.
    occurrence: dict[int, int] = {}
    order = []
    for index, (contact, _) in enumerate(case["batch"]):
        occurrence[contact] = occurrence.get(contact, 0) + 1
        order.append((occurrence[contact], index))
    made: list[UUID] = []
    for _, index in sorted(order):
        contact, borrower = case["batch"][index]
        answer = answers[index]
        ask = policy.AskFirst(
            notices=notices[contact],
            agency_notices=agency_notices,
            reachable=case["reachable"][contact],
            figures=case["figures"],
        )
        expected = policy.decide(
            agency_id=checker,
            borrower_key=BORROWERS[borrower],
            rules=rules[contact],
            permits=permits[contact],
            at=AT,
            limits=LIMITS,
            ask=ask,
        )
        got_limit = (
            Limit(permits=answer.limit_permits, window_days=answer.limit_days, used=answer.limit_used)
            if answer.limit_permits is not None and answer.limit_days is not None and answer.limit_used is not None
            else None
        )
        got = policy.Decision(
            decision=answer.decision,
            reason=answer.reason,
            rule_id=answer.rule_id,
            valid_until=answer.valid_until,
            limit=got_limit,
            available_at=answer.available_at,
            notice=answer.notice_id is not None,
        )
        assert got == expected, (case, index)
        seen.add(expected.reason)
        if expected.notice:
            seen.add("a notice")
            assert answer.notice_id is not None
            made.append(answer.notice_id)
            notices[contact].append(AT)
            agency_notices.append(AT)
        if expected.decision == "allow":
            # A repeat later in the same batch sees this permit, as the next check would.
            permits[contact].append(policy.Permit(agency_id=checker, issued_at=AT))
    # One SMS job per notice, queued by the same statement.
    assert await conn.fetchval(QUEUED_FOR, made) == len(made)


async def test_check_statement_agrees_with_the_policy(conn: Connection, database_url: str) -> None:
    other = await make_agency(conn)
    seen: set[str] = set()

    def run() -> None:
        # Hypothesis drives a synchronous test; this thread has its own loop and connection.
        loop = asyncio.new_event_loop()
        connection = loop.run_until_complete(asyncpg.connect(database_url))
        loop.run_until_complete(connection.execute("SET TIME ZONE 'UTC'"))

        @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
        @given(cases())
        def agree(case: Case) -> None:
            loop.run_until_complete(compare(connection, other.id, case, seen))

        try:
            agree()
        finally:
            loop.run_until_complete(connection.close())
            loop.close()

    await asyncio.to_thread(run)
    assert await conn.fetchval("SELECT count(*) FROM checks WHERE checked_at = $1", AT) > 300
    # The random cases reached every answer the rule can give, and made notices, so agreement means something.
    reasons = {"no_record", "consent", "refused", "frequency_limit", "notice_pending", "notice_budget"}
    assert seen == {*reasons, "a notice"}, seen
