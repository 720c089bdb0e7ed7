"""What a running service keeps doing on its own: the checks partitions ahead of the clock."""

from __future__ import annotations

import asyncio

from registry.database import Pool
from registry.errors import DATABASE_FAILURES, database_lost

PRUNE_LIMITS = "DELETE FROM rate_limits WHERE expires_at < now() - interval '1 hour'"
# Partitions are made two months ahead; checking hourly keeps that true through any month's end.
PARTITION_INTERVAL = 3600.0
MONTHS_AHEAD = 2


async def keep_partitions_ahead(
    pool: Pool, interval: float = PARTITION_INTERVAL, months_ahead: int = MONTHS_AHEAD
) -> None:
    """Every `interval` seconds, make the checks partitions of this month and the next two.

    Without it a service that runs for months writes into the default partition, and the
    owner's next start has to move those rows (ensure_check_partitions does, but slowly).
    Every process runs this; the function takes an advisory lock, so they take turns.
    """
    while True:
        try:
            async with pool.acquire() as conn:
                await conn.execute("SELECT ensure_check_partitions($1)", months_ahead)
                # Finished request-limit windows (registry/ratelimit.py) are only clutter.
                await conn.execute(PRUNE_LIMITS)
        except DATABASE_FAILURES as exc:
            database_lost(type(exc).__name__)
        await asyncio.sleep(interval)
