"""Sample events for a sandbox key's webhook: the shapes real events have, about nobody.

The sandbox never revokes a permit or receives a complaint, so nothing in it makes a real
event; `POST /v1/webhook/test` queues one of these instead, so an integrator can see a signed
delivery arrive and verify it before going live.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from registry.permits import Revoked
from registry.webhooks.events import Event

# A dispute reference in the real format (D-year-six letters), recognisably the sandbox's.
SAMPLE_REF = "SANDBX"


def sample(event: Event) -> Any:
    """Data of the same shape as the real event's (tests/webhooks/test_sandbox_webhooks.py compares them)."""
    now = datetime.now(UTC).replace(microsecond=0)
    ref = f"D-{now.year}-{SAMPLE_REF}"
    if event == "permit.revoked":
        return Revoked(check_id=uuid4(), revoked_at=now, reason="refused")
    if event == "dispute.filed":
        return {
            "ref": ref,
            "status": "awaiting_agency",
            "created_at": now,
            "agency_due_at": now + timedelta(days=7),
            "decision_due_at": now + timedelta(days=30),
        }
    return {"ref": ref, "outcome": "upheld", "sanction": "warning"}
