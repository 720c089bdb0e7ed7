"""Agencies and their API keys: creation, suspension, keys shown once, and key authentication."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from registry import audit
from registry.database import Connection
from registry.errors import Conflict, InvalidInput, NotFound, Suspended, Unauthorized
from registry.tokens import new_token, token_hash

# GB 32100-2015: the unified social credit code's alphabet and check-character weights.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
KEY_PREFIX = "rk_"


class Agency(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    credit_code: str
    status: str
    created_at: datetime
    suspended_at: datetime | None = None


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


class IssuedKey(msgspec.Struct, frozen=True, kw_only=True):
    key_id: UUID
    agency_id: UUID
    key: str


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """Who an API key speaks for."""

    agency_id: UUID
    key_id: UUID
    agency_name: str


def check_credit_code(raw: str, field: str = "credit_code") -> str:
    code = raw.strip().upper()
    if len(code) != 18:
        raise InvalidInput(field, "a unified social credit code has 18 characters")
    if any(ch not in CREDIT_CODE_ALPHABET for ch in code):
        raise InvalidInput(field, "only digits and the letters A-Y without I, O, S, V and Z are allowed")
    total = sum(CREDIT_CODE_ALPHABET.index(ch) * w for ch, w in zip(code[:17], CREDIT_CODE_WEIGHTS, strict=True))
    expected = CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]
    if code[17] != expected:
        raise InvalidInput(field, "the check character does not match (typo?)")
    return code


def with_check_character(first17: str) -> str:
    """Complete 17 characters into a valid code (for tests and fixtures)."""
    total = sum(CREDIT_CODE_ALPHABET.index(ch) * w for ch, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return first17 + CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


INSERT_AGENCY = """
    INSERT INTO agencies (name, credit_code) VALUES ($1, $2)
    RETURNING id, name, credit_code, status, created_at, suspended_at
"""


async def create_agency(conn: Connection, name: str, credit_code: str, actor: str) -> Agency:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput("name", "between 1 and 200 characters")
    code = check_credit_code(credit_code)
    async with conn.transaction():
        try:
            row = await conn.fetchrow(INSERT_AGENCY, name, code)
        except asyncpg.UniqueViolationError:
            raise Conflict(f"an agency with credit code {code} is already registered") from None
        assert row is not None
        agency = msgspec.convert(dict(row), Agency)
        await audit.record(conn, actor, "agency.create", f"agency:{agency.id}", {"name": name, "credit_code": code})
    return agency


LIST_AGENCIES = """
    SELECT id, name, credit_code, status, created_at, suspended_at FROM agencies ORDER BY created_at, name
"""


async def list_agencies(conn: Connection) -> list[Agency]:
    return [msgspec.convert(dict(row), Agency) for row in await conn.fetch(LIST_AGENCIES)]


GET_AGENCY = "SELECT id, name, credit_code, status, created_at, suspended_at FROM agencies WHERE id = $1"


async def get_agency(conn: Connection, agency_id: UUID | str) -> Agency:
    row = await conn.fetchrow(GET_AGENCY, _uuid(agency_id, "agency_id"))
    if row is None:
        raise NotFound("no such agency")
    return msgspec.convert(dict(row), Agency)


SET_STATUS = """
    UPDATE agencies
    SET status = $2, suspended_at = CASE WHEN $2 = 'suspended' THEN now() ELSE NULL END
    WHERE id = $1
    RETURNING id, name, credit_code, status, created_at, suspended_at
"""


async def set_status(conn: Connection, agency_id: UUID | str, status: str, actor: str, reason: str = "") -> Agency:
    """Suspend or reinstate. Takes effect on the agency's next request (no cache outlives it)."""
    async with conn.transaction():
        row = await conn.fetchrow(SET_STATUS, _uuid(agency_id, "agency_id"), status)
        if row is None:
            raise NotFound("no such agency")
        agency = msgspec.convert(dict(row), Agency)
        action = "agency.suspend" if status == "suspended" else "agency.reinstate"
        await audit.record(conn, actor, action, f"agency:{agency.id}", {"reason": reason})
    return agency


INSERT_KEY = """
    INSERT INTO api_keys (agency_id, prefix, key_hash) VALUES ($1, $2, $3) RETURNING id
"""


async def issue_key(conn: Connection, agency_id: UUID | str, actor: str) -> IssuedKey:
    """A new API key; the plain key is returned once and never stored."""
    agency = await get_agency(conn, agency_id)
    key = new_token(KEY_PREFIX)
    async with conn.transaction():
        key_id = await conn.fetchval(INSERT_KEY, agency.id, key[:10], token_hash(key))
        await audit.record(conn, actor, "key.create", f"key:{key_id}", {"agency_id": str(agency.id)})
    return IssuedKey(key_id=key_id, agency_id=agency.id, key=key)


REVOKE_KEY = """
    UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
    RETURNING id, agency_id, prefix, created_at, revoked_at
"""


async def revoke_key(conn: Connection, key_id: UUID | str, actor: str) -> ApiKey:
    async with conn.transaction():
        row = await conn.fetchrow(REVOKE_KEY, _uuid(key_id, "key_id"))
        if row is None:
            raise NotFound("no such key")
        await audit.record(conn, actor, "key.revoke", f"key:{key_id}", {"agency_id": str(row["agency_id"])})
    return msgspec.convert(dict(row), ApiKey)


LIST_KEYS = """
    SELECT id, agency_id, prefix, created_at, revoked_at FROM api_keys WHERE agency_id = $1 ORDER BY created_at
"""


async def list_keys(conn: Connection, agency_id: UUID) -> list[ApiKey]:
    return [msgspec.convert(dict(row), ApiKey) for row in await conn.fetch(LIST_KEYS, agency_id)]


AUTHENTICATE = """
    SELECT k.id AS key_id, k.agency_id, a.name AS agency_name, a.status
    FROM api_keys k JOIN agencies a ON a.id = k.agency_id
    WHERE k.key_hash = $1 AND k.revoked_at IS NULL
"""


async def authenticate(conn: Connection, key: str | None) -> Caller:
    """The caller behind an API key: 401 for a missing, unknown or revoked key, 403 when suspended.

    Lookup is by SHA-256 of the key through a unique index, so no secret is ever
    compared byte by byte in Python.
    """
    if not key or not key.startswith(KEY_PREFIX):
        raise Unauthorized("an agency API key is required: Authorization: Bearer rk_...")
    row = await conn.fetchrow(AUTHENTICATE, token_hash(key))
    if row is None:
        raise Unauthorized("unknown or revoked API key")
    if row["status"] != "active":
        raise Suspended("this agency is suspended; checks and reports are refused until it is reinstated")
    return Caller(agency_id=row["agency_id"], key_id=row["key_id"], agency_name=row["agency_name"])


PUBLIC_LIST = "SELECT id, name, status FROM agencies ORDER BY name"


async def public_agencies(conn: Connection) -> list[PublicAgency]:
    return [msgspec.convert(dict(row), PublicAgency) for row in await conn.fetch(PUBLIC_LIST)]


def _uuid(value: UUID | str, field: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(value)
    except ValueError:
        raise InvalidInput(field, "not a valid id") from None
