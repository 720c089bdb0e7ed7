"""The decision rule of docs/design.md as a pure function: worked cases from the design, then properties."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry import policy
from registry.domain import Limit, RuleKind
from registry.errors import Suspended
from registry.policy import Decision, Permit, Rule
from registry.settings import Limits

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LIMITS = Limits()
A = UUID(int=0xA)
B = UUID(int=0xB)
BORROWER = b"borrower-1"
OTHER_BORROWER = b"borrower-2"


def rule(
    kind: RuleKind,
    agency: UUID | None = None,
    borrower: bytes | None = None,
    *,
    expires_at: datetime | None = None,
    withdrawn_at: datetime | None = None,
) -> Rule:
    return Rule(
        id=uuid.uuid4(),
        kind=kind,
        agency_id=agency,
        borrower_key=borrower,
        expires_at=expires_at,
        withdrawn_at=withdrawn_at,
    )


def permits(agency: UUID, *ages: timedelta) -> list[Permit]:
    return [Permit(agency_id=agency, issued_at=NOW - age) for age in ages]


def decide(rules: list[Rule], issued: list[Permit] | None = None, *, borrower: bytes | None = None) -> Decision:
    return policy.decide(agency_id=A, borrower_key=borrower, rules=rules, permits=issued or [], at=NOW, limits=LIMITS)


HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
CONSENT_A = rule("consent", A, expires_at=NOW + 30 * DAY)

# (what the design says, rules, permits already issued, borrower, expected (decision, reason, limit used))
WORKED_CASES = [
    ("no record: allow once", [], [], None, ("allow", "no_record", 1)),
    (
        "no record: a 2nd permit within 30 days is denied",
        [],
        permits(A, 10 * DAY),
        None,
        ("deny", "frequency_limit", 1),
    ),
    ("no record: after 30 days a new permit", [], permits(A, 30 * DAY), None, ("allow", "no_record", 1)),
    ("no record: another agency's permit does not count", [], permits(B, HOUR), None, ("allow", "no_record", 1)),
    ("refusal of everyone denies", [rule("refuse")], [], None, ("deny", "refused", None)),
    ("refusal of another agency does not apply", [rule("refuse", B)], [], None, ("allow", "no_record", 1)),
    ("consent for A allows", [CONSENT_A], [], None, ("allow", "consent", 1)),
    (
        "consent: the 7th permit in 7 days",
        [CONSENT_A],
        permits(A, 2 * DAY, 3 * DAY, 4 * DAY, 5 * DAY, 6 * DAY, 6 * DAY),
        None,
        ("allow", "consent", 7),
    ),
    ("consent: no 8th permit in 7 days", [CONSENT_A], permits(A, *[2 * DAY] * 7), None, ("deny", "frequency_limit", 7)),
    (
        "3 permits a day across agencies",
        [CONSENT_A],
        permits(B, HOUR, 2 * HOUR, 3 * HOUR),
        None,
        ("deny", "frequency_limit", 3),
    ),
    ("a specific consent beats a general refusal", [rule("refuse"), CONSENT_A], [], None, ("allow", "consent", 1)),
    ("a tie goes to the refusal", [rule("refuse", A), CONSENT_A], [], None, ("deny", "refused", None)),
    (
        "borrower consent needs the borrower",
        [rule("refuse"), rule("consent", A, BORROWER, expires_at=NOW + DAY)],
        [],
        None,
        ("deny", "refused", None),
    ),
    (
        "borrower consent with the borrower",
        [rule("refuse"), rule("consent", A, BORROWER, expires_at=NOW + DAY)],
        [],
        BORROWER,
        ("allow", "consent", 1),
    ),
    (
        "another borrower's consent does not apply",
        [rule("refuse"), rule("consent", None, BORROWER, expires_at=NOW + DAY)],
        [],
        OTHER_BORROWER,
        ("deny", "refused", None),
    ),
    (
        "an expired consent is no record",
        [rule("consent", A, expires_at=NOW - HOUR)],
        [],
        None,
        ("allow", "no_record", 1),
    ),
    (
        "a withdrawn refusal is no record",
        [rule("refuse", withdrawn_at=NOW - HOUR)],
        [],
        None,
        ("allow", "no_record", 1),
    ),
]


@pytest.mark.parametrize(
    ("case", "rules", "issued", "borrower", "expected"), WORKED_CASES, ids=[c[0] for c in WORKED_CASES]
)
def test_worked_cases(
    case: str, rules: list[Rule], issued: list[Permit], borrower: bytes | None, expected: tuple[str, str, int | None]
) -> None:
    answer = decide(rules, issued, borrower=borrower)
    used = answer.limit.used if answer.limit else None
    assert (answer.decision, answer.reason, used) == expected, case


def test_a_permit_lasts_24_hours_or_until_its_consent_ends() -> None:
    assert decide([]).valid_until == NOW + 24 * HOUR
    short = rule("consent", A, expires_at=NOW + 2 * HOUR)
    answer = decide([short])
    assert (answer.valid_until, answer.rule_id) == (NOW + 2 * HOUR, short.id)
    assert decide([rule("refuse")]).valid_until is None


def test_suspended_agency_gets_no_decision() -> None:
    with pytest.raises(Suspended):
        policy.decide(
            agency_id=A, agency_status="suspended", borrower_key=None, rules=[], permits=[], at=NOW, limits=LIMITS
        )


def test_every_figure_is_a_setting() -> None:
    generous = Limits(no_record_permits=2, contact_daily_permits=5)
    answer = policy.decide(agency_id=A, borrower_key=None, rules=[], permits=permits(A, HOUR), at=NOW, limits=generous)
    assert (answer.decision, answer.limit) == ("allow", Limit(permits=2, window_days=30, used=2))


# --- properties -------------------------------------------------------------------------------

agencies = st.sampled_from([None, A, B])
borrowers = st.sampled_from([None, BORROWER, OTHER_BORROWER])
offsets = st.integers(min_value=-40 * 24, max_value=40 * 24).map(lambda h: NOW + timedelta(hours=h))


@st.composite
def rules_st(draw: st.DrawFn) -> Rule:
    kind: RuleKind = "consent" if draw(st.booleans()) else "refuse"
    expires = draw(offsets) if kind == "consent" else draw(st.none() | offsets)
    return Rule(
        id=UUID(int=draw(st.integers(min_value=1, max_value=2**64))),
        kind=kind,
        agency_id=draw(agencies),
        borrower_key=draw(borrowers),
        expires_at=expires,
        withdrawn_at=draw(st.none() | offsets),
    )


permits_st = st.lists(
    st.builds(
        Permit,
        agency_id=st.sampled_from([A, B]),
        issued_at=st.integers(min_value=0, max_value=40 * 24 * 60).map(lambda m: NOW - timedelta(minutes=m)),
    ),
    max_size=12,
)
rule_lists = st.lists(rules_st(), max_size=6)


def active_matching(rules: list[Rule], borrower: bytes | None) -> list[Rule]:
    return [r for r in rules if policy.matches(r, A, borrower, NOW)]


@given(rule_lists, permits_st, st.sampled_from([None, A]), st.sampled_from([None, BORROWER]))
def test_refusal_always_wins_a_tie(
    rules: list[Rule], issued: list[Permit], agency: UUID | None, borrower: bytes | None
) -> None:
    # A refusal and a consent of the same scope, at least as specific as every other matching rule.
    pair = [rule("refuse", agency, borrower), rule("consent", agency, borrower, expires_at=NOW + DAY)]
    top = pair[0].specificity
    others = [r for r in rules if r.specificity <= top]
    assert decide([*others, *pair], issued, borrower=borrower).reason == "refused"
    assert decide([*pair[::-1], *others], issued, borrower=borrower).reason == "refused"


@given(rule_lists, permits_st, borrowers, st.sampled_from(["refuse", "consent"]))
def test_a_more_specific_rule_wins(
    rules: list[Rule], issued: list[Permit], borrower: bytes | None, kind: RuleKind
) -> None:
    # A rule naming this agency and this borrower is more specific than anything else that can match.
    if borrower is None:
        return
    specific = rule(kind, A, borrower, expires_at=NOW + DAY)
    others = [r for r in rules if r.specificity < 2]
    answer = decide([*others, specific], issued, borrower=borrower)
    if kind == "refuse":
        assert answer.reason == "refused"
    else:
        assert answer.reason in ("consent", "frequency_limit") and answer.rule_id == specific.id


@given(rule_lists, permits_st, borrowers, rules_st())
def test_an_expired_or_withdrawn_rule_never_matches(
    rules: list[Rule], issued: list[Permit], borrower: bytes | None, extra: Rule
) -> None:
    if policy.is_active(extra, NOW):
        return
    assert not policy.matches(extra, A, borrower, NOW)
    assert decide([*rules, extra], issued, borrower=borrower) == decide(rules, issued, borrower=borrower)


@given(rule_lists, permits_st, borrowers, st.randoms(use_true_random=False))
def test_the_order_of_rules_and_permits_does_not_matter(
    rules: list[Rule], issued: list[Permit], borrower: bytes | None, rnd: random.Random
) -> None:
    shuffled_rules, shuffled_permits = rules[:], issued[:]
    rnd.shuffle(shuffled_rules)
    rnd.shuffle(shuffled_permits)
    assert decide(shuffled_rules, shuffled_permits, borrower=borrower) == decide(rules, issued, borrower=borrower)


@settings(max_examples=200)
@given(
    rule_lists,
    st.lists(
        st.tuples(st.sampled_from([A, B]), borrowers, st.integers(min_value=0, max_value=20 * 24 * 60)), max_size=40
    ),
)
def test_limits_hold_for_any_sequence_of_checks(
    rules: list[Rule], requests: list[tuple[UUID, bytes | None, int]]
) -> None:
    """Replay checks in time order, issuing a permit on every allow: no window ever holds more than its limit."""
    start = NOW - 20 * DAY
    issued: list[Permit] = []
    for agency, borrower, minute in sorted(requests, key=lambda r: r[2]):
        at = start + timedelta(minutes=minute)
        answer = policy.decide(
            agency_id=agency, borrower_key=borrower, rules=rules, permits=issued, at=at, limits=LIMITS
        )
        if answer.decision == "allow":
            issued.append(Permit(agency_id=agency, issued_at=at))
            in_day = [p for p in issued if at - DAY < p.issued_at <= at]
            assert len(in_day) <= LIMITS.contact_daily_permits
            assert answer.limit is not None
            window = timedelta(days=answer.limit.window_days)
            mine = [p for p in issued if p.agency_id == agency and at - window < p.issued_at <= at]
            assert len(mine) == answer.limit.used <= answer.limit.permits
            if answer.reason == "no_record":
                assert len(mine) <= LIMITS.no_record_permits
