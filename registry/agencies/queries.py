"""Agencies and their API keys: creation, suspension, keys shown once, and key authentication.

Shared by every feature (checks, disputes, staff pages); it never imports one of them.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from registry import audit
from registry.database import Connection
from registry.errors import Conflict, InvalidInput, Suspended, Unauthorized
from registry.jurisdiction import CHINA, Jurisdiction
from registry.rows import fetch_all, fetch_one
from registry.tokens import new_token, token_hash

KEY_PREFIX = "rk_"
# A sandbox key's prefix: its kind shows in the key itself, so a check is routed before any lookup.
SANDBOX_PREFIX = "rk_test_"
NO_AGENCY = "no such agency"
NO_KEY = "no such key"


class Agency(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    credit_code: str
    status: str
    created_at: datetime
    suspended_at: datetime | None = None
    # Notices this agency may cause in 24 hours; None: REGISTRY_NOTICE_DAILY_PER_AGENCY.
    notice_daily_budget: int | None = None


class PublicAgency(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    status: str


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    agency_id: UUID
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
    sandbox: bool = False


class IssuedKey(msgspec.Struct, frozen=True, kw_only=True):
    key_id: UUID
    agency_id: UUID
    key: str
    sandbox: bool = False


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """Who an API key speaks for."""

    agency_id: UUID
    key_id: UUID
    agency_name: str
    # A sandbox key (rk_test_...): its checks, attempts and feed are the sandbox's, never a real contact's.
    sandbox: bool = False


INSERT_AGENCY = """
    INSERT INTO agencies (name, credit_code) VALUES ($1, $2)
    RETURNING id, name, credit_code, status, created_at, suspended_at, notice_daily_budget
"""


async def create_agency(
    conn: Connection, name: str, credit_code: str, actor: str, jurisdiction: Jurisdiction = CHINA
) -> Agency:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput("name", "between 1 and 200 characters", code="agency_name_length")
    code = jurisdiction.check_agency_id(credit_code)
    async with conn.transaction():
        try:
            agency = await fetch_one(conn, Agency, INSERT_AGENCY, name, code)
        except asyncpg.UniqueViolationError:
            raise Conflict(
                f"an agency with credit code {code} is already registered", code="credit_code_taken"
            ) from None
        await audit.record(conn, actor, "agency.create", f"agency:{agency.id}", {"name": name, "credit_code": code})
    return agency


LIST_AGENCIES = """
    SELECT id, name, credit_code, status, created_at, suspended_at, notice_daily_budget
    FROM agencies ORDER BY created_at, name
"""


async def list_agencies(conn: Connection) -> list[Agency]:
    return await fetch_all(conn, Agency, LIST_AGENCIES)


GET_AGENCY = """
    SELECT id, name, credit_code, status, created_at, suspended_at, notice_daily_budget FROM agencies WHERE id = $1
"""


async def get_agency(conn: Connection, agency_id: UUID | str) -> Agency:
    return await fetch_one(
        conn, Agency, GET_AGENCY, as_uuid(agency_id, "agency_id"), missing=NO_AGENCY, code="unknown_agency"
    )


SET_STATUS = """
    UPDATE agencies
    SET status = $2, suspended_at = CASE WHEN $2 = 'suspended' THEN now() ELSE NULL END
    WHERE id = $1
    RETURNING id, name, credit_code, status, created_at, suspended_at, notice_daily_budget
"""


async def set_status(conn: Connection, agency_id: UUID | str, status: str, actor: str, reason: str = "") -> Agency:
    """Suspend or reinstate. Takes effect on the agency's next request (no cache outlives it)."""
    async with conn.transaction():
        agency = await fetch_one(
            conn, Agency, SET_STATUS, as_uuid(agency_id, "agency_id"), status, missing=NO_AGENCY, code="unknown_agency"
        )
        action = "agency.suspend" if status == "suspended" else "agency.reinstate"
        await audit.record(conn, actor, action, f"agency:{agency.id}", {"reason": reason})
    return agency


SET_NOTICE_BUDGET = """
    UPDATE agencies SET notice_daily_budget = $2 WHERE id = $1
    RETURNING id, name, credit_code, status, created_at, suspended_at, notice_daily_budget
"""


async def set_notice_budget(conn: Connection, agency_id: UUID | str, daily: int | None, actor: str) -> Agency:
    """The agency's own daily notice budget (None: the setting's). Its next check counts with it."""
    if daily is not None and not 0 <= daily <= 1_000_000:
        raise InvalidInput("daily", "a whole number from 0 to 1,000,000, or empty for the default")
    async with conn.transaction():
        agency = await fetch_one(
            conn,
            Agency,
            SET_NOTICE_BUDGET,
            as_uuid(agency_id, "agency_id"),
            daily,
            missing=NO_AGENCY,
            code="unknown_agency",
        )
        await audit.record(conn, actor, "agency.notice_budget", f"agency:{agency.id}", {"daily": daily})
    return agency


INSERT_KEY = """
    INSERT INTO api_keys (agency_id, prefix, key_hash, sandbox) VALUES ($1, $2, $3, $4) RETURNING id
"""


async def issue_key(conn: Connection, agency_id: UUID | str, actor: str, *, sandbox: bool = False) -> IssuedKey:
    """A new API key (`rk_test_...` for the sandbox); the plain key is returned once and never stored."""
    agency = await get_agency(conn, agency_id)
    key = new_token(SANDBOX_PREFIX if sandbox else KEY_PREFIX)
    while not sandbox and key.startswith(SANDBOX_PREFIX):
        key = new_token(KEY_PREFIX)  # a real key must never look like a sandbox one (about 1 in 10^9)
    async with conn.transaction():
        key_id = await conn.fetchval(INSERT_KEY, agency.id, key[: len(SANDBOX_PREFIX) + 2], token_hash(key), sandbox)
        details = {"agency_id": str(agency.id)} | ({"sandbox": True} if sandbox else {})
        await audit.record(conn, actor, "key.create", f"key:{key_id}", details)
    return IssuedKey(key_id=key_id, agency_id=agency.id, key=key, sandbox=sandbox)


REVOKE_KEY = """
    UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
    RETURNING id, agency_id, prefix, created_at, revoked_at, sandbox
"""


async def revoke_key(conn: Connection, key_id: UUID | str, actor: str) -> ApiKey:
    async with conn.transaction():
        key = await fetch_one(conn, ApiKey, REVOKE_KEY, as_uuid(key_id, "key_id"), missing=NO_KEY, code="unknown_key")
        await audit.record(conn, actor, "key.revoke", f"key:{key_id}", {"agency_id": str(key.agency_id)})
    return key


LIST_KEYS = """
    SELECT id, agency_id, prefix, created_at, revoked_at, sandbox FROM api_keys WHERE agency_id = $1 ORDER BY created_at
"""


async def list_keys(conn: Connection, agency_id: UUID) -> list[ApiKey]:
    return await fetch_all(conn, ApiKey, LIST_KEYS, agency_id)


AUTHENTICATE = """
    SELECT k.id AS key_id, k.agency_id, a.name AS agency_name, a.status, k.sandbox
    FROM api_keys k JOIN agencies a ON a.id = k.agency_id
    WHERE k.key_hash = $1 AND k.revoked_at IS NULL
"""


MISSING_KEY = "an agency API key is required: Authorization: Bearer rk_..."


async def authenticate(conn: Connection, key: str | None) -> Caller:
    """The caller behind an API key: 401 for a missing, unknown or revoked key, 403 when suspended.

    Lookup is by SHA-256 of the key through a unique index, so no secret is ever
    compared byte by byte in Python.
    """
    if not key or not key.startswith(KEY_PREFIX):
        raise Unauthorized(MISSING_KEY)
    row = await conn.fetchrow(AUTHENTICATE, token_hash(key))
    if row is None:
        raise Unauthorized("unknown or revoked API key")
    if row["status"] != "active":
        raise Suspended("this agency is suspended; checks and reports are refused until it is reinstated")
    return Caller(
        agency_id=row["agency_id"], key_id=row["key_id"], agency_name=row["agency_name"], sandbox=row["sandbox"]
    )


PUBLIC_LIST = "SELECT id, name, status FROM agencies ORDER BY name"


async def public_agencies(conn: Connection) -> list[PublicAgency]:
    return await fetch_all(conn, PublicAgency, PUBLIC_LIST)


def as_uuid(value: UUID | str, field: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(value)
    except ValueError:
        raise InvalidInput(field, "not a valid id", code="bad_id") from None
