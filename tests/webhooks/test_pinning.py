"""Where the worker connects: to the address its one lookup answered, and nowhere a redirect points.

Development settings (any address allowed), so the receivers can run on loopback; the lookup and
the connection are the same as in production, only the refusal of non-public answers is off
(tests/webhooks/test_ssrf.py has that part).
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest

from registry.database import Connection
from registry.settings import Settings
from registry.webhooks.pinning import PinnedTransport
from tests.factories import bearer, contact_session, file_dispute, make_agency_with_key
from tests.webhooks.certificates import Authority
from tests.webhooks.deliveries import wait_for_a_try
from tests.webhooks.dns import NAME, HostileDns
from tests.webhooks.receiver import receiver

CONTACT = "+8613800138000"


async def register(api: httpx.AsyncClient, key: str, url: str) -> None:
    answer = await api.put("/v1/webhook", json={"url": url, "events": ["dispute.filed"]}, headers=bearer(key))
    assert answer.status_code == 200, answer.text


async def test_the_request_goes_to_the_address_the_lookup_answered_not_a_second_answer(
    api: httpx.AsyncClient, conn: Connection, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name answers 127.0.0.1 once and 127.0.0.2 from then on; a receiver listens on each, on the
    same port. A worker that looked the name up again to connect would reach the second."""
    dns = HostileDns(["127.0.0.1", "127.0.0.2"])
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    agency, key = await make_agency_with_key(conn)
    async with receiver([204]) as first, receiver([204], host="127.0.0.2", port=first.port) as second:
        await register(api, key.key, f"http://{NAME}:{first.port}/hooks/registry")
        await file_dispute(conn, settings, await contact_session(conn, CONTACT), agency.id)
        [request] = await first.wait_for(1)
        await asyncio.sleep(0.2)  # time for a stray second request to arrive, were there one
    assert second.received == []
    assert dns.answered == ["127.0.0.1"]
    # Above the socket the name is kept: the receiver sees it in Host (and TLS would verify it).
    assert request.headers["host"] == f"{NAME}:{first.port}"


async def test_a_redirect_is_not_followed(api: httpx.AsyncClient, conn: Connection, settings: Settings) -> None:
    agency, key = await make_agency_with_key(conn)
    async with receiver([204]) as elsewhere, receiver([307], location=elsewhere.url) as hooks:
        await register(api, key.key, hooks.url)
        await file_dispute(conn, settings, await contact_session(conn, CONTACT), agency.id)
        tried = await wait_for_a_try(api, key.key)
        assert len(hooks.received) >= 1
    assert tried["last_error"] == "HTTP 307" and tried["status"] == "pending"
    assert elsewhere.received == []


async def test_tls_is_verified_for_the_name_while_the_socket_goes_to_the_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receiver's certificate names only NAME: the pinned connection to 127.0.0.1 is accepted for
    NAME (SNI and verification use the name), and the same server asked by its address is not."""
    dns = HostileDns(["127.0.0.1", "127.0.0.2"])
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    authority = Authority()
    transport = PinnedTransport(production=False, ssl_context=authority.trusting_context())
    async with (
        receiver([204], tls=authority.issue(NAME, tmp_path)) as hooks,
        httpx.AsyncClient(transport=transport, trust_env=False) as client,
    ):
        answer = await client.post(f"https://{NAME}:{hooks.port}/hooks/registry", content=b"{}")
        assert answer.status_code == 204
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.post(f"https://127.0.0.1:{hooks.port}/hooks/registry", content=b"{}")
    assert dns.answered == ["127.0.0.1"]
    assert [request.headers["host"] for request in hooks.received] == [f"{NAME}:{hooks.port}"]
