"""The domain's words as types, defined once: the decision rule, the schemas and the pages use these."""

from __future__ import annotations

from typing import Literal

import msgspec

RuleKind = Literal["refuse", "consent"]
RuleState = Literal["active", "expired", "withdrawn"]
Answer = Literal["allow", "deny"]
# notice_pending: the contact has just been (or is being) asked first, see `available_at`;
# notice_budget: she would have to be asked, but this agency has caused its notices for the day.
Reason = Literal["no_record", "consent", "refused", "frequency_limit", "notice_pending", "notice_budget"]
Channel = Literal["call", "sms", "visit"]
Violation = Literal["no_permit", "permit_denied", "permit_expired", "permit_revoked", "permit_used"]
RevokeReason = Literal["refused", "consent_withdrawn", "erased"]


class Limit(msgspec.Struct, frozen=True, kw_only=True):
    """The limit that applied: `used` counts the permits in the window, this one included if allowed."""

    permits: int
    window_days: int
    used: int
