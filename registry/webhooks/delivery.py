"""What the job worker does with one `webhook` job: post the event, signed, and say what became of it.

The body follows the Standard Webhooks spec (`{"type", "timestamp", "data"}`), signed with the
`standardwebhooks` library under the agency's secret; the headers are `webhook-id` (the event id,
the same on every retry, for de-duplication), `webhook-timestamp` and `webhook-signature`.

A 2xx answer is delivered (the error of an earlier try stays on the row, as history). Anything
else (another status, a timeout, a refused connection, an address production will not call) is
retried with growing waits, each drawn at random (`retry_wait`), until the event is 24 hours old,
and the delivery row keeps the attempts, the last error and the next try for the agency to see.
Only this worker ever waits for a receiver, and at most `TIMEOUT`: a check never does.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID

import httpx
import msgspec
from pgqueuer import Job, RetryRequested
from standardwebhooks import Webhook

from registry.backoff import equal_jitter
from registry.database import Connection, Pool
from registry.rows import fetch_maybe
from registry.settings import Settings
from registry.webhooks import addresses, pinning, sealing

log = logging.getLogger("registry.webhooks")

ENTRYPOINT = "webhook"
# Retries wait about 1 s, 2 s, 4 s, ... up to about an hour between tries, for a day (the Standard
# Webhooks advice); see retry_wait for the "about".
FIRST_RETRY = timedelta(seconds=1)
LONGEST_RETRY = timedelta(hours=1)
LIFETIME = timedelta(hours=24)
# How long one try may take, connecting and answering; the receiver's body is never read.
TIMEOUT = httpx.Timeout(10.0)
ERROR_LENGTH = 300


class Target(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    agency_id: UUID
    event: str
    data: str  # the event's data, as JSON text
    created_at: datetime
    status: str
    attempts: int
    url: str | None
    sealed_secret: bytes | None


class Body(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    timestamp: datetime
    data: msgspec.Raw


TARGET = """
    SELECT d.id, d.agency_id, d.event, d.data::text AS data, d.created_at, d.status, d.attempts,
           w.url, w.sealed_secret
    FROM webhook_deliveries d
    LEFT JOIN webhooks w ON w.agency_id = d.agency_id AND w.sandbox = d.sandbox AND d.event = ANY (w.events)
    WHERE d.id = $1
"""
DELIVERED = """
    UPDATE webhook_deliveries
    SET status = 'delivered', attempts = attempts + 1, delivered_at = now(), next_try_at = NULL
    WHERE id = $1
"""
FAILED_TRY = """
    UPDATE webhook_deliveries
    SET status = $2, attempts = attempts + 1, last_error = $3,
        next_try_at = CASE WHEN $2 = 'pending' THEN now() + $4::interval END
    WHERE id = $1
"""
DROPPED = "UPDATE webhook_deliveries SET status = 'dropped', next_try_at = NULL, last_error = $2 WHERE id = $1"


class WebhookDeliveries:
    """Posts one delivery per job; one HTTP client for all of them (connections are reused)."""

    def __init__(self, settings: Settings, pool: Pool) -> None:
        self.settings = settings
        self.pool = pool
        # It connects only to addresses it has just checked, and follows no redirect (pinning.py).
        self.client = pinning.pinned_client(production=settings.production, timeout=TIMEOUT)

    async def close(self) -> None:
        await self.client.aclose()

    async def handle(self, job: Job) -> None:
        headers: dict[str, Any] = job.headers or {}
        delivery_id = UUID(str(headers["delivery_id"]))
        async with self.pool.acquire() as proxy:
            conn = cast("Connection", proxy)
            target = await fetch_maybe(conn, Target, TARGET, delivery_id)
            if target is None or target.status != "pending":
                return
            if target.url is None or target.sealed_secret is None:
                await conn.execute(DROPPED, delivery_id, "the webhook was removed or no longer wants this event")
                return
        error = await self._post(target, target.url, target.sealed_secret)
        async with self.pool.acquire() as proxy:
            conn = cast("Connection", proxy)
            if error is None:
                await conn.execute(DELIVERED, delivery_id)
                return
            delay = retry_wait(target.attempts)
            if datetime.now(UTC) + delay > target.created_at + LIFETIME:
                await conn.execute(FAILED_TRY, delivery_id, "failed", error, None)
                log.warning("webhook delivery %s given up after %d tries: %s", delivery_id, target.attempts + 1, error)
                return
            await conn.execute(FAILED_TRY, delivery_id, "pending", error, delay)
        raise RetryRequested(delay=delay, reason=error)

    async def _post(self, target: Target, url: str, sealed_secret: bytes) -> str | None:
        """None when the receiver took it (2xx); otherwise what went wrong, in a few words."""
        try:
            # The URL's form here; where its name leads is checked again by every new connection
            # (pinning.py), as the name may point somewhere else since it was registered.
            addresses.parts(url, production=self.settings.production)
            secret = sealing.sealer_for(self.settings.session_key).open(target.agency_id, sealed_secret)
        except (addresses.RefusedUrl, sealing.UnreadableSecret) as exc:
            return f"not sent: {exc}"[:ERROR_LENGTH]
        body = msgspec.json.encode(
            Body(type=target.event, timestamp=target.created_at, data=msgspec.Raw(target.data.encode()))
        ).decode()
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": str(target.id),
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(str(target.id), now, body),
            "user-agent": "contact-consent-registry-webhooks",
        }
        try:
            async with self.client.stream("POST", url, content=body.encode(), headers=headers) as response:
                if 200 <= response.status_code < 300:
                    return None
                return f"HTTP {response.status_code}"
        except addresses.RefusedUrl as exc:
            return f"not sent: {exc}"[:ERROR_LENGTH]
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]


def retry_wait(attempts: int) -> timedelta:
    """How long to wait after a failed try, `attempts` being the tries that failed before it: doubling
    steps from FIRST_RETRY to LONGEST_RETRY, each wait drawn in the step's upper half (registry/backoff.py).
    The give-up test uses the event's age, so the window stays 24 hours whatever the draws.
    """
    return equal_jitter(attempts, FIRST_RETRY, LONGEST_RETRY)
