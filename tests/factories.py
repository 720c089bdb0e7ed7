"""Helpers that make the rows many tests need (agencies, keys), through the real queries."""

from __future__ import annotations

import itertools
import random

from registry import jurisdiction
from registry.agencies import queries as agencies
from registry.agencies.queries import Agency, IssuedKey
from registry.database import Connection

_counter = itertools.count()


def credit_code() -> str:
    """A fresh valid unified social credit code."""
    body = "91110000" + "".join(random.choice(jurisdiction.CREDIT_CODE_ALPHABET) for _ in range(9))
    return jurisdiction.with_check_character(body)


async def make_agency(conn: Connection, name: str | None = None) -> Agency:
    return await agencies.create_agency(conn, name or f"Agency {next(_counter)}", credit_code(), "test")


async def make_agency_with_key(conn: Connection, name: str | None = None) -> tuple[Agency, IssuedKey]:
    agency = await make_agency(conn, name)
    return agency, await agencies.issue_key(conn, agency.id, "test")


def bearer(key: IssuedKey | str) -> dict[str, str]:
    token = key if isinstance(key, str) else key.key
    return {"Authorization": f"Bearer {token}"}
