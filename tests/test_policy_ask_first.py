"""Ask first and the latest action wins, in the pure decision rule: worked cases, then properties."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from registry import policy
from registry.domain import RuleKind
from registry.policy import AskFirst, Decision, Permit, Rule
from registry.settings import Limits, NoticeFigures

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
LIMITS = Limits()
A = UUID(int=0xA)
B = UUID(int=0xB)
BORROWER = b"borrower-1"


def rule(kind: RuleKind, agency: UUID | None = None, borrower: bytes | None = None, **times: datetime | None) -> Rule:
    return Rule(id=uuid.uuid4(), kind=kind, agency_id=agency, borrower_key=borrower, **times)


def decide(
    rules: list[Rule] | None = None,
    *,
    notices: list[datetime] | None = None,
    agency_notices: list[datetime] | None = None,
    reachable: bool = True,
    figures: NoticeFigures | None = None,
    permits: list[Permit] | None = None,
    at: datetime = NOW,
) -> Decision:
    ask = AskFirst(
        notices=notices or [],
        agency_notices=agency_notices or [],
        reachable=reachable,
        figures=figures or NoticeFigures(),
    )
    return policy.decide(
        agency_id=A, borrower_key=None, rules=rules or [], permits=permits or [], at=at, limits=LIMITS, ask=ask
    )


def test_a_contact_nobody_asked_gets_a_notice_and_the_check_waits_24_hours() -> None:
    answer = decide()
    assert (answer.decision, answer.reason, answer.notice) == ("deny", "notice_pending", True)
    assert answer.available_at == NOW + 24 * HOUR
    assert answer.valid_until is None and answer.limit is None


def test_during_the_hold_every_agency_waits_and_no_second_notice_goes_out() -> None:
    answer = decide(notices=[NOW - 3 * HOUR])
    assert (answer.reason, answer.notice, answer.available_at) == ("notice_pending", False, NOW + 21 * HOUR)


def test_after_the_hold_the_v1_rule_answers() -> None:
    answer = decide(notices=[NOW - 25 * HOUR])
    assert (answer.decision, answer.reason, answer.notice) == ("allow", "no_record", False)


def test_a_month_later_the_contact_is_asked_again() -> None:
    assert decide(notices=[NOW - 31 * DAY]).notice
    assert not decide(notices=[NOW - 29 * DAY]).notice


def test_any_rule_in_force_means_she_knows_the_registry() -> None:
    # A refusal of another agency matches nothing for A, but she has been here: no notice.
    answer = decide([rule("refuse", B)])
    assert (answer.decision, answer.reason, answer.notice) == ("allow", "no_record", False)
    # A withdrawn rule is not in force.
    assert decide([rule("refuse", withdrawn_at=NOW - HOUR)]).reason == "notice_pending"


def test_a_number_we_cannot_text_gets_no_notice() -> None:
    answer = decide(reachable=False)
    assert (answer.decision, answer.reason, answer.notice) == ("allow", "no_record", False)


def test_the_budget_stops_notices_and_the_check_says_so() -> None:
    figures = NoticeFigures(daily_per_agency=2)
    spent = [NOW - HOUR, NOW - 2 * HOUR]
    answer = decide(agency_notices=spent, figures=figures)
    assert (answer.decision, answer.reason, answer.notice, answer.available_at) == (
        "deny",
        "notice_budget",
        False,
        None,
    )
    # The budget is a rolling 24 hours.
    assert decide(agency_notices=[NOW - DAY, NOW - 2 * DAY], figures=figures).notice
    # A contact already asked is held, budget or not.
    assert decide(notices=[NOW - HOUR], agency_notices=spent, figures=figures).reason == "notice_pending"


def test_no_hold_keeps_the_notice_and_answers_by_the_v1_rule() -> None:
    figures = NoticeFigures(hours=0)
    answer = decide(figures=figures)
    assert (answer.decision, answer.reason, answer.notice) == ("allow", "no_record", True)
    limited = decide(figures=figures, permits=[Permit(agency_id=A, issued_at=NOW - DAY)])
    assert (limited.reason, limited.notice) == ("frequency_limit", True)
    assert not decide(notices=[NOW - HOUR], figures=figures).notice


# ---- the latest action wins -------------------------------------------------------------------------


def test_refusing_all_withdraws_every_consent() -> None:
    consent_a = rule("consent", A, expires_at=NOW + 30 * DAY)
    consent_borrower = rule("consent", None, BORROWER, expires_at=NOW + 30 * DAY)
    after = policy.record([consent_a, consent_borrower], rule("refuse"), NOW)
    assert [r.withdrawn_at for r in after[:2]] == [NOW, NOW]
    answer = policy.decide(agency_id=A, borrower_key=BORROWER, rules=after, permits=[], at=NOW, limits=LIMITS)
    assert answer.reason == "refused"


def test_refusing_one_agency_withdraws_only_its_consents() -> None:
    consent_a = rule("consent", A, expires_at=NOW + 30 * DAY)
    consent_b = rule("consent", B, expires_at=NOW + 30 * DAY)
    consent_borrower = rule("consent", None, BORROWER, expires_at=NOW + 30 * DAY)
    after = policy.record([consent_a, consent_b, consent_borrower], rule("refuse", A), NOW)
    assert [r.withdrawn_at is not None for r in after[:3]] == [True, False, False]


def test_a_consent_after_a_refusal_is_an_exception_to_it() -> None:
    after = policy.record(policy.record([], rule("refuse"), NOW - DAY), rule("consent", A, expires_at=NOW + DAY), NOW)
    assert policy.decide(agency_id=A, borrower_key=None, rules=after, permits=[], at=NOW, limits=LIMITS).reason == (
        "consent"
    )
    assert policy.decide(agency_id=B, borrower_key=None, rules=after, permits=[], at=NOW, limits=LIMITS).reason == (
        "refused"
    )


# ---- properties -------------------------------------------------------------------------------------

hours_ago = st.integers(min_value=0, max_value=40 * 24).map(lambda h: NOW - timedelta(hours=h))


@given(
    st.lists(hours_ago, max_size=4),
    st.lists(hours_ago, max_size=6),
    st.integers(min_value=0, max_value=48),
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=0, max_value=6),
)
def test_the_notice_step_never_allows_during_a_hold_and_never_notifies_twice(
    notices: list[datetime], agency_notices: list[datetime], hours: int, min_days: int, budget: int
) -> None:
    figures = NoticeFigures(hours=hours, min_days=min_days, daily_per_agency=budget)
    answer = decide(notices=notices, agency_notices=agency_notices, figures=figures)
    recent = [n for n in notices if NOW - timedelta(days=min_days) < n <= NOW]
    held = [n for n in recent if n + timedelta(hours=hours) > NOW]
    if held:
        assert (answer.reason, answer.notice) == ("notice_pending", False)
        assert answer.available_at == max(recent) + timedelta(hours=hours)
    if recent:
        assert not answer.notice
    if answer.notice:
        spent = sum(1 for n in agency_notices if NOW - DAY < n <= NOW)
        assert spent < budget
    if answer.reason == "notice_budget":
        assert not recent and answer.decision == "deny"


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from([A, B]), st.integers(min_value=0, max_value=60 * 24 * 60)), max_size=30))
def test_a_contact_gets_at_most_one_notice_a_month_however_many_agencies_check(
    checks: list[tuple[UUID, int]],
) -> None:
    """Replay checks by two agencies in time order: notices are min_days apart, and no allow comes in a hold."""
    start = NOW - 60 * DAY
    notices: list[datetime] = []
    permits: list[Permit] = []
    figures = NoticeFigures()
    for agency, minute in sorted(checks, key=lambda c: c[1]):
        at = start + timedelta(minutes=minute)
        ask = AskFirst(notices=notices, agency_notices=[], figures=figures)
        answer = policy.decide(
            agency_id=agency, borrower_key=None, rules=[], permits=permits, at=at, limits=LIMITS, ask=ask
        )
        if answer.notice:
            assert all(at - n >= timedelta(days=figures.min_days) for n in notices)
            notices.append(at)
        if answer.decision == "allow":
            assert notices and at >= max(notices) + timedelta(hours=figures.hours)
            permits.append(Permit(agency_id=agency, issued_at=at))


@given(
    st.sampled_from([None, A]),
    st.sampled_from([None, BORROWER]),
    st.sampled_from([None, A, B]),
    st.sampled_from([None, BORROWER, b"other"]),
)
def test_a_refusal_covers_a_consent_exactly_when_its_scope_contains_it(
    refuse_agency: UUID | None, refuse_borrower: bytes | None, agency: UUID | None, borrower: bytes | None
) -> None:
    refusal = rule("refuse", refuse_agency, refuse_borrower)
    consent = rule("consent", agency, borrower, expires_at=NOW + DAY)
    after = policy.record([consent], refusal, NOW)
    covered = policy.covers(refusal, consent)
    assert (after[0].withdrawn_at is not None) == covered
    # Wherever the refusal's scope reaches, the refusal now decides: for every agency and borrower it covers.
    for check_agency in (A, B):
        for check_borrower in (None, BORROWER, b"other"):
            in_scope = refuse_agency in (None, check_agency) and refuse_borrower in (None, check_borrower)
            answer = policy.decide(
                agency_id=check_agency, borrower_key=check_borrower, rules=after, permits=[], at=NOW, limits=LIMITS
            )
            if in_scope:
                assert answer.reason == "refused", (refusal, consent, check_agency, check_borrower)
