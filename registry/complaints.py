"""What any feature may know of a contact's complaints: their references and states, newest first.

The disputes feature owns complaints; the contact's own summary (`GET /v1/contact/me`)
shows this list too, so it lives below both features.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from registry.database import Connection
from registry.rows import fetch_all


class DisputeSummary(msgspec.Struct, kw_only=True, frozen=True):
    ref: str
    status: str
    created_at: datetime


CONTACT_LIST = """
    SELECT ref, status, created_at FROM disputes WHERE phone_key = $1 ORDER BY created_at DESC
"""


async def contact_disputes(conn: Connection, phone_key: bytes) -> list[DisputeSummary]:
    return await fetch_all(conn, DisputeSummary, CONTACT_LIST, phone_key)
