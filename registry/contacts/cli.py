"""`registry outbox [--phone]`: the development SMS outbox, what would have been sent (codes included)."""

from __future__ import annotations

import argparse
from datetime import datetime

import msgspec

from registry import phones
from registry.commands import Output
from registry.database import Connection
from registry.rows import fetch_all
from registry.settings import Settings


class OutboxMessage(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    phone: str
    body: str
    created_at: datetime


OUTBOX = """
    SELECT id, phone, body, created_at FROM sms_outbox
    WHERE $1::text IS NULL OR phone = $1
    ORDER BY id DESC
    LIMIT $2
"""


async def outbox(conn: Connection, settings: Settings, args: argparse.Namespace) -> Output:
    """Newest first; `--phone` takes any written form of the number."""
    phone = phones.normalize(args.phone, settings.default_region) if args.phone else None
    limit = max(1, min(getattr(args, "limit", 20) or 20, 1000))
    messages = await fetch_all(conn, OutboxMessage, OUTBOX, phone, limit)
    lines = [f"{m.created_at:%Y-%m-%d %H:%M:%S}Z  {m.phone}  {m.body}" for m in messages]
    text = "\n".join(lines) if lines else "the outbox is empty" + (f" for {phone}" if phone else "")
    return Output({"messages": msgspec.to_builtins(messages)}, text)
