"""The per-key request limit: 429 with Retry-After, counted per API key."""

from __future__ import annotations

import httpx
import msgspec
import pytest

from registry.database import Connection
from registry.settings import Settings
from tests.factories import bearer, make_agency_with_key
from tests.problems import problem


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, api_rate_limit_per_minute=3)


async def test_a_key_over_its_limit_gets_429_with_retry_after(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key_a = await make_agency_with_key(conn)
    _, key_b = await make_agency_with_key(conn)
    statuses = [
        (await api.post("/v1/checks", json={"phone": f"1380013800{n}"}, headers=bearer(key_a))).status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 200]
    limited = await api.get("/v1/changes", headers=bearer(key_a))
    body = problem(limited, 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "3 requests a minute" in str(body["detail"])
    problem(await api.post("/v1/checks/batch", json={"items": [{"phone": "13800138000"}]}, headers=bearer(key_a)), 429)
    # Another key has its own budget; the limited calls were not logged.
    assert (await api.post("/v1/checks", json={"phone": "13900139000"}, headers=bearer(key_b))).status_code == 200
    assert await conn.fetchval("SELECT count(*) FROM checks") == 4
