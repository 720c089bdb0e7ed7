"""Rows to Structs, the one way: `fetch_all` and `fetch_one` run a query and convert each row.

`fetch_one` raises NotFound (with the caller's words) when there is no row, so callers
never repeat the convert-and-assert dance.
"""

from __future__ import annotations

from typing import Any, TypeVar

import asyncpg
import msgspec

from registry.database import Connection
from registry.errors import NotFound

T = TypeVar("T")


def as_struct(row: asyncpg.Record, row_type: type[T]) -> T:
    """One row already fetched (inside a try, or from a RETURNING that may be empty)."""
    return msgspec.convert(dict(row), row_type)


async def fetch_all(conn: Connection, row_type: type[T], query: str, *args: Any) -> list[T]:
    return [as_struct(row, row_type) for row in await conn.fetch(query, *args)]


async def fetch_one(
    conn: Connection, row_type: type[T], query: str, *args: Any, missing: str = "not found", code: str = "not_found"
) -> T:
    """The one row as `row_type`; NotFound(missing, code=code) when the query finds nothing."""
    row = await conn.fetchrow(query, *args)
    if row is None:
        raise NotFound(missing, code=code)
    return as_struct(row, row_type)


async def fetch_maybe(conn: Connection, row_type: type[T], query: str, *args: Any) -> T | None:
    row = await conn.fetchrow(query, *args)
    return None if row is None else as_struct(row, row_type)
