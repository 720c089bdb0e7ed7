"""The webhook's row and its deliveries, always by the calling agency's id and side (real or sandbox)."""

from __future__ import annotations

from uuid import UUID

from registry import audit
from registry.database import Connection
from registry.rows import fetch_all
from registry.webhooks.events import Event
from registry.webhooks.schemas import Delivery

SET_WEBHOOK = """
    INSERT INTO webhooks (agency_id, sandbox, url, events, sealed_secret) VALUES ($1, $5, $2, $3, $4)
    ON CONFLICT (agency_id, sandbox) DO UPDATE
    SET url = EXCLUDED.url, events = EXCLUDED.events, sealed_secret = EXCLUDED.sealed_secret, created_at = now()
"""
DELETE_WEBHOOK = "DELETE FROM webhooks WHERE agency_id = $1 AND sandbox = $2 RETURNING url"


async def set_webhook(
    conn: Connection,
    agency_id: UUID,
    actor: str,
    url: str,
    events: list[Event],
    sealed_secret: bytes,
    *,
    sandbox: bool,
) -> None:
    async with conn.transaction():
        await conn.execute(SET_WEBHOOK, agency_id, url, events, sealed_secret, sandbox)
        details = {"url": url, "events": events, "sandbox": sandbox}
        await audit.record(conn, actor, "webhook.set", f"agency:{agency_id}", details)


async def delete_webhook(conn: Connection, agency_id: UUID, actor: str, *, sandbox: bool) -> bool:
    """Whether there was one. Deliveries still waiting are dropped when their turn comes."""
    async with conn.transaction():
        url = await conn.fetchval(DELETE_WEBHOOK, agency_id, sandbox)
        if url is not None:
            details = {"url": url, "sandbox": sandbox}
            await audit.record(conn, actor, "webhook.delete", f"agency:{agency_id}", details)
        return url is not None


DELIVERIES = """
    SELECT id, event, status, attempts, last_error, next_try_at, created_at, delivered_at
    FROM webhook_deliveries
    WHERE agency_id = $1 AND sandbox = $3
    ORDER BY created_at DESC, id
    LIMIT $2
"""


async def deliveries(conn: Connection, agency_id: UUID, limit: int, *, sandbox: bool) -> list[Delivery]:
    """This agency's deliveries on one side (real or sandbox), newest first."""
    return await fetch_all(conn, Delivery, DELIVERIES, agency_id, limit, sandbox)
