"""Leased limits: a busy key pays the shared store a round trip per lease, not per request,
and all processes together still never let in more than the limit.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from registry.errors import TooManyRequests
from registry.ratelimit import Limiter, PostgresStorage

MESSAGE = "limited to {limit}; retry after {retry_after} s"


class CountingStorage(PostgresStorage):
    """The real PostgreSQL storage, counting its round trips."""

    increments = 0

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        self.increments += 1
        return await super().incr(key, expiry, amount)


async def admitted(limiter: Limiter, per_minute: int, requests: int) -> int:
    let_in = 0
    for _ in range(requests):
        try:
            await limiter.hit("agency-key", "k", per_minute, MESSAGE)
            let_in += 1
        except TooManyRequests:
            pass
    return let_in


async def test_two_processes_never_admit_more_than_the_limit_and_rarely_ask_the_store(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        storage = CountingStorage(pool)
        first, second = Limiter(storage), Limiter(storage)  # two processes' limiters, one shared store
        per_minute = 2000  # leases of up to 20 requests
        let_in = sum(await asyncio.gather(admitted(first, per_minute, 900), admitted(second, per_minute, 900)))
        assert let_in == 1800
        assert storage.increments < 1800 / 10  # far fewer round trips than requests
        let_in += sum(await asyncio.gather(admitted(first, per_minute, 200), admitted(second, per_minute, 200)))
        # Never more than the limit; early refusals are at most one failed lease per process.
        assert per_minute - 2 * (per_minute // 100) <= let_in <= per_minute
        counted = await pool.fetchval("SELECT count FROM rate_limits WHERE key LIKE '%agency-key%'")
        assert counted >= let_in
    finally:
        await pool.close()


async def test_a_lease_unused_when_it_lapses_shrinks_to_what_was_used(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        limiter = Limiter(CountingStorage(pool), lease_seconds=0.05)
        for _ in range(40):  # a burst: leases grow 1, 2, 4, 8, 16, ...
            await limiter.hit("agency-key", "k", 6000, MESSAGE)
        for _ in range(2):  # then one request per lapsed lease: the lease shrinks to what was used
            await asyncio.sleep(0.06)
            await limiter.hit("agency-key", "k", 6000, MESSAGE)
        before = await pool.fetchval("SELECT count FROM rate_limits")
        for _ in range(3):  # and each is charged one, not a whole lease
            await asyncio.sleep(0.06)
            await limiter.hit("agency-key", "k", 6000, MESSAGE)
        assert await pool.fetchval("SELECT count FROM rate_limits") - before == 3
        assert limiter.leases[("agency-key", "k")].size == 1
    finally:
        await pool.close()


@pytest.mark.parametrize("per_minute", [2, 150])
async def test_small_limits_are_counted_one_by_one(database_url: str, per_minute: int) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        storage = CountingStorage(pool)
        assert await admitted(Limiter(storage), per_minute, per_minute + 3) == per_minute
        assert storage.increments == per_minute + 3
    finally:
        await pool.close()
