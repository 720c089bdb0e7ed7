"""The check statement in PostgreSQL gives the answers of registry/policy.py, on random cases.

policy.decide is the reference text of the rule in docs/design.md; check_contacts() computes it in
one round trip. Hypothesis draws rules, earlier permits and a batch (repeats included),
writes them to the real database and compares every answer with the pure function's.
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

from registry import policy
from registry.checks import queries
from registry.database import Connection
from registry.domain import Limit, RuleKind
from registry.settings import Limits
from registry.tokens import token_hash
from tests.factories import make_agency, make_agency_with_key

AT = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
BORROWERS = [None, b"\x01" * 32, b"\x02" * 32]
LIMITS = Limits()

offsets = st.integers(min_value=-40 * 24, max_value=40 * 24).map(lambda h: AT + timedelta(hours=h))


class DrawnRule(TypedDict):
    kind: RuleKind
    agency: int | None  # index into the agencies of the test
    borrower: int  # index into BORROWERS
    expires_at: datetime | None
    withdrawn_at: datetime | None


Case = tuple[list[DrawnRule], list[tuple[int, datetime]], list[int]]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    rules: list[DrawnRule] = []
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
    batch = draw(st.lists(st.sampled_from([0, 1, 2]), min_size=1, max_size=8))
    return rules, permits, batch


INSERT_RULE = """
    INSERT INTO rules (phone_key, kind, agency_id, borrower_key, expires_at, withdrawn_at)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
"""
INSERT_PERMIT = """
    INSERT INTO permits (check_id, agency_id, phone_key, issued_at, valid_until)
    VALUES (gen_random_uuid(), $1, $2, $3::timestamptz, $3::timestamptz + interval '1 day')
"""


async def compare(
    conn: Connection,
    key_hash: bytes,
    agencies: list[UUID],
    case: Case,
    seen: set[str],
) -> None:
    """Run one random case through both; `seen` collects the reasons the cases reached."""
    rules_drawn, permits_drawn, batch = case
    phone_key = os.urandom(32)
    rules = []
    for r in rules_drawn:
        agency_id = agencies[r["agency"]] if r["agency"] is not None else None
        borrower_key = BORROWERS[r["borrower"]]
        rule_id = await conn.fetchval(
            INSERT_RULE, phone_key, r["kind"], agency_id, borrower_key, r["expires_at"], r["withdrawn_at"]
        )
        rules.append(
            policy.Rule(
                id=rule_id,
                kind=r["kind"],
                agency_id=agency_id,
                borrower_key=borrower_key,
                expires_at=r["expires_at"],
                withdrawn_at=r["withdrawn_at"],
            )
        )
    permits = []
    for agency_index, issued_at in permits_drawn:
        await conn.execute(INSERT_PERMIT, agencies[agency_index], phone_key, issued_at)
        permits.append(policy.Permit(agency_id=agencies[agency_index], issued_at=issued_at))

    answers = await queries.check_contacts(conn, key_hash, [(phone_key, BORROWERS[b]) for b in batch], LIMITS, at=AT)
    for borrower, answer in zip(batch, answers, strict=True):
        expected = policy.decide(
            agency_id=agencies[0], borrower_key=BORROWERS[borrower], rules=rules, permits=permits, at=AT, limits=LIMITS
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
        )
        assert got == expected, (rules, permits, batch)
        seen.add(expected.reason)
        if expected.decision == "allow":
            # A repeat later in the same batch sees this permit, as the next check would.
            permits.append(policy.Permit(agency_id=agencies[0], issued_at=AT))


async def test_check_statement_agrees_with_the_policy(conn: Connection, database_url: str) -> None:
    agency, key = await make_agency_with_key(conn)
    other = await make_agency(conn)
    agencies = [agency.id, other.id]

    seen: set[str] = set()

    def run() -> None:
        # Hypothesis drives a synchronous test; this thread has its own loop and connection.
        loop = asyncio.new_event_loop()
        connection = loop.run_until_complete(asyncpg.connect(database_url))
        loop.run_until_complete(connection.execute("SET TIME ZONE 'UTC'"))

        @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
        @given(cases())
        def agree(case: Case) -> None:
            loop.run_until_complete(compare(connection, token_hash(key.key), agencies, case, seen))

        try:
            agree()
        finally:
            loop.run_until_complete(connection.close())
            loop.close()

    await asyncio.to_thread(run)
    assert await conn.fetchval("SELECT count(*) FROM checks WHERE checked_at = $1", AT) > 300
    # The random cases reached every answer the rule can give, so agreement means something.
    assert seen == {"no_record", "consent", "refused", "frequency_limit"}, seen
