"""What the registry sent by SMS, as a test reads it: the development outbox, once the worker got there.

SMS are sent by the worker that runs inside the live server (registry/jobs.py), a moment after the
request that queued them committed: these helpers wait for them (polling, at most a few seconds)
instead of assuming they are already there. Also: the gateway's signature on inbound replies.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx

from registry.database import Connection
from registry.sms import signature

# The secret the tests' gateway signs inbound replies with (and our webhook signs with).
GATEWAY_SECRET = "test-gateway-secret"
# The token is 16 URL-safe characters; not `\b` after it: a token ending in "-" at the end of the
# text has no word boundary there (one token in 64 failed to match).
LINK = re.compile(r"/n/([A-Za-z0-9_-]{16})(?![A-Za-z0-9_-])")
# Kinds of SMS, by what only that kind says.
NOTICE = "将为他人欠款致电您"
CODE = "验证码"
CONFIRMATION = "已登记"
HELP = "回复TD拒绝所有催收来电"


async def outbox(
    conn: Connection, e164: str, *, containing: str | None = None, count: int = 1, timeout: float = 10.0
) -> list[str]:
    """The outbox bodies for this number (oldest first) once at least `count` of them (with `containing`)
    are there; fails after `timeout` seconds, showing what was there."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        rows = await conn.fetch("SELECT body FROM sms_outbox WHERE phone = $1 ORDER BY id", e164)
        bodies = [row["body"] for row in rows if containing is None or containing in row["body"]]
        if len(bodies) >= count:
            return bodies
        if loop.time() > deadline:
            raise AssertionError(f"{count} SMS with {containing!r} for {e164} expected, the outbox has {bodies}")
        await asyncio.sleep(0.02)


async def queue_settled(conn: Connection, timeout: float = 10.0) -> None:
    """Wait until no SMS job is left to do (queued and due, or being sent)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await conn.fetchval(
        "SELECT count(*) FROM pgqueuer WHERE status = 'picked' OR (status = 'queued' AND execute_after <= now())"
    ):
        if loop.time() > deadline:
            raise AssertionError(f"SMS jobs still waiting after {timeout} s")
        await asyncio.sleep(0.02)


async def all_sent(conn: Connection, timeout: float = 10.0) -> None:
    """Wait until every SMS queued so far is in the outbox: the worker wipes a job's payload right after
    the outbox (or the gateway) took it, and only a job that still has one is left to send."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await conn.fetchval("SELECT count(*) FROM pgqueuer WHERE payload IS NOT NULL AND execute_after <= now()"):
        if loop.time() > deadline:
            raise AssertionError(f"SMS jobs still unsent after {timeout} s")
        await asyncio.sleep(0.01)


def link_token(body: str) -> str:
    """The token of the link in a notice SMS."""
    match = LINK.search(body)
    assert match is not None, body
    return match.group(1)


def signed_reply(message: dict[str, Any], secret: str = GATEWAY_SECRET) -> tuple[bytes, dict[str, str]]:
    """A reply as the gateway posts it: the JSON body and its X-Registry-Signature."""
    body = json.dumps(message, ensure_ascii=False).encode()
    return body, {"Content-Type": "application/json", "X-Registry-Signature": signature(secret, body)}


async def post_reply(api: httpx.AsyncClient, message: dict[str, Any], secret: str = GATEWAY_SECRET) -> httpx.Response:
    body, headers = signed_reply(message, secret)
    return await api.post("/v1/sms/inbound", content=body, headers=headers)
