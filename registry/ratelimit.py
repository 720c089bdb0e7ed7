"""Request limits counted where every process sees them: PostgreSQL by default, Redis if configured.

The counting (fixed windows, keys, expiry) is the `limits` library's; this module gives it a
PostgreSQL storage, so the default install needs nothing but the database it already has.
With N workers on M hosts a key still gets its limit once, not N x M times.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import asyncpg
from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter

from registry.database import Pool
from registry.errors import TooManyRequests

INCR = """
    INSERT INTO rate_limits AS r (key, count, expires_at)
    VALUES ($1, $3, clock_timestamp() + make_interval(secs => $2))
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN r.expires_at <= clock_timestamp() THEN $3 ELSE r.count + $3 END,
        expires_at = CASE WHEN r.expires_at <= clock_timestamp()
                          THEN clock_timestamp() + make_interval(secs => $2) ELSE r.expires_at END
    RETURNING count
"""
GET = "SELECT count FROM rate_limits WHERE key = $1 AND expires_at > clock_timestamp()"
EXPIRY = "SELECT expires_at FROM rate_limits WHERE key = $1"


class PostgresStorage(Storage):
    """A `limits` storage in the table rate_limits (sql/0030_rate_limits.sql), one upsert per hit."""

    STORAGE_SCHEME = ["registry+postgresql"]  # noqa: RUF012 (the base class declares it a list)

    def __init__(self, pool: Pool, acquire_timeout: float = 2.0) -> None:
        super().__init__(uri=None)
        self.pool = pool
        # A frozen database must not hang the guard: the same deadline as every request's connection.
        self.acquire_timeout = acquire_timeout

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (asyncpg.PostgresError, OSError)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            count: int = await conn.fetchval(INCR, key, float(expiry), amount)
        return count

    async def get(self, key: str) -> int:
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            count = await conn.fetchval(GET, key)
        return int(count or 0)

    async def get_expiry(self, key: str) -> float:
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            at: datetime | None = await conn.fetchval(EXPIRY, key)
        return (at or datetime.now(UTC)).timestamp()

    async def check(self) -> bool:
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            return bool(await conn.fetchval("SELECT true"))

    async def reset(self) -> int | None:
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            await conn.execute("DELETE FROM rate_limits")
        return None

    async def clear(self, key: str) -> None:
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            await conn.execute("DELETE FROM rate_limits WHERE key = $1", key)


class Lease:
    """Requests a process may still let in on its own: taken from the shared count in advance."""

    __slots__ = ("size", "tokens", "until")

    def __init__(self, size: int, until: float) -> None:
        self.size = size
        self.tokens = size
        self.until = until


class Limiter:
    """`hit(what, who, per_minute)`: count one request, or TooManyRequests with Retry-After.

    A busy key would otherwise cost every request a round trip to the shared store and an
    update of one hot row. So a process leases several requests at once (one `hit` with a
    cost) and lets them in locally. The shared count is charged before anything is let in, so
    all processes together never exceed the limit; what a lease leaves unused when it lapses
    (after `lease_seconds`) is lost, which can only refuse early, never admit more. Leases
    start at one request and double while they are used up in time, up to a hundredth of the
    limit; a limit under 200 a minute (codes, sign-ins) is counted one by one.
    """

    def __init__(self, storage: Storage, lease_seconds: float = 1.0) -> None:
        self.storage = storage
        self.strategy = FixedWindowRateLimiter(storage)
        self.lease_seconds = lease_seconds
        self.leases: dict[tuple[str, str], Lease] = {}

    async def hit(self, what: str, who: str, per_minute: int, message: str) -> None:
        largest = per_minute // 100
        if largest <= 1:
            return await self._charge(what, who, per_minute, 1, message)
        now = time.monotonic()
        lease = self.leases.get((what, who))
        if lease is not None and lease.tokens > 0 and now < lease.until:
            lease.tokens -= 1
            return None
        # Grow while leases run out before they lapse; otherwise take what the last one used.
        if lease is None:
            size = 1
        elif now < lease.until:  # used up in time
            size = min(largest, lease.size * 2)
        else:
            size = max(1, lease.size - lease.tokens)
        if size > 1 and not await self.strategy.hit(RateLimitItemPerMinute(per_minute), what, who, cost=size):
            size = 1  # near the limit: count the rest one by one
        if size == 1:
            await self._charge(what, who, per_minute, 1, message)
        fresh = Lease(size, now + self.lease_seconds)
        fresh.tokens -= 1
        self.leases[(what, who)] = fresh
        return None

    async def _charge(self, what: str, who: str, per_minute: int, cost: int, message: str) -> None:
        item = RateLimitItemPerMinute(per_minute)
        if await self.strategy.hit(item, what, who, cost=cost):
            return
        stats = await self.strategy.get_window_stats(item, what, who)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(message.format(limit=per_minute, retry_after=retry_after), retry_after)


def limiter_for(pool: Pool, redis_url: str | None, acquire_timeout: float = 2.0) -> Limiter:
    """Redis when REGISTRY_REDIS_URL is set (its counters are the `limits` library's own), else PostgreSQL."""
    if redis_url:
        return Limiter(RedisStorage(redis_url.replace("redis://", "async+redis://", 1)))
    return Limiter(PostgresStorage(pool, acquire_timeout))
