"""Every agency route is rate limited: with two requests a minute per key, the third is a 429.

/v1/disputes used to skip the limiter entirely; the guard is now declared on every agency
controller. Each route is tried on its own key, and another key keeps its own budget.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import pytest

from registry.database import Connection
from registry.settings import Settings
from tests.factories import bearer, make_agency_with_key
from tests.problems import problem

PER_MINUTE = 2
RECENT = (datetime.now(UTC) - timedelta(hours=1)).isoformat()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, api_rate_limit_per_minute=PER_MINUTE)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/disputes", None),
        ("GET", "/v1/disputes/D-2026-AAAAAA", None),
        ("POST", "/v1/disputes/D-2026-AAAAAA/responses", {"text": "we did not call"}),
        ("GET", "/v1/changes", None),
        ("POST", "/v1/attempts", {"phone": "13800138000", "occurred_at": RECENT, "channel": "call"}),
    ],
)
async def test_the_third_request_of_a_minute_is_429_on_every_agency_route(
    api: httpx.AsyncClient, conn: Connection, method: str, path: str, body: dict[str, object] | None
) -> None:
    _, key = await make_agency_with_key(conn)
    _, other_key = await make_agency_with_key(conn)
    for _ in range(PER_MINUTE):
        answer = await api.request(method, path, json=body, headers=bearer(key))
        assert answer.status_code != 429, answer.text
    limited = await api.request(method, path, json=body, headers=bearer(key))
    refusal = problem(limited, 429)
    assert refusal["code"] == "too_many_requests"
    assert f"{PER_MINUTE} requests a minute" in refusal["detail"]
    assert limited.headers["retry-after"].isdigit()
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # The budget is the key's: another agency's key is not limited by it.
    assert (await api.request(method, path, json=body, headers=bearer(other_key))).status_code != 429


async def test_a_limited_report_is_not_recorded(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    report = {"phone": "13800138000", "occurred_at": RECENT, "channel": "call"}
    statuses = [(await api.post("/v1/attempts", json=report, headers=bearer(key))).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    assert await conn.fetchval("SELECT count(*) FROM attempts") == 2
