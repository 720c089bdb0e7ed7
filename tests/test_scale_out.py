"""Two `registry serve` processes on different ports against one database share every limit.

Before, the per-key API limit lived in each worker's memory: two processes allowed twice
the limit. Now it is counted in the store they share (PostgreSQL here; Redis below).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from registry.database import Connection
from registry.settings import Settings
from tests.factories import bearer, make_agency_with_key

LIMIT = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def serving(settings: Settings, database_url: str, **extra: str) -> AsyncIterator[str]:
    """One `registry serve` process of its own; yields its base URL once /readyz answers."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "REGISTRY_PEPPER": settings.pepper.hex(),
        "REGISTRY_SESSION_KEY": settings.session_key.hex(),
        "REGISTRY_API_RATE_LIMIT_PER_MINUTE": str(LIMIT),
        "REGISTRY_POOL_MIN_SIZE": "1",
        "REGISTRY_POOL_MAX_SIZE": "2",
        **extra,
    }
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log = settings.data_dir / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "registry", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            for _ in range(300):
                if process.poll() is not None:
                    raise AssertionError(log.read_text())
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        yield url
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)


async def spend_the_limit_across(first: str, second: str, key: str) -> list[int]:
    statuses = []
    async with httpx.AsyncClient(timeout=10) as client:
        for n in range(LIMIT + 2):
            url = first if n % 2 == 0 else second
            answer = await client.get(f"{url}/v1/changes", headers=bearer(key))
            statuses.append(answer.status_code)
    return statuses


async def test_two_processes_share_the_api_limit(conn: Connection, settings: Settings, database_url: str) -> None:
    _, key = await make_agency_with_key(conn)
    async with serving(settings, database_url) as first, serving(settings, database_url) as second:
        statuses = await spend_the_limit_across(first, second, key.key)
    # Five requests in all were allowed, however they were spread over the two processes.
    assert statuses == [200] * LIMIT + [429, 429], statuses


async def test_the_limit_can_live_in_redis(conn: Connection, settings: Settings, database_url: str) -> None:
    """With REGISTRY_REDIS_URL the counters are Redis's (the machine runs one at 127.0.0.1:6379)."""
    _, key = await make_agency_with_key(conn)
    redis = {"REGISTRY_REDIS_URL": os.environ.get("REGISTRY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")}
    async with serving(settings, database_url, **redis) as first, serving(settings, database_url, **redis) as second:
        statuses = await spend_the_limit_across(first, second, key.key)
    assert statuses == [200] * LIMIT + [429, 429], statuses
    assert await conn.fetchval("SELECT count(*) FROM rate_limits") == 0  # nothing counted in PostgreSQL
