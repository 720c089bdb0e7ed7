"""SMS: what the registry sends, queued with the change that causes it and sent by the worker.

Every SMS (codes, notices, confirmations, help replies) is a job in the PostgreSQL queue
(sql/0010_job_queue.sql), committed in the caller's transaction by `queue_sms`. The number and
text wait there sealed with AES-GCM (`Sealer`), under a key derived from the session key; the
worker (registry/jobs.py) opens one, hands it to a sender and wipes it. The senders: the
development outbox table, or an HTTP webhook to a gateway, signed with HMAC-SHA256 of the body
(the same signature the gateway puts on the replies it posts to `POST /v1/sms/inbound`).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Sequence
from typing import Literal, Protocol

import httpx
import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry.database import Connection
from registry.errors import Unavailable
from registry.settings import Settings

log = logging.getLogger("registry.sms")

SmsKind = Literal["code", "notice", "confirmation", "help"]
# Codes go first: someone is waiting at a form for them.
PRIORITY: dict[SmsKind, int] = {"code": 10, "confirmation": 5, "help": 5, "notice": 0}


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """What a job's payload seals: the number, and the text unless the worker writes it (a notice's)."""

    to: str
    text: str | None = None


# Binds a sealed payload to its use: a blob sealed for something else under the same key will not open.
AAD = b"registry sms job v1"
NONCE = 12


class SealedPayloadError(Exception):
    """A job's payload does not open under this key (the session key changed, or it was tampered with)."""


class Sealer:
    """AES-GCM over a job's Envelope: a random 96-bit nonce, then the ciphertext and its tag."""

    def __init__(self, session_key: bytes) -> None:
        key = hmac.new(session_key, b"registry sms job payloads", hashlib.sha256).digest()
        self._aead = AESGCM(key)

    def seal(self, envelope: Envelope) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, msgspec.json.encode(envelope), AAD)

    def seal_numbers(self, numbers: Sequence[str | None]) -> list[bytes | None]:
        """One sealed Envelope per number (None stays None): a check's notices, one nonce read for all."""
        nonces = os.urandom(NONCE * len(numbers))
        encode, encrypt = msgspec.json.encode, self._aead.encrypt
        return [
            None
            if number is None
            else nonces[i * NONCE : (i + 1) * NONCE]
            + encrypt(nonces[i * NONCE : (i + 1) * NONCE], encode(Envelope(to=number)), AAD)
            for i, number in enumerate(numbers)
        ]

    def open(self, blob: bytes) -> Envelope:
        try:
            plain = self._aead.decrypt(blob[:NONCE], blob[NONCE:], AAD)
        except (InvalidTag, ValueError):
            raise SealedPayloadError("the SMS job's payload does not open under this session key") from None
        return msgspec.json.decode(plain, type=Envelope)


@functools.lru_cache(maxsize=4)
def sealer_for(session_key: bytes) -> Sealer:
    return Sealer(session_key)


QUEUE_SMS = "SELECT queue_sms($1::bytea[], $2::jsonb[], $3)"


async def queue_sms(conn: Connection, settings: Settings, kind: SmsKind, phone: str, text: str) -> None:
    """Queue one SMS in the caller's transaction: it is sent only if that transaction commits."""
    sealed = sealer_for(settings.session_key).seal(Envelope(to=phone, text=text))
    await conn.execute(QUEUE_SMS, [sealed], [json.dumps({"kind": kind})], PRIORITY[kind])


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the raw body>`: on what we post to the gateway and what it posts to us."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_by(secret: str | None, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of `body` under `secret` (constant time; no secret, no trust)."""
    if not secret or not header:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.strip().lower().encode())


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
            headers["X-Registry-Signature"] = signature(self.secret, body)
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
                if not retryable:
                    raise SmsRejected(f"the SMS gateway refused the message ({failure})")
                if attempt == self.attempts:
                    break
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        raise Unavailable("the SMS could not be sent just now; try again shortly")


class SmsRejected(Unavailable):
    """The gateway refused the message itself (a 4xx other than 429): asking again will not help."""


class OutboxRefused(RuntimeError):
    """Production must talk to a real gateway, never the development outbox."""


def sender_for(settings: Settings) -> SmsSender:
    """The webhook when a gateway URL is set; otherwise the outbox, which production refuses."""
    if settings.sms_webhook_url:
        return WebhookSender(settings.sms_webhook_url, settings.sms_webhook_secret, settings.contact.sms_attempts)
    if settings.production:
        raise OutboxRefused("production refuses the development SMS outbox: set REGISTRY_SMS_WEBHOOK_URL")
    return OutboxSender()
