"""The contact API's bodies: codes, sessions, rules with their receipts, and `me`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

RuleKind = Literal["refuse", "consent"]
RuleState = Literal["active", "expired", "withdrawn"]
ReceiptAction = Literal["rule_added", "rule_withdrawn"]


class CodeRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    phone: str


class CodeSent(msgspec.Struct, kw_only=True, frozen=True):
    """The same for every valid number, registered or not, so it tells nobody who is registered."""

    status: Literal["sent"] = "sent"
    expires_in: int
    detail: str = "if the number can receive SMS, a 6-digit code is on its way"


class SessionRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    phone: str
    code: str


class SessionToken(msgspec.Struct, kw_only=True, frozen=True):
    token: str
    expires_at: datetime


class ContactSession(msgspec.Struct, kw_only=True, frozen=True):
    """Who is signed in: the session and the phone key it was issued for (never the number)."""

    id: UUID
    phone_key: bytes
    phone_hint: str
    expires_at: datetime

    @property
    def actor(self) -> str:
        # Audit rows name a contact by a prefix of the phone key, never by the number.
        return f"contact:{self.phone_key.hex()[:16]}"


class RuleRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    kind: RuleKind
    agency_id: UUID | None = None
    borrower_phone: str | None = None
    expires_at: datetime | None = None


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


class Receipt(msgspec.Struct, kw_only=True, frozen=True):
    id: UUID
    issued_at: datetime
    action: ReceiptAction
    text: str  # what was recorded, in plain words (the request's language)
    rule: Rule
    rules_in_force: list[Rule]


class RuleChange(msgspec.Struct, kw_only=True, frozen=True):
    rule: Rule
    receipt: Receipt


class RecentCheck(msgspec.Struct, kw_only=True, frozen=True):
    agency: str
    agency_id: UUID
    checked_at: datetime
    decision: Literal["allow", "deny"]
    reason: str


class DisputeSummary(msgspec.Struct, kw_only=True, frozen=True):
    ref: str
    status: str
    created_at: datetime


class Me(msgspec.Struct, kw_only=True, frozen=True):
    phone: str  # masked
    rules: list[Rule]
    recent_checks: list[RecentCheck]
    disputes: list[DisputeSummary]
