"""Which contact is calling: a contact session token -> the phone key it was issued for.

The contacts feature owns contact sessions; this is the one place disputes depends on
them, so switching to its function is a change here only.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.di import NamedDependency

from registry import tokens
from registry.database import Connection


class Contact(msgspec.Struct, frozen=True, kw_only=True):
    phone_key: bytes
    phone_hint: str

    @property
    def actor(self) -> str:
        # Audit rows name a contact by a prefix of the phone key, never by the number.
        return f"contact:{self.phone_key.hex()[:16]}"


async def contact_from_token(conn: Connection, token: str | None) -> Contact:
    """401 for a missing, unknown, ended or expired session (the contacts feature decides which)."""
    from registry.contacts.queries import session_from_token

    session = await session_from_token(conn, token)
    return Contact(phone_key=bytes(session.phone_key), phone_hint=session.phone_hint)


async def provide_contact(request: Request[Any, Any, Any], conn: NamedDependency[Connection]) -> Contact:
    """Litestar dependency for the contact API (bearer token)."""
    return await contact_from_token(conn, tokens.bearer(request.headers.get("authorization")))
