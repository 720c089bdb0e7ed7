"""The decision (docs/design.md, "The decision"): rules and permits in, a Decision out. No I/O.

This is the rule's one reference text. The check statement in sql/0002_checks.sql
computes the same answer inside PostgreSQL (one round trip per check); the tests
run both on the same random cases and require them to agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from registry.domain import Answer, Limit, Reason, RuleKind
from registry.errors import Suspended
from registry.settings import Limits, NoticeFigures


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """A contact's refusal or consent; None in a scope field means "any"."""

    id: UUID
    kind: RuleKind
    agency_id: UUID | None = None
    borrower_key: bytes | None = None
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None

    @property
    def specificity(self) -> int:
        return (self.agency_id is not None) + (self.borrower_key is not None)


class Permit(msgspec.Struct, frozen=True, kw_only=True):
    """A permit already issued to some agency for this contact (revoked or used ones count too)."""

    agency_id: UUID
    issued_at: datetime


class AskFirst(msgspec.Struct, frozen=True, kw_only=True):
    """What the notice step (ask first) needs to know about the contact and the agency at `at`.

    `notices`: when the contact's notices were made (by any agency's check); `agency_notices`:
    when this agency's notices were made (for its budget over the last 24 hours); `reachable`:
    whether the number can receive our SMS (a mobile of REGISTRY_SMS_REGIONS).
    """

    notices: Sequence[datetime] = ()
    agency_notices: Sequence[datetime] = ()
    reachable: bool = True
    figures: NoticeFigures = NoticeFigures()


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    decision: Answer
    reason: Reason
    rule_id: UUID | None = None
    valid_until: datetime | None = None
    limit: Limit | None = None
    # notice_pending: when the hold ends and the v1 rule answers again.
    available_at: datetime | None = None
    # This answer sends the contact a notice.
    notice: bool = False


def is_active(rule: Rule, at: datetime) -> bool:
    """Not withdrawn and not expired at `at`."""
    withdrawn = rule.withdrawn_at is not None and rule.withdrawn_at <= at
    expired = rule.expires_at is not None and rule.expires_at <= at
    return not withdrawn and not expired


def matches(rule: Rule, agency_id: UUID, borrower_key: bytes | None, at: datetime) -> bool:
    """Step 2: active, agency null or A, borrower null or B (without B only borrower-null rules)."""
    return (
        is_active(rule, at)
        and (rule.agency_id is None or rule.agency_id == agency_id)
        and (rule.borrower_key is None or rule.borrower_key == borrower_key)
    )


def winning_rule(rules: Iterable[Rule], agency_id: UUID, borrower_key: bytes | None, at: datetime) -> Rule | None:
    """Step 4: the most specific matching rule; on a tie a refusal wins (then the lowest id, for determinism)."""
    candidates = [rule for rule in rules if matches(rule, agency_id, borrower_key, at)]
    if not candidates:
        return None
    return min(candidates, key=lambda r: (-r.specificity, r.kind != "refuse", r.id))


def ask_first(rules: Sequence[Rule], ask: AskFirst, at: datetime) -> Decision | None:
    """The notice step, before step 3 (docs/design.md, "Ask first").

    It applies to a contact we can text with no rule in force at all. A notice in the last
    `min_days` days holds every agency's checks for `hours` after it (notice_pending, with
    `available_at`); after that hold, None: the v1 rule answers. Without such a notice this check
    sends one: notice_pending, held `hours` from now, unless this agency has caused its budget of
    notices in the last 24 hours (notice_budget, nothing sent). With `hours` = 0 the notice is
    sent and there is no hold: the v1 rule answers, its Decision marked `notice=True`.
    """
    if not ask.reachable or any(is_active(rule, at) for rule in rules):
        return None
    figures = ask.figures
    hold = timedelta(hours=figures.hours)
    recent = [n for n in ask.notices if at - timedelta(days=figures.min_days) < n <= at]
    if recent:
        until = max(recent) + hold
        return Decision(decision="deny", reason="notice_pending", available_at=until) if at < until else None
    budget_used = sum(1 for n in ask.agency_notices if at - timedelta(days=1) < n <= at)
    if budget_used >= figures.daily_per_agency:
        return Decision(decision="deny", reason="notice_budget")
    return Decision(decision="deny", reason="notice_pending", available_at=at + hold, notice=True)


def decide(
    *,
    agency_id: UUID,
    agency_status: str = "active",
    borrower_key: bytes | None,
    rules: Sequence[Rule],
    permits: Sequence[Permit],
    at: datetime,
    limits: Limits,
    ask: AskFirst | None = None,
) -> Decision:
    """The answer agency A gets for this contact (and optional borrower) at time `at`.

    `ask` is the notice step's input; without it the rule is v1's (no notice step), which is
    what `contradicts` and the v1 properties use.
    """
    if agency_status != "active":
        raise Suspended("this agency is suspended; checks are refused until it is reinstated")
    noticed = False
    if ask is not None:
        asked = ask_first(rules, ask, at)
        if asked is not None and not (asked.notice and ask.figures.hours == 0):
            return asked
        noticed = asked is not None  # a notice with no hold: sent, and the v1 rule answers
    rule = winning_rule(rules, agency_id, borrower_key, at)
    if rule is not None and rule.kind == "refuse":
        return Decision(decision="deny", reason="refused", rule_id=rule.id)
    reason: Reason = "consent" if rule is not None else "no_record"
    if rule is not None:
        allowed, window_days = limits.consent_permits, limits.consent_window_days
    else:
        allowed, window_days = limits.no_record_permits, limits.no_record_window_days
    rule_id = rule.id if rule is not None else None

    # A permit issued exactly one window ago has left the window (half-open (at - window, at]).
    window_start = at - timedelta(days=window_days)
    used = sum(1 for p in permits if p.agency_id == agency_id and window_start < p.issued_at <= at)
    if used >= allowed:
        return Decision(
            decision="deny",
            reason="frequency_limit",
            rule_id=rule_id,
            limit=Limit(permits=allowed, window_days=window_days, used=used),
            notice=noticed,
        )
    day_start = at - timedelta(days=1)
    today = sum(1 for p in permits if day_start < p.issued_at <= at)
    if today >= limits.contact_daily_permits:
        return Decision(
            decision="deny",
            reason="frequency_limit",
            rule_id=rule_id,
            limit=Limit(permits=limits.contact_daily_permits, window_days=1, used=today),
            notice=noticed,
        )
    valid_until = at + timedelta(hours=limits.permit_hours)
    if rule is not None and rule.expires_at is not None:
        valid_until = min(valid_until, rule.expires_at)
    return Decision(
        decision="allow",
        reason=reason,
        rule_id=rule_id,
        valid_until=valid_until,
        limit=Limit(permits=allowed, window_days=window_days, used=used + 1),
        notice=noticed,
    )


def covers(refusal: Rule, consent: Rule) -> bool:
    """The latest action wins: a refusal covers a consent whose whole scope lies inside its own
    (any agency, or the same one; any borrower, or the same one). Recording the refusal withdraws
    each consent it covers; a consent given after a refusal is an exception to it, and a partial
    overlap is settled by step 4 (on a tie the refusal wins).
    """
    return (
        refusal.kind == "refuse"
        and consent.kind == "consent"
        and (refusal.agency_id is None or refusal.agency_id == consent.agency_id)
        and (refusal.borrower_key is None or refusal.borrower_key == consent.borrower_key)
    )


def record(rules: Sequence[Rule], new: Rule, at: datetime) -> list[Rule]:
    """The contact's rules after recording `new` at `at`: a refusal withdraws the active consents it covers."""
    after = [
        msgspec.structs.replace(rule, withdrawn_at=at) if covers(new, rule) and is_active(rule, at) else rule
        for rule in rules
    ]
    return [*after, new]


def contradicts(
    rules: Sequence[Rule], agency_id: UUID, borrower_key: bytes | None, permit_rule_id: UUID | None, at: datetime
) -> bool:
    """A permit is contradicted when a refusal now wins for it, or the consent it rested on is no longer active.

    Limits play no part: a permit is never revoked for frequency, only for what the contact said.
    """
    rule = winning_rule(rules, agency_id, borrower_key, at)
    if rule is not None and rule.kind == "refuse":
        return True
    if permit_rule_id is None:
        return False
    return not any(r.id == permit_rule_id and is_active(r, at) for r in rules)
