"""Contact sessions in one place: how one starts, how a request proves it, how it ends.

The JSON API carries the token as `Authorization: Bearer`, the pages as an HttpOnly
cookie; both are Litestar dependencies declared on their controllers. Tokens are kept
only as SHA-256 hashes and looked up through a unique index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request
from litestar.datastructures import Cookie
from litestar.di import NamedDependency

from registry import tokens
from registry.database import Connection
from registry.errors import Unauthorized
from registry.rows import fetch_maybe
from registry.settings import Settings

SESSION_PREFIX = "ct_"
COOKIE = "contact_session"
NO_SESSION = "unknown, ended or expired contact session"


class ContactSession(msgspec.Struct, kw_only=True, frozen=True):
    """Who is signed in: the session and the phone key it was issued for (never the number)."""

    id: UUID
    phone_key: bytes
    phone_hint: str
    expires_at: datetime

    @property
    def actor(self) -> str:
        # Audit rows name a contact by a prefix of the phone key, never by the number.
        return f"contact:{self.phone_key.hex()[:16]}"


class SessionToken(msgspec.Struct, kw_only=True, frozen=True):
    token: str
    expires_at: datetime


class SignInRequired(Exception):
    """A page that needs a contact was opened without a live session: the pages answer with the sign-in page."""


INSERT_SESSION = """
    INSERT INTO contact_sessions (phone_key, phone_hint, token_hash, expires_at, phone_sealed)
    VALUES ($1, $2, $3, now() + make_interval(mins => $4::int), $5)
    RETURNING expires_at
"""


async def start_session(
    conn: Connection, phone_key: bytes, phone_hint: str, minutes: int, phone_sealed: bytes | None = None
) -> SessionToken:
    """A new session for a number whose owner has just proved it (runs in the caller's transaction).

    `phone_sealed` is the number sealed by registry.sms (never in plain), so a receipt can be sent
    to it by SMS while the session lives (sql/0040_session_number_sealed.sql).
    """
    token = tokens.new_token(SESSION_PREFIX)
    expires_at = await conn.fetchval(
        INSERT_SESSION, phone_key, phone_hint, tokens.token_hash(token), minutes, phone_sealed
    )
    return SessionToken(token=token, expires_at=expires_at)


SEALED_NUMBER = "SELECT phone_sealed FROM contact_sessions WHERE id = $1 AND ended_at IS NULL"


async def sealed_number(conn: Connection, contact: ContactSession) -> bytes | None:
    """The session's number as sealed at sign-in (None for sessions opened without one)."""
    sealed: bytes | None = await conn.fetchval(SEALED_NUMBER, contact.id)
    return sealed


SESSION = """
    SELECT id, phone_key, phone_hint, expires_at FROM contact_sessions
    WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > now()
"""


async def session_from_token(conn: Connection, token: str | None) -> ContactSession:
    """The session a bearer token or cookie names; looked up by hash, so no plain token is stored."""
    if not token:
        raise Unauthorized("a contact session is required: Authorization: Bearer <token>")
    session = await fetch_maybe(conn, ContactSession, SESSION, tokens.token_hash(token))
    if session is None:
        raise Unauthorized(NO_SESSION)
    return session


LAPSED_SESSION = "SELECT phone_key FROM contact_sessions WHERE token_hash = $1 AND ended_at IS NULL"


async def lapsed_phone_key(conn: Connection, token: str | None) -> bytes | None:
    """The phone key of the session a cookie names even after it timed out (not after she logged out):
    what she was writing then is kept for her alone."""
    if not token:
        return None
    key: bytes | None = await conn.fetchval(LAPSED_SESSION, tokens.token_hash(token))
    return key


LIVE_SESSION = "SELECT 1 FROM contact_sessions WHERE id = $1 AND ended_at IS NULL AND expires_at > now()"


async def still_live(conn: Connection, contact: ContactSession) -> None:
    """Unauthorized if the session ended since the request began (an erasure in between, say)."""
    if await conn.fetchval(LIVE_SESSION, contact.id) is None:
        raise Unauthorized(NO_SESSION)


# Ending a session wipes its sealed number at once (the row stays a day, for retention to delete).
END_SESSION = "UPDATE contact_sessions SET ended_at = now(), phone_sealed = NULL WHERE id = $1 AND ended_at IS NULL"


async def end_session(conn: Connection, contact: ContactSession) -> None:
    await conn.execute(END_SESSION, contact.id)


# ---- the dependencies controllers declare --------------------------------------------------------


async def bearer_contact(request: Request[Any, Any, Any], conn: NamedDependency[Connection]) -> ContactSession:
    """The JSON API's contact: the bearer token's session, 401 otherwise."""
    return await session_from_token(conn, tokens.bearer(request.headers.get("authorization")))


async def cookie_contact(request: Request[Any, Any, Any], conn: NamedDependency[Connection]) -> ContactSession:
    """The pages' contact: the session cookie's session, or SignInRequired (the pages show sign-in)."""
    contact = await maybe_cookie_contact(request, conn)
    if contact is None:
        raise SignInRequired()
    return contact


async def maybe_cookie_contact(
    request: Request[Any, Any, Any], conn: NamedDependency[Connection]
) -> ContactSession | None:
    try:
        return await session_from_token(conn, request.cookies.get(COOKIE))
    except Unauthorized:
        return None


def session_cookie(settings: Settings, token: str, max_age: int) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=token,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
    )


def cleared_session_cookie(settings: Settings) -> Cookie:
    return session_cookie(settings, "", 0)
