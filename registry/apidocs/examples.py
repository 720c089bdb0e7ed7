"""Examples for the main calls of the agency API, shown in the document beside their schemas.

Plain JSON, keyed by operation ("METHOD /path"), so the document's layer needs no feature's types;
tests/apidocs/test_examples.py decodes each one into the route's own request and answer Structs, so
an example that stops being true fails there. The receipts are cut short (a real one is a compact
JWS of about 400 characters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Examples:
    summary: str
    request: dict[str, Any] | None = None
    answer: dict[str, Any] | None = None


CHECK_ID = "0193a1c2-7d4e-7c1a-9b0e-4f7b2a9c5d11"
RECEIPT = "eyJhbGciOiJFZERTQSIsImtpZCI6InJrLTIwMjYtMDEifQ.eyJjaGVja19pZCI6Ii4uLiJ9.Q2hlY2tlZA"

EXAMPLES: dict[str, Examples] = {
    "POST /v1/checks": Examples(
        summary="A number nobody has refused: one permit, valid for the next hours",
        request={"phone": "+8613800138000", "borrower_phone": "+8613900139000"},
        answer={
            "check_id": CHECK_ID,
            "phone": "+8613800138000",
            "decision": "allow",
            "reason": "no_record",
            "checked_at": "2026-06-01T09:30:00Z",
            "valid_until": "2026-06-01T21:30:00Z",
            "limit": {"permits": 1, "window_days": 30, "used": 1},
            "receipt": RECEIPT,
        },
    ),
    "POST /v1/checks/batch": Examples(
        summary="Two numbers, one refused and one that is not a number: each answered in its place",
        request={"items": [{"phone": "13800138000"}, {"phone": "call me maybe"}]},
        answer={
            "batch_id": "0193a1c2-8a10-7f00-8c3e-2d5a6b7c8d90",
            "checked_at": "2026-06-01T09:30:00Z",
            "results": [
                {
                    "status": "answered",
                    "index": 0,
                    "check_id": CHECK_ID,
                    "phone": "+8613800138000",
                    "decision": "deny",
                    "reason": "refused",
                    "checked_at": "2026-06-01T09:30:00Z",
                },
                {
                    "status": "error",
                    "index": 1,
                    "error": {"code": "invalid_input", "field": "phone", "detail": "is not a phone number"},
                },
            ],
            "receipt": RECEIPT,
        },
    ),
    "POST /v1/attempts": Examples(
        summary="The call made on a permit, reported (send an Idempotency-Key so a retry is not a second call)",
        request={
            "check_id": CHECK_ID,
            "occurred_at": "2026-06-01T09:41:00Z",
            "channel": "call",
            "outcome": "no answer",
        },
        answer={"attempt_id": "0193a1c3-0b2c-7d3e-a4f5-06b7c8d9e0f1", "compliant": True, "violation": None},
    ),
    "GET /v1/changes": Examples(
        summary="A permit revoked because the contact refused; pass `next` back as `after`",
        answer={
            "items": [{"check_id": CHECK_ID, "revoked_at": "2026-06-01T10:02:11Z", "reason": "refused"}],
            "next": "c1.AAAAAAAAACo",
        },
    ),
    "PUT /v1/webhook": Examples(
        summary="Hear of revocations and complaints as they happen; keep the secret, it is shown this once",
        request={"url": "https://hooks.agency.example/registry", "events": ["permit.revoked", "dispute.filed"]},
        answer={
            "url": "https://hooks.agency.example/registry",
            "events": ["permit.revoked", "dispute.filed"],
            "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw6Ubn5pQ1ZzM=",
        },
    ),
    "GET /v1/webhook/deliveries": Examples(
        summary="One event delivered on its second try, after the receiver first answered 500",
        answer={
            "items": [
                {
                    "id": "0193a1c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                    "event": "permit.revoked",
                    "status": "delivered",
                    "attempts": 2,
                    "last_error": "HTTP 500",
                    "next_try_at": None,
                    "created_at": "2026-06-01T10:02:11Z",
                    "delivered_at": "2026-06-01T10:02:13Z",
                }
            ]
        },
    ),
}
