"""Helpers of the API document's tests."""

from __future__ import annotations

from registry import phones
from registry.database import Connection
from registry.sessions.contact import start_session
from tests.conftest import TEST_PEPPER


async def signed_in(conn: Connection, phone: str) -> str:
    """A contact's session token, as after the code step."""
    e164 = phones.normalize(phone)
    session = await start_session(conn, phones.phone_key(e164, TEST_PEPPER), phones.mask(e164), 30)
    return session.token
