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
from registry.settings import Limits


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


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    decision: Answer
    reason: Reason
    rule_id: UUID | None = None
    valid_until: datetime | None = None
    limit: Limit | None = None


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


def decide(
    *,
    agency_id: UUID,
    agency_status: str = "active",
    borrower_key: bytes | None,
    rules: Sequence[Rule],
    permits: Sequence[Permit],
    at: datetime,
    limits: Limits,
) -> Decision:
    """The answer agency A gets for this contact (and optional borrower) at time `at`."""
    if agency_status != "active":
        raise Suspended("this agency is suspended; checks are refused until it is reinstated")
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
        )
    day_start = at - timedelta(days=1)
    today = sum(1 for p in permits if day_start < p.issued_at <= at)
    if today >= limits.contact_daily_permits:
        return Decision(
            decision="deny",
            reason="frequency_limit",
            rule_id=rule_id,
            limit=Limit(permits=limits.contact_daily_permits, window_days=1, used=today),
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
    )


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
