"""Queue webhook events in the caller's transaction: delivered only if the change commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal
from uuid import UUID

import msgspec

from registry.database import Connection

Event = Literal["permit.revoked", "dispute.filed", "dispute.decided"]
EVENTS: tuple[Event, ...] = ("permit.revoked", "dispute.filed", "dispute.decided")

QUEUE_EVENTS = "SELECT queue_webhook_events($1::uuid[], $2, $3::jsonb[], $4)"


async def queue(conn: Connection, event: Event, items: Sequence[tuple[UUID, Any]], *, sandbox: bool = False) -> int:
    """One `event` per (agency id, data) for the agencies whose webhook wants it; how many were queued.

    `data` is anything msgspec encodes (a Struct, a dict); it is what the receiver gets as `data`.
    Real events go to real webhooks only; `sandbox` events (samples) to the sandbox keys' webhooks.
    """
    if not items:
        return 0
    agency_ids = [agency_id for agency_id, _ in items]
    data = [msgspec.json.encode(payload).decode() for _, payload in items]
    queued: int = await conn.fetchval(QUEUE_EVENTS, agency_ids, event, data, sandbox)
    return queued
