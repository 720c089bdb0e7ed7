"""Notices: the SMS a contact gets before the first collection call, and the link it carries.

A check makes the notice (check_contacts(), sql/0080_notice_step.sql); the SMS worker gives it a link
when it sends it (registry/jobs.py); the contact's link page uses the link (contacts/). The token is
96 random bits, in the SMS only: the table keeps its SHA-256, so a copy of the database opens
no link.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

import msgspec

from registry.database import Connection
from registry.rows import fetch_all, fetch_maybe
from registry.tokens import token_hash

LINK_LIFETIME = timedelta(days=7)
LinkAction = Literal["refuse_all", "refuse_agency"]
NoticeStatus = Literal["queued", "sent", "failed"]


def new_link_token() -> str:
    """96 random bits, 16 URL-safe characters: short enough for a two-segment SMS."""
    return secrets.token_urlsafe(12)


def link_url(public_url: str, token: str) -> str:
    return f"{public_url}/n/{token}"


class NoticeSent(msgspec.Struct, frozen=True, kw_only=True):
    """A notice as the contact sees it: which agency's check caused it, when, and whether it went out."""

    agency_id: UUID
    agency: str
    asked_at: datetime
    status: NoticeStatus
    sent_at: datetime | None = None


NOTICES_OF = """
    SELECT n.agency_id, a.name AS agency, n.created_at AS asked_at, n.status, n.sent_at
    FROM notices n JOIN agencies a ON a.id = n.agency_id
    WHERE n.phone_key = $1 AND n.created_at > now() - make_interval(days => $2::int)
    ORDER BY n.created_at DESC
    LIMIT 100
"""


async def notices_of(conn: Connection, phone_key: bytes, days: int = 90) -> list[NoticeSent]:
    """The contact's notices of the last `days` days, newest first."""
    return await fetch_all(conn, NoticeSent, NOTICES_OF, phone_key, days)


class Link(msgspec.Struct, frozen=True, kw_only=True):
    """A notice's link, found by its token."""

    notice_id: UUID
    phone_key: bytes
    agency_id: UUID
    agency: str
    asked_at: datetime
    expires_at: datetime
    used_at: datetime | None
    action: LinkAction | None
    expired: bool


LINK = """
    SELECT n.id AS notice_id, n.phone_key, n.agency_id, a.name AS agency, n.created_at AS asked_at,
           n.link_expires_at AS expires_at, n.link_used_at AS used_at, n.link_action AS action,
           n.link_expires_at <= now() AS expired
    FROM notices n JOIN agencies a ON a.id = n.agency_id
    WHERE n.link_hash = $1
"""
# Shape first: anything that is not one of our tokens is answered "unknown" without a lookup.
TOKEN_LENGTH = 16


async def find_link(conn: Connection, token: str) -> Link | None:
    if len(token) != TOKEN_LENGTH or not all(c.isascii() and (c.isalnum() or c in "-_") for c in token):
        return None
    return await fetch_maybe(conn, Link, LINK, token_hash(token))


USE_LINK = """
    UPDATE notices SET link_used_at = now(), link_action = $3
    WHERE phone_key = $1 AND id = $2 AND link_used_at IS NULL AND link_expires_at > now()
    RETURNING id
"""


async def use_link(conn: Connection, link: Link, action: LinkAction) -> bool:
    """Stamp the link used (once; in the caller's transaction). False if it was used or expired meanwhile."""
    return await conn.fetchval(USE_LINK, link.phone_key, link.notice_id, action) is not None
