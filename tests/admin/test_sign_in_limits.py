"""Staff sign-in is no free denial of service, and says nothing about which usernames exist (issue 9, item 2).

Before: argon2 ran while the request held a pooled connection and an open transaction, so
twenty sign-ins took the pool and the pre-dial check answered 503; unknown usernames were
never limited and always answered 401, while known ones locked (enumeration).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest

from registry.database import Connection
from registry.sessions import staff
from registry.settings import Settings
from tests.conftest import LiveServer
from tests.factories import PASSWORD, bearer, make_agency_with_key, make_staff


def from_address(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def sign_in(api: httpx.AsyncClient, username: str, password: str, address: str) -> httpx.Response:
    body = {"username": username, "password": password}
    return await api.post("/v1/admin/sessions", json=body, headers=from_address(address))


async def test_unknown_usernames_lock_exactly_like_real_ones(api: httpx.AsyncClient, conn: Connection) -> None:
    real = await make_staff(conn, "admin")
    answers: dict[str, list[httpx.Response]] = {real: [], "no.such.person": []}
    for username, responses in answers.items():
        for n in range(6):
            # A new address each time: only the per-username lock applies.
            responses.append(await sign_in(api, username, f"wrong guess {n}", f"10.6.{len(username)}.{n}"))
    real_answers, unknown_answers = answers[real], answers["no.such.person"]
    assert [r.status_code for r in real_answers] == [r.status_code for r in unknown_answers] == [401] * 5 + [429]
    for known, unknown in zip(real_answers, unknown_answers, strict=True):
        assert known.json()["code"] == unknown.json()["code"]
        assert known.json()["detail"] == unknown.json()["detail"]
        assert known.headers.get("www-authenticate") == unknown.headers.get("www-authenticate")
    assert real_answers[-1].json()["code"] == "sign_in_locked"
    assert 800 <= int(real_answers[-1].headers["retry-after"]) <= 900
    assert 800 <= int(unknown_answers[-1].headers["retry-after"]) <= 900
    # The real account is locked even for its right password; so, in the same words, is the unknown name.
    assert (await sign_in(api, real, PASSWORD, "10.6.99.1")).json()["code"] == "sign_in_locked"
    assert (await sign_in(api, "no.such.person", PASSWORD, "10.6.99.2")).json()["code"] == "sign_in_locked"


@pytest.fixture
def strict_limits(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, staff_sign_ins_per_address_minute=3, staff_sign_ins_per_minute=5)


@pytest.fixture
async def strict_api(strict_limits: Settings) -> AsyncIterator[httpx.AsyncClient]:
    server = LiveServer(strict_limits)
    await server.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client
    await server.stop()


async def test_sign_ins_are_limited_per_address_and_in_all(strict_api: httpx.AsyncClient) -> None:
    one_address = [await sign_in(strict_api, f"someone{n}", "wrong password", "10.7.0.1") for n in range(4)]
    assert [r.status_code for r in one_address] == [401, 401, 401, 429]
    assert one_address[-1].json()["code"] == "too_many_requests"
    assert 0 < int(one_address[-1].headers["retry-after"]) <= 60
    # Another address still may (the fourth and fifth tries in all)...
    assert (await sign_in(strict_api, "someone", "wrong password", "10.7.0.2")).status_code == 401
    assert (await sign_in(strict_api, "someone", "wrong password", "10.7.0.3")).status_code == 401
    # ...until the limit in all is reached, whatever the address.
    beyond = await sign_in(strict_api, "someone", "wrong password", "10.7.0.4")
    assert beyond.status_code == 429 and beyond.json()["code"] == "too_many_requests"


def slow_wrong_password(stored: str, password: str) -> bool:
    """A password check that takes 2.5 s (a busy machine, or an attacker's long password), then fails."""
    time.sleep(2.5)
    return False


async def test_sign_ins_hold_no_connection_or_transaction_while_hashing(
    api: httpx.AsyncClient, live_server: LiveServer, conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four slow sign-ins at once (the pool has 4 connections): the checks meanwhile still get one."""
    _, key = await make_agency_with_key(conn)
    monkeypatch.setattr(staff, "_verify", slow_wrong_password)
    flood = [asyncio.create_task(sign_in(api, f"nobody{n}", "wrong password", f"10.9.{n}.1")) for n in range(4)]
    await asyncio.sleep(0.5)  # the sign-ins are in their password checks now

    in_transaction = await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'"
    )
    assert in_transaction == 0
    checked = await api.post("/v1/checks", json={"phone": "+8613900139000"}, headers=bearer(key))
    assert checked.status_code == 200, checked.text
    assert [a.status_code for a in await asyncio.gather(*flood)] == [401] * 4


async def sign_in_on_page(client: httpx.AsyncClient, username: str, address: str) -> httpx.Response:
    if "csrftoken" not in client.cookies:
        await client.get("/admin/login")
    return await client.post(
        "/admin/login",
        data={"username": username, "password": "wrong password"},
        headers={"X-CSRFToken": client.cookies["csrftoken"], "Accept-Language": "en", **from_address(address)},
    )


async def test_the_sign_in_page_says_which_limit_was_met(api: httpx.AsyncClient, strict_api: httpx.AsyncClient) -> None:
    answers = [await sign_in_on_page(api, "no.such.person", f"10.10.0.{n}") for n in range(6)]
    assert [a.status_code for a in answers] == [401] * 5 + [429]
    assert "Too many wrong passwords: this account is locked for 15 minutes." in answers[-1].text

    answers = [await sign_in_on_page(strict_api, f"someone{n}", "10.10.1.1") for n in range(4)]
    assert [a.status_code for a in answers] == [401] * 3 + [429]
    assert "Too many tries. Please wait 1 minutes, then try again." in answers[-1].text
    assert int(answers[-1].headers["retry-after"]) <= 60
