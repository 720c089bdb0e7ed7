"""SMS senders behind one small interface: the development outbox table, or an HTTP webhook to a gateway."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Protocol

import httpx

from registry.database import Connection
from registry.errors import Unavailable
from registry.settings import Settings

log = logging.getLogger("registry.sms")


class SmsSender(Protocol):
    async def send(self, conn: Connection, phone: str, text: str) -> None:
        """Send `text` to the E.164 `phone`; raise Unavailable when it could not be sent."""


INSERT_OUTBOX = "INSERT INTO sms_outbox (phone, body) VALUES ($1, $2)"


class OutboxSender:
    """Development only: the message goes to the sms_outbox table (`registry outbox` shows it)."""

    async def send(self, conn: Connection, phone: str, text: str) -> None:
        await conn.execute(INSERT_OUTBOX, phone, text)


class WebhookSender:
    """POSTs `{"to", "text"}` to a gateway, signed with HMAC-SHA256 of the body; retries with backoff.

    The number is in flight only: nothing here keeps or logs it.
    """

    def __init__(self, url: str, secret: str | None, attempts: int = 3, backoff: float = 0.5) -> None:
        self.url = url
        self.secret = secret
        self.attempts = attempts
        self.backoff = backoff

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.secret:
            signature = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Registry-Signature"] = f"sha256={signature}"
        return headers

    async def send(self, conn: Connection, phone: str, text: str) -> None:
        body = json.dumps({"to": phone, "text": text}, ensure_ascii=False).encode()
        async with httpx.AsyncClient(timeout=10) as client:
            for attempt in range(1, self.attempts + 1):
                retryable = True
                try:
                    response = await client.post(self.url, content=body, headers=self._headers(body))
                except httpx.HTTPError as exc:
                    failure = type(exc).__name__
                else:
                    if response.status_code < 300:
                        return
                    failure = f"HTTP {response.status_code}"
                    # A 4xx other than 429 will not get better by asking again.
                    retryable = not (400 <= response.status_code < 500 and response.status_code != 429)
                log.warning("SMS gateway attempt %d of %d failed: %s", attempt, self.attempts, failure)
                if not retryable or attempt == self.attempts:
                    break
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        raise Unavailable("the SMS could not be sent just now; try again shortly")


class OutboxRefused(RuntimeError):
    """Production must talk to a real gateway, never the development outbox."""


def sender_for(settings: Settings) -> SmsSender:
    """The webhook when a gateway URL is set; otherwise the outbox, which production refuses."""
    if settings.sms_webhook_url:
        return WebhookSender(settings.sms_webhook_url, settings.sms_webhook_secret, settings.contact.sms_attempts)
    if settings.production:
        raise OutboxRefused("production refuses the development SMS outbox: set REGISTRY_SMS_WEBHOOK_URL")
    return OutboxSender()
