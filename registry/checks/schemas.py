"""Request and response bodies of the agency API (docs/contract.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from registry.domain import Answer, Channel, Limit, Reason, Violation

MAX_BATCH = 10_000


class CheckRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    phone: str
    borrower_phone: str | None = None


class BatchRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    # Items are validated one by one, so a malformed item becomes an error entry in its
    # place instead of failing the whole batch.
    items: Annotated[list[Any], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class CheckAnswer(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """`valid_until` and `limit` are left out when they do not apply (a refusal has neither).

    `available_at` comes with `notice_pending`: the registry has sent (or is sending) the contact a
    notice before the first call, and every agency's check is answered so until this time.
    """

    check_id: UUID
    phone: str
    decision: Answer
    reason: Reason
    checked_at: datetime
    valid_until: datetime | None = None
    limit: Limit | None = None
    available_at: datetime | None = None


class CheckResult(CheckAnswer, kw_only=True, frozen=True, omit_defaults=True):
    # A compact JWS (Ed25519) over {check_id, agency_id, phone, decision, reason, checked_at, valid_until?};
    # keys at /.well-known/jwks.json, checked offline by `registry receipt verify`.
    receipt: str


# Tagged, because OpenAPI (through msgspec.inspect) can only describe a union of
# Structs that says which one each item is: `"status": "answered"` or `"error"`.
class BatchCheckResult(CheckAnswer, kw_only=True, frozen=True, omit_defaults=True, tag_field="status", tag="answered"):
    index: int


class ItemError(msgspec.Struct, kw_only=True, frozen=True):
    code: str
    detail: str
    field: str


class BatchItemError(msgspec.Struct, kw_only=True, frozen=True, tag_field="status", tag="error"):
    index: int
    error: ItemError


class BatchResponse(msgspec.Struct, kw_only=True, frozen=True):
    batch_id: UUID
    checked_at: datetime
    results: list[BatchCheckResult | BatchItemError]
    # One compact JWS over {batch_id, agency_id, checked_at, count, results_sha256}: `count` answered items,
    # results_sha256 over their lines `check_id,phone,decision,reason\n` in result order (errors skipped).
    receipt: str


class AttemptRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    check_id: UUID | None = None
    phone: str | None = None
    occurred_at: datetime
    channel: Channel
    outcome: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class AttemptResult(msgspec.Struct, kw_only=True, frozen=True):
    attempt_id: UUID
    compliant: bool
    violation: Violation | None


class Change(msgspec.Struct, kw_only=True, frozen=True):
    check_id: UUID
    revoked_at: datetime
    reason: str


class ChangesPage(msgspec.Struct, kw_only=True, frozen=True):
    items: list[Change]
    next: str
