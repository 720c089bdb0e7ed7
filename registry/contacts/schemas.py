"""The contact API's bodies: codes, sessions, rules with their receipts, and `me`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

from registry.complaints import DisputeSummary
from registry.domain import Answer, Reason, RuleKind, RuleState
from registry.notices import NoticeSent

ReceiptAction = Literal["rule_added", "rule_withdrawn"]
# Where a change was made: a signed-in session, a notice's link, an SMS reply.
Via = Literal["session", "link", "sms"]


class CodeRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    phone: str


class CodeSent(msgspec.Struct, kw_only=True, frozen=True):
    """The same for every valid number, registered or not, so it tells nobody who is registered."""

    status: Literal["sent"] = "sent"
    expires_in: int
    detail: str = "if the number can receive SMS, a 6-digit code is on its way"


class ContactSessionRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    phone: str
    code: str


class RuleRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    kind: RuleKind
    agency_id: UUID | None = None
    borrower_phone: str | None = None
    expires_at: datetime | None = None
    # A consent for one call: it ends with the first permit issued under it (sql/0042_once_consent.sql).
    once: bool = False


class Rule(msgspec.Struct, kw_only=True, frozen=True):
    id: UUID
    kind: RuleKind
    agency_id: UUID | None = None
    agency_name: str | None = None
    borrower: str | None = None  # the masked hint of the borrower's number
    created_at: datetime
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None
    state: RuleState
    once: bool = False


class StoredReceipt(msgspec.Struct, kw_only=True, frozen=True):
    """What a receipt keeps: the change, the consents a refusal withdrew with it, and the rules in force
    right after it."""

    id: UUID
    issued_at: datetime
    action: ReceiptAction
    rule: Rule
    rules_in_force: list[Rule]
    withdrawn: list[Rule] = msgspec.field(default_factory=list)
    via: Via = "session"


class Receipt(StoredReceipt, kw_only=True, frozen=True):
    text: str  # what was recorded, in plain words of the reader's language


class Recorded(msgspec.Struct, kw_only=True, frozen=True):
    """A rule change as the transaction wrote it (no words yet)."""

    rule: Rule
    receipt: StoredReceipt


class RuleChange(msgspec.Struct, kw_only=True, frozen=True):
    rule: Rule
    receipt: Receipt


class RecentCheck(msgspec.Struct, kw_only=True, frozen=True):
    agency: str
    agency_id: UUID
    checked_at: datetime
    decision: Answer
    reason: Reason


class Me(msgspec.Struct, kw_only=True, frozen=True):
    phone: str  # masked
    rules: list[Rule]
    recent_checks: list[RecentCheck]
    disputes: list[DisputeSummary]
    # The notices the registry sent before a first call: which agency's check, when (last 90 days).
    notices: list[NoticeSent] = msgspec.field(default_factory=list)
