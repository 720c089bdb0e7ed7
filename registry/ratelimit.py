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


class Limiter:
    """`hit(what, who, per_minute)`: count one request, or TooManyRequests with Retry-After."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.strategy = FixedWindowRateLimiter(storage)

    async def hit(self, what: str, who: str, per_minute: int, message: str) -> None:
        item = RateLimitItemPerMinute(per_minute)
        if await self.strategy.hit(item, what, who):
            return
        stats = await self.strategy.get_window_stats(item, what, who)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(message.format(limit=per_minute, retry_after=retry_after), retry_after)


def limiter_for(pool: Pool, redis_url: str | None, acquire_timeout: float = 2.0) -> Limiter:
    """Redis when REGISTRY_REDIS_URL is set (its counters are the `limits` library's own), else PostgreSQL."""
    if redis_url:
        return Limiter(RedisStorage(redis_url.replace("redis://", "async+redis://", 1)))
    return Limiter(PostgresStorage(pool, acquire_timeout))
