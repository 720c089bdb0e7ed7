"""Helpers that make the rows many tests need (agencies, keys), through the real queries."""

from __future__ import annotations

import itertools
import random

import asyncpg

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


async def one_row(conn: Connection, query: str, *args: object) -> asyncpg.Record:
    """The row a test expects to exist (a missing one fails the test here, by name)."""
    row = await conn.fetchrow(query, *args)
    assert row is not None, f"no row for {query!r}"
    return row
