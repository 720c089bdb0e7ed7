"""The hash-chained audit log: every change of state is a row linked to the one before."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec

from registry.database import Connection
from registry.rows import fetch_maybe

# Serializes writers so each row links to the true previous one.
AUDIT_LOCK = 7_240_211_002
GENESIS = bytes(32)

APPEND = """
    WITH prev AS (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1),
    next AS (
        SELECT coalesce((SELECT seq FROM prev), 0) + 1 AS seq,
               coalesce((SELECT hash FROM prev), $5::bytea) AS prev_hash,
               now() AS at
    )
    INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash)
    SELECT seq, at, $1, $2, $3, $4::jsonb, prev_hash, audit_hash(prev_hash, seq, at, $1, $2, $3, $4::jsonb)
    FROM next
    RETURNING seq
"""


async def record(conn: Connection, actor: str, action: str, subject: str, details: dict[str, Any] | None = None) -> int:
    """Append one row; call inside the transaction of the change it records."""
    if not conn.is_in_transaction():
        # A savepoint inside the caller's transaction would cost two round trips and add nothing.
        async with conn.transaction():
            return await record(conn, actor, action, subject, details)
    await conn.execute("SELECT pg_advisory_xact_lock($1)", AUDIT_LOCK)
    seq: int = await conn.fetchval(APPEND, actor, action, subject, json.dumps(details or {}, default=str), GENESIS)
    return seq


class Break(msgspec.Struct, frozen=True):
    seq: int
    reason: str


CHAIN = """
    SELECT seq, prev_hash, hash,
           audit_hash(prev_hash, seq, at, actor, action, subject, details) AS expected
    FROM audit_log ORDER BY seq
"""


async def verify(conn: Connection) -> tuple[int, Break | None]:
    """Walk the chain; returns (rows checked, the first broken link or None)."""
    expected_prev = GENESIS
    expected_seq = 1
    count = 0
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for row in conn.cursor(CHAIN):
            count += 1
            if row["seq"] != expected_seq:
                return count, Break(expected_seq, f"row {expected_seq} is missing (next row is {row['seq']})")
            if bytes(row["prev_hash"]) != expected_prev:
                return count, Break(row["seq"], "does not link to the row before it")
            if bytes(row["hash"]) != bytes(row["expected"]):
                return count, Break(row["seq"], "its content no longer matches its hash")
            expected_prev = bytes(row["hash"])
            expected_seq += 1
    return count, None


class Head(msgspec.Struct, frozen=True, kw_only=True):
    """The newest link of the chain: whoever saved it can later tell if the log was cut after it."""

    seq: int
    hash: str  # hex
    at: datetime


HEAD = "SELECT seq, encode(hash, 'hex') AS hash, at FROM audit_log ORDER BY seq DESC LIMIT 1"
LINK = "SELECT encode(hash, 'hex') FROM audit_log WHERE seq = $1"


async def head(conn: Connection) -> Head:
    found = await fetch_maybe(conn, Head, HEAD)
    return found or Head(seq=0, hash=GENESIS.hex(), at=datetime(1970, 1, 1, tzinfo=UTC))


async def still_holds(conn: Connection, saved: Head) -> Break | None:
    """None when the chain still has the saved head's row, unchanged; else what went wrong."""
    if saved.seq == 0:
        return None
    found = await conn.fetchval(LINK, saved.seq)
    if found is None:
        return Break(saved.seq, f"row {saved.seq} of the saved head is gone: the log was cut after it was saved")
    if found != saved.hash:
        return Break(saved.seq, f"row {saved.seq} differs from the saved head: the log was rewritten")
    return None
