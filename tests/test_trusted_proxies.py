"""X-Forwarded-For counts only from REGISTRY_TRUSTED_PROXIES (issue 9, item 4).

Before, uvicorn believed the header from 127.0.0.1, so any process on the host (or a proxy
that passes the header through) got a fresh client address per request and walked past the
per-address limits. The suite's settings trust 127.0.0.1 on purpose, to pose as many clients;
these tests say what happens without that trust, and with a CIDR.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest

from registry.settings import ContactLimits, Settings, SettingsError
from tests.conftest import LiveServer


async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    server = LiveServer(settings)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            yield client
    finally:
        await server.stop()


def two_codes_per_client(settings: Settings, trusted: tuple[str, ...]) -> Settings:
    contact = msgspec.structs.replace(ContactLimits(), code_sends_per_client_hour=2)
    return msgspec.structs.replace(settings, contact=contact, trusted_proxies=trusted)


@pytest.fixture
async def untrusting(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for client in serve(two_codes_per_client(settings, ())):
        yield client


@pytest.fixture
async def trusting_loopback_net(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for client in serve(two_codes_per_client(settings, ("127.0.0.0/8",))):
        yield client


async def ask_codes(client: httpx.AsyncClient, count: int) -> list[int]:
    """Codes for `count` different numbers, each request claiming another client address."""
    answers = []
    for n in range(count):
        response = await client.post(
            "/v1/contact/codes",
            json={"phone": f"+861380013{n:04d}"},
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
        )
        answers.append(response.status_code)
    return answers


async def test_without_trusted_proxies_the_header_is_ignored(untrusting: httpx.AsyncClient) -> None:
    # All three come from the one real peer, 127.0.0.1, whatever they claim: the third is over its limit.
    assert await ask_codes(untrusting, 3) == [202, 202, 429]


async def test_a_trusted_network_names_the_client(trusting_loopback_net: httpx.AsyncClient) -> None:
    # The peer is in 127.0.0.0/8, so the forwarded address is the client: three clients, one code each.
    assert await ask_codes(trusting_loopback_net, 3) == [202, 202, 202]


def test_the_setting_reads_addresses_and_networks(tmp_path: Path) -> None:
    env = {"REGISTRY_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(env).trusted_proxies == ()
    listed = Settings.from_env({**env, "REGISTRY_TRUSTED_PROXIES": " 10.0.0.5, 10.1.0.0/16 ,::1 "})
    assert listed.trusted_proxies == ("10.0.0.5", "10.1.0.0/16", "::1")
    with pytest.raises(SettingsError, match=r"REGISTRY_TRUSTED_PROXIES: 'proxy.internal' is not an IP address"):
        Settings.from_env({**env, "REGISTRY_TRUSTED_PROXIES": "10.0.0.5,proxy.internal"})
