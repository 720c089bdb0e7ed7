"""Staff in one place: accounts (argon2 passwords), sign-in sessions stored as token hashes, roles.

The admin API carries the session as `Authorization: Bearer ra_...`, the staff pages as
a cookie scoped to /admin. Controllers declare `staff` (any role) or `admin` (role admin)
as dependencies; no handler checks a role by hand.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

import anyio.to_thread
import argon2
import asyncpg
import msgspec
from limits import RateLimitItemPerMinute
from litestar import Request
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide

from registry import audit
from registry.database import Connection, Pool
from registry.errors import Conflict, Forbidden, InvalidInput, TooManyRequests, Unauthorized
from registry.ratelimit import Limiter
from registry.rows import as_struct, fetch_maybe
from registry.settings import Settings
from registry.tokens import bearer, new_token, token_hash

ROLES = ("admin", "reviewer")
SESSION_PREFIX = "ra_"
SESSION_HOURS = 12
MIN_PASSWORD = 12
_hasher = argon2.PasswordHasher()
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password, only here to spend the same time")


class Staff(msgspec.Struct, frozen=True, kw_only=True):
    """The signed-in admin or reviewer behind a session token."""

    admin_id: UUID
    username: str
    role: str
    session_id: UUID

    @property
    def actor(self) -> str:
        return f"admin:{self.admin_id}"


class StaffAccount(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    username: str
    role: str
    created_at: datetime


class StaffSession(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    expires_at: datetime
    role: str
    username: str


INSERT_ADMIN = """
    INSERT INTO admins (username, password_hash, role) VALUES ($1, $2, $3)
    RETURNING id, username, role, created_at
"""


async def create_admin(conn: Connection, username: str, role: str, password: str, actor: str) -> StaffAccount:
    username = username.strip().lower()
    if not 3 <= len(username) <= 64 or any(ch not in "abcdefghijklmnopqrstuvwxyz0123456789_.-" for ch in username):
        raise InvalidInput("username", "3 to 64 of a-z, 0-9, '_', '.', '-'")
    if role not in ROLES:
        raise InvalidInput("role", "admin or reviewer")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("password", f"at least {MIN_PASSWORD} characters")
    hashed = await anyio.to_thread.run_sync(_hasher.hash, password, limiter=HASHING)
    async with conn.transaction():
        try:
            row = await conn.fetchrow(INSERT_ADMIN, username, hashed, role)
            assert row is not None
        except asyncpg.UniqueViolationError:
            raise Conflict(f"the username {username} is taken") from None
        account = as_struct(row, StaffAccount)
        await audit.record(conn, actor, "admin.create", f"admin:{account.id}", {"username": username, "role": role})
    return account


FIND_ADMIN = "SELECT id, password_hash, role, disabled_at FROM admins WHERE username = $1"
INSERT_SESSION = """
    INSERT INTO admin_sessions (admin_id, token_hash, expires_at) VALUES ($1, $2, now() + make_interval(hours => $3))
    RETURNING expires_at
"""
MAX_FAILURES = 5
LOCK_MINUTES = 15
# Tries per username, whether or not it names an account (so a lock reveals nothing): the fifth
# try in a window of LOCK_MINUTES is the last until it ends; a right password starts the count over.
# Counted before the password is checked, so a burst of concurrent guesses gets five, not fifty.
NAME_TRIES = RateLimitItemPerMinute(MAX_FAILURES, LOCK_MINUTES)
# argon2 verifications at once in this process: sized for the 2 cores a worker shares. Each takes
# 64 MiB and a core for a tenth of a second; more at once only queue in threads and memory. A
# sign-in waiting here holds no pooled connection.
HASHING = anyio.CapacityLimiter(2)
# The limiter's names for what is counted: tries per username, per client address, in all.
NAME_KEY, ADDRESS_KEY, ALL_KEY = "staff-sign-in-name", "staff-sign-in-address", "staff-sign-in"
TOO_MANY = "too many sign-in attempts; try again in {retry_after} seconds"
LOCKED = "too many wrong passwords; this account is locked for a while"


async def login(
    pool: Pool, limiter: Limiter, settings: Settings, username: str, password: str, client: str | None
) -> StaffSession:
    """A new session for a right username and password; 401 (the same for both kinds of wrong) otherwise.

    Unknown usernames cost what wrong passwords cost (a hash), count toward the same lock and
    get the same answer. No connection is held and no transaction is open while hashing: the
    account is read, then the password checked, then the outcome written, each step short.
    """
    username = username.strip().lower()
    # Cheap refusals first, in the store every worker shares, so a flood is turned away before it costs a hash.
    await limiter.hit(ADDRESS_KEY, client or "unknown", settings.staff_sign_ins_per_address_minute, TOO_MANY)
    await limiter.hit(ALL_KEY, "all", settings.staff_sign_ins_per_minute, TOO_MANY)
    name = hashlib.sha256(username.encode()).hexdigest()
    if not await limiter.strategy.hit(NAME_TRIES, NAME_KEY, name):
        window = await limiter.strategy.get_window_stats(NAME_TRIES, NAME_KEY, name)
        raise TooManyRequests(LOCKED, math.ceil(window.reset_time - time.time()), code="sign_in_locked")
    async with _connection(pool, settings) as conn:
        row = await conn.fetchrow(FIND_ADMIN, username)
    stored = row["password_hash"] if row is not None else _DUMMY_HASH
    ok = await anyio.to_thread.run_sync(_verify, stored, password, limiter=HASHING)
    if row is None or not ok or row["disabled_at"] is not None:
        if row is not None:
            # An account's failed sign-ins are audited; an unknown name names no account to record against.
            window = await limiter.strategy.get_window_stats(NAME_TRIES, NAME_KEY, name)
            details = {"username": username, "locked": window.remaining == 0}
            async with _connection(pool, settings) as conn, conn.transaction():
                await audit.record(conn, "anonymous", "admin.login_failed", f"admin:{row['id']}", details)
        raise Unauthorized("wrong username or password")
    token = new_token(SESSION_PREFIX)
    async with _connection(pool, settings) as conn, conn.transaction():
        expires_at = await conn.fetchval(INSERT_SESSION, row["id"], token_hash(token), SESSION_HOURS)
        await audit.record(conn, f"admin:{row['id']}", "admin.login", f"admin:{row['id']}", {"username": username})
    await limiter.strategy.clear(NAME_TRIES, NAME_KEY, name)
    return StaffSession(token=token, expires_at=expires_at, role=row["role"], username=username)


@asynccontextmanager
async def _connection(pool: Pool, settings: Settings) -> AsyncIterator[Connection]:
    """A pooled connection for one short step (a busy or frozen database: TimeoutError, answered 503)."""
    proxy = await pool.acquire(timeout=settings.db_acquire_timeout)
    try:
        # The pool hands out a proxy that behaves as a Connection; the stubs type the two apart.
        yield cast("Connection", proxy)
    finally:
        await pool.release(proxy)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except argon2.exceptions.VerificationError:
        return False
    except argon2.exceptions.InvalidHashError:
        return False


AUTHENTICATE = """
    SELECT s.id AS session_id, a.id AS admin_id, a.username, a.role
    FROM admin_sessions s JOIN admins a ON a.id = s.admin_id
    WHERE s.token_hash = $1 AND s.ended_at IS NULL AND s.expires_at > now() AND a.disabled_at IS NULL
"""


async def authenticate(conn: Connection, token: str | None) -> Staff:
    """The staff member behind a session token (looked up by its SHA-256 through a unique index)."""
    if not token or not token.startswith(SESSION_PREFIX):
        raise Unauthorized("an admin session is required: Authorization: Bearer ra_...")
    staff = await fetch_maybe(conn, Staff, AUTHENTICATE, token_hash(token))
    if staff is None:
        raise Unauthorized("unknown, ended or expired admin session")
    return staff


END_SESSION = "UPDATE admin_sessions SET ended_at = now() WHERE id = $1 AND ended_at IS NULL"


async def logout(conn: Connection, staff: Staff) -> None:
    async with conn.transaction():
        await conn.execute(END_SESSION, staff.session_id)
        await audit.record(conn, staff.actor, "admin.logout", staff.actor, {})


def session_lifetime() -> timedelta:
    return timedelta(hours=SESSION_HOURS)


# ---- the dependencies controllers declare --------------------------------------------------------

COOKIE = "admin_session"
COOKIE_PATH = "/admin"


class StaffSignInRequired(Exception):
    """A staff page was opened without a live staff session: the pages answer with the sign-in page."""


def admin_role(staff: Staff) -> Staff:
    if staff.role != "admin":
        raise Forbidden("this needs the admin role; reviewers may read and decide disputes only", code="admin_only")
    return staff


async def bearer_staff(request: Request[Any, Any, Any], conn: NamedDependency[Connection]) -> Staff:
    """The admin API's staff member (bearer token), any role."""
    return await authenticate(conn, bearer(request.headers.get("authorization")))


async def bearer_admin(request: Request[Any, Any, Any], conn: NamedDependency[Connection]) -> Staff:
    """The admin API's staff member with the admin role (403 for a reviewer)."""
    return admin_role(await bearer_staff(request, conn))


async def cookie_staff(request: Request[Any, Any, Any], conn: NamedDependency[Connection]) -> Staff:
    """The staff pages' staff member (session cookie), any role; StaffSignInRequired without one."""
    try:
        return await authenticate(conn, request.cookies.get(COOKIE))
    except Unauthorized:
        raise StaffSignInRequired() from None


async def cookie_admin(request: Request[Any, Any, Any], conn: NamedDependency[Connection]) -> Staff:
    return admin_role(await cookie_staff(request, conn))


# Declared on controllers (`dependencies=`) and on handlers that need the admin role.
API_STAFF = {"staff": Provide(bearer_staff)}
API_ADMIN = {"staff": Provide(bearer_admin)}
PAGE_STAFF = {"staff": Provide(cookie_staff)}
PAGE_ADMIN = {"staff": Provide(cookie_admin)}


def session_cookie(settings: Settings, token: str, max_age: int) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=token,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="strict",
    )
