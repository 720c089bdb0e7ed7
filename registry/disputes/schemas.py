"""Disputes at every boundary: what a contact files, what an agency and a reviewer see, the evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

Category = Literal[
    "called_after_refusal",
    "too_frequent",
    "impersonation",
    "threats",
    "disclosed_debt",
    "abusive_language",
    "contacted_family",
    "other",
]
Status = Literal["open", "awaiting_agency", "under_review", "upheld", "dismissed", "withdrawn"]
STATUSES: tuple[str, ...] = Status.__args__  # type: ignore[attr-defined]
# A dispute in one of these is still waiting for someone; the others are closed.
PENDING = ("open", "awaiting_agency", "under_review")
Outcome = Literal["upheld", "dismissed"]
Sanction = Literal["none", "warning", "suspend"]

DESCRIPTION_MAX = 4000
NOTE_MAX = 4000


class DisputeRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    agency_id: UUID | None = None
    caller_name: Annotated[str, Meta(max_length=200)] | None = None
    caller_numbers: Annotated[list[str], Meta(max_length=10)] | None = None
    categories: Annotated[list[Category], Meta(min_length=1, max_length=8)]
    occurred_at: Annotated[datetime, Meta(tz=True)]
    call_count: Annotated[int, Meta(ge=0, le=10_000)] | None = None
    description: Annotated[str, Meta(min_length=1, max_length=DESCRIPTION_MAX)]


class ResponseRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    text: Annotated[str, Meta(min_length=1, max_length=DESCRIPTION_MAX)]


class DecisionRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    outcome: Outcome
    note: Annotated[str, Meta(min_length=1, max_length=NOTE_MAX)]
    sanction: Sanction = "none"


class DisputeRow(msgspec.Struct, frozen=True, kw_only=True):
    """One dispute as stored (the contact as phone key and masked hint only), with its deadline flags.

    Its fields are named as the views name them; each view is this row converted (records.as_view).
    """

    id: UUID
    ref: str
    phone_key: bytes
    phone: str  # the masked hint
    agency_id: UUID | None
    agency_name: str | None
    agency_status: str | None
    caller_name: str | None
    caller_numbers: list[str]  # masked hints
    categories: list[str]
    occurred_at: datetime
    call_count: int | None
    description: str
    status: Status
    created_at: datetime
    agency_due_at: datetime
    decision_due_at: datetime
    agency_responded_at: datetime | None
    decided_at: datetime | None
    outcome: str | None
    sanction: str | None
    decision_note: str | None
    decided_by: str | None  # the reviewer's username
    agency_overdue: bool
    decision_overdue: bool
    overdue: bool
    attachment_count: int


class Filed(msgspec.Struct, frozen=True, kw_only=True):
    ref: str
    status: str
    created_at: datetime
    agency_due_at: datetime
    decision_due_at: datetime


class DecidedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The data of a `dispute.decided` webhook: which complaint, and what came of it."""

    ref: str
    outcome: str
    sanction: str


class Event(msgspec.Struct, frozen=True, kw_only=True):
    at: datetime
    actor: str
    kind: str
    text: str | None = None
    visible_to_contact: bool = True


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


class ContactDispute(msgspec.Struct, frozen=True, kw_only=True):
    """What the contact who filed it sees."""

    ref: str
    status: str
    agency_id: UUID | None
    agency_name: str | None
    caller_name: str | None
    caller_numbers: list[str]
    categories: list[str]
    occurred_at: datetime
    call_count: int | None
    description: str
    created_at: datetime
    decision_due_at: datetime
    outcome: str | None
    decided_at: datetime | None
    decision_note: str | None
    timeline: list[Event]
    attachments: list[Attachment]


class AgencyDispute(msgspec.Struct, frozen=True, kw_only=True):
    """What the agency complained about sees: the contact only as a masked hint."""

    ref: str
    status: str
    phone: str
    caller_name: str | None
    caller_numbers: list[str]
    categories: list[str]
    occurred_at: datetime
    call_count: int | None
    description: str
    created_at: datetime
    agency_due_at: datetime
    decision_due_at: datetime
    overdue: bool
    agency_responded_at: datetime | None
    outcome: str | None
    sanction: str | None
    decision_note: str | None
    decided_at: datetime | None
    attachment_count: int
    timeline: list[Event]


class QueueItem(msgspec.Struct, frozen=True, kw_only=True):
    ref: str
    status: str
    phone: str
    agency_id: UUID | None
    agency_name: str | None
    caller_name: str | None
    categories: list[str]
    occurred_at: datetime
    created_at: datetime
    agency_due_at: datetime
    decision_due_at: datetime
    overdue: bool
    agency_overdue: bool
    decision_overdue: bool


class EvidenceCheck(msgspec.Struct, frozen=True, kw_only=True):
    check_id: UUID
    agency_id: UUID
    agency_name: str | None
    checked_at: datetime
    decision: str
    reason: str
    valid_until: datetime | None
    borrower: bool


class EvidencePermit(msgspec.Struct, frozen=True, kw_only=True):
    check_id: UUID
    agency_id: UUID
    agency_name: str | None
    issued_at: datetime
    valid_until: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    used_at: datetime | None


class EvidenceAttempt(msgspec.Struct, frozen=True, kw_only=True):
    attempt_id: UUID
    agency_id: UUID
    agency_name: str | None
    check_id: UUID | None
    occurred_at: datetime
    reported_at: datetime
    channel: str
    outcome: str | None
    compliant: bool
    violation: str | None


class EvidenceRule(msgspec.Struct, frozen=True, kw_only=True):
    rule_id: UUID
    kind: str
    agency_id: UUID | None
    agency_name: str | None
    borrower_hint: str | None
    created_at: datetime
    expires_at: datetime | None
    withdrawn_at: datetime | None
    in_force_at_incident: bool


class EvidenceNotice(msgspec.Struct, frozen=True, kw_only=True):
    """A notice the registry sent the contact before a first call, and what became of its SMS and link."""

    notice_id: UUID
    agency_id: UUID
    agency_name: str | None
    asked_at: datetime
    check_id: UUID
    status: str  # queued | sent | failed
    attempts: int
    sent_at: datetime | None
    failed_at: datetime | None
    link_used_at: datetime | None
    link_action: str | None


class EvidenceSummary(msgspec.Struct, frozen=True, kw_only=True):
    checks: int
    denied_checks: int
    permits: int
    attempts: int
    non_compliant_attempts: int
    refusal_in_force_at_incident: bool
    calls_claimed: int | None
    rules: int = 0
    # True when a list holds fewer rows than the window (rows_per_list of each kind, those nearest the incident).
    truncated: bool = False
    rows_per_list: int = 1000


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    """Assembled from the logs, never typed in: checks, permits, attempts, and the rule history."""

    window_from: datetime
    scope: str
    summary: EvidenceSummary
    checks: list[EvidenceCheck]
    permits: list[EvidencePermit]
    attempts: list[EvidenceAttempt]
    rules: list[EvidenceRule]
    # Every notice the contact was sent in the window, whichever agency's check caused it: the hold
    # after a notice held every agency.
    notices: list[EvidenceNotice] = msgspec.field(default_factory=list)


class AdminDispute(msgspec.Struct, frozen=True, kw_only=True):
    ref: str
    status: str
    phone: str
    agency_id: UUID | None
    agency_name: str | None
    agency_status: str | None
    caller_name: str | None
    caller_numbers: list[str]
    categories: list[str]
    occurred_at: datetime
    call_count: int | None
    description: str
    created_at: datetime
    agency_due_at: datetime
    decision_due_at: datetime
    overdue: bool
    agency_overdue: bool
    decision_overdue: bool
    agency_responded_at: datetime | None
    decided_at: datetime | None
    outcome: str | None
    sanction: str | None
    decision_note: str | None
    decided_by: str | None
    evidence: Evidence
    timeline: list[Event]
    attachments: list[Attachment]
