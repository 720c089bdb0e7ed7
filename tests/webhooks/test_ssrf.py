"""In production a webhook may only lead to the public internet: refused when registered, and again at delivery."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest

from registry.database import Connection
from registry.settings import Settings
from registry.webhooks import sealing
from tests.conftest import TEST_SESSION_KEY, settings_for
from tests.factories import bearer, contact_session, file_dispute, make_agency_with_key
from tests.problems import fields, problem
from tests.webhooks.deliveries import wait_for_a_try
from tests.webhooks.dns import NAME, HostileDns
from tests.webhooks.receiver import receiver


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Production: webhook URLs are checked for where they lead (the rest is as in the other tests)."""
    return settings_for(
        database_url,
        tmp_path,
        env="production",
        sms_webhook_url="https://sms-gateway.invalid/send",
        sms_webhook_secret="gateway-secret",
        public_url="https://registry.example.org",
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://127.0.0.1/hooks", "127.0.0.1"),
        ("https://localhost:8443/hooks", "loopback"),
        ("https://10.1.2.3/hooks", "10.1.2.3"),
        ("https://192.168.0.10/hooks", "192.168.0.10"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("https://[::1]/hooks", "::1"),
        ("https://[::ffff:127.0.0.1]/hooks", "127.0.0.1"),
        ("https://[fe80::1]/hooks", "fe80::1"),
        ("http://93.184.215.14/hooks", "https"),
        ("https://user:pw@93.184.215.14/hooks", "user name"),
    ],
)
async def test_production_refuses_urls_that_lead_inside(
    api: httpx.AsyncClient, conn: Connection, url: str, says: str
) -> None:
    _, key = await make_agency_with_key(conn)
    refused = await api.put("/v1/webhook", json={"url": url, "events": ["permit.revoked"]}, headers=bearer(key.key))
    body = problem(refused, 422)
    assert fields(body) == ["url"] and body["code"] == "webhook_url_refused"
    assert says in body["errors"][0]["detail"]
    assert await conn.fetchval("SELECT count(*) FROM webhooks") == 0


async def test_production_takes_a_public_address(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    url = "https://93.184.215.14/hooks"
    taken = await api.put("/v1/webhook", json={"url": url, "events": ["dispute.filed"]}, headers=bearer(key.key))
    assert taken.status_code == 200, taken.text


async def test_production_checks_again_before_delivering(
    api: httpx.AsyncClient, conn: Connection, settings: Settings
) -> None:
    """A URL that led outside when registered may lead inside later (a name pointed elsewhere): as if it
    did, the row holds a loopback receiver's address (https, as production registers only those); the
    worker refuses to call it and says why."""
    agency, key = await make_agency_with_key(conn)
    async with receiver([204]) as hooks:
        secret = sealing.sealer_for(TEST_SESSION_KEY).seal(agency.id, sealing.new_secret())
        await conn.execute(
            "INSERT INTO webhooks (agency_id, url, events, sealed_secret) VALUES ($1, $2, $3, $4)",
            agency.id,
            hooks.url.replace("http://", "https://"),
            ["dispute.filed"],
            secret,
        )
        token = await contact_session(conn, "+8613800138000")
        await file_dispute(conn, settings, token, agency.id)
        tried = await wait_for_a_try(api, key.key)
        assert hooks.received == []
    assert tried["status"] == "pending" and tried["next_try_at"] is not None
    error = str(tried["last_error"])
    assert error.startswith("not sent:") and "127.0.0.1" in error


async def test_production_refuses_a_name_turned_to_loopback_after_registration(
    api: httpx.AsyncClient, conn: Connection, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name answers a public address when registered, then 127.0.0.1. The worker
    looks it up once, refuses what it got, and no connection reaches loopback at all."""
    dns = HostileDns(["93.184.215.14", "127.0.0.1"])
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    knocks = 0

    async def knocked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal knocks
        knocks += 1
        writer.close()

    agency, key = await make_agency_with_key(conn)
    async with await asyncio.start_server(knocked, "127.0.0.1", 0) as loopback:
        url = f"https://{NAME}:{loopback.sockets[0].getsockname()[1]}/hooks"
        taken = await api.put("/v1/webhook", json={"url": url, "events": ["dispute.filed"]}, headers=bearer(key.key))
        assert taken.status_code == 200, taken.text
        token = await contact_session(conn, "+8613800138000")
        await file_dispute(conn, settings, token, agency.id)
        tried = await wait_for_a_try(api, key.key)
    assert tried["last_error"] == "not sent: resolves to 127.0.0.1, a private, loopback or link-local address"
    assert knocks == 0
    assert dns.answered[:2] == ["93.184.215.14", "127.0.0.1"]  # (a retry may have asked again since)
