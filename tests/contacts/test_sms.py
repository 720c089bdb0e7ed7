"""SMS senders: the outbox and `registry outbox`, the webhook against a real local gateway."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn

from registry.contacts.cli import outbox
from registry.database import Connection
from registry.errors import Unavailable
from registry.jurisdiction import CHINA, sms_segments
from registry.settings import Settings
from registry.sms import OutboxRefused, WebhookSender, sender_for
from tests.conftest import TEST_PEPPER, TEST_SESSION_KEY, LiveServer
from tests.sms import all_sent

PHONE = "+8613800138000"


class Gateway:
    """A stand-in SMS gateway on a real loopback socket: fails the first `failures` requests with `status`."""

    def __init__(self, failures: int, status: int = 503) -> None:
        self.failures = failures
        self.status = status
        self.received: list[tuple[dict[str, Any], str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        self.received.append((json.loads(body), headers.get(b"x-registry-signature", b"").decode()))
        status = self.status if len(self.received) <= self.failures else 200
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
async def gateway_url() -> AsyncIterator[tuple[str, list[Gateway]]]:
    """Serve whichever Gateway the test puts in the list, at a loopback URL."""
    holder: list[Gateway] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await holder[0](scope, receive, send)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/sms", holder
    server.should_exit = True
    await task
    sock.close()


async def test_webhook_retries_with_backoff_and_signs_the_body(
    gateway_url: tuple[str, list[Gateway]], conn: Connection
) -> None:
    url, holder = gateway_url
    holder.append(Gateway(failures=2))
    sender = WebhookSender(url, "s3cret", attempts=3, backoff=0.01)
    await sender.send(conn, PHONE, "code 123456")
    gateway = holder[0]
    assert len(gateway.received) == 3
    payload, signature = gateway.received[-1]
    assert payload == {"to": PHONE, "text": "code 123456"}
    body = json.dumps(payload, ensure_ascii=False).encode()
    assert signature == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()


async def test_webhook_failure_is_503_and_logged_without_the_number(
    gateway_url: tuple[str, list[Gateway]], conn: Connection, caplog: pytest.LogCaptureFixture
) -> None:
    url, holder = gateway_url
    holder.append(Gateway(failures=10))
    sender = WebhookSender(url, None, attempts=3, backoff=0.01)
    with caplog.at_level(logging.WARNING, logger="registry.sms"), pytest.raises(Unavailable):
        await sender.send(conn, PHONE, "code 123456")
    assert len(holder[0].received) == 3
    assert len(caplog.records) == 3
    assert all("13800138000" not in record.getMessage() for record in caplog.records)
    assert "HTTP 503" in caplog.records[0].getMessage()


async def test_webhook_does_not_retry_a_rejected_request(
    gateway_url: tuple[str, list[Gateway]], conn: Connection
) -> None:
    url, holder = gateway_url
    holder.append(Gateway(failures=10, status=400))
    with pytest.raises(Unavailable):
        await WebhookSender(url, None, attempts=3, backoff=0.01).send(conn, PHONE, "x")
    assert len(holder[0].received) == 1


async def test_codes_go_through_the_webhook_when_it_is_set(
    gateway_url: tuple[str, list[Gateway]], conn: Connection, settings: Settings
) -> None:
    url, holder = gateway_url
    holder.append(Gateway(failures=0))
    server = LiveServer(msgspec.structs.replace(settings, sms_webhook_url=url))
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.post("/v1/contact/codes", json={"phone": "138 0013 8000"})
        # The server's SMS worker sends it a moment after the request committed.
        await all_sent(conn)
    finally:
        await server.stop()
    assert response.status_code == 202
    assert holder[0].received[0][0]["to"] == PHONE
    assert await conn.fetchval("SELECT count(*) FROM sms_outbox") == 0


def test_production_refuses_the_outbox() -> None:
    production = Settings(env="production", pepper=TEST_PEPPER, session_key=TEST_SESSION_KEY)
    with pytest.raises(OutboxRefused):
        sender_for(production)
    webhook = Settings(env="production", pepper=TEST_PEPPER, session_key=TEST_SESSION_KEY, sms_webhook_url="https://x")
    assert isinstance(sender_for(webhook), WebhookSender)


async def test_outbox_command_shows_the_code(api: httpx.AsyncClient, conn: Connection, settings: Settings) -> None:
    await api.post("/v1/contact/codes", json={"phone": PHONE})
    await api.post("/v1/contact/codes", json={"phone": "+8613900139000"})
    # The SMS worker sends a moment after the request: wait for it, or this reads a half-sent outbox.
    await all_sent(conn)
    result = await outbox(conn, settings, argparse.Namespace(phone="138 0013 8000", limit=20))
    [message] = result.data["messages"]
    assert message["phone"] == PHONE and "验证码" in message["body"]
    assert PHONE in result.text
    everything = await outbox(conn, settings, argparse.Namespace(phone=None, limit=20))
    assert len(everything.data["messages"]) == 2


async def test_registry_outbox_cli(api: httpx.AsyncClient, conn: Connection, database_url: str, tmp_path: Path) -> None:
    await api.post("/v1/contact/codes", json={"phone": PHONE})
    await all_sent(conn)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REGISTRY_DATA_DIR": str(tmp_path),
        "REGISTRY_PEPPER": TEST_PEPPER.hex(),
        "REGISTRY_SESSION_KEY": TEST_SESSION_KEY.hex(),
    }
    done = subprocess.run(
        [sys.executable, "-m", "registry", "outbox", "--phone", "+86 138 0013 8000", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [message] = json.loads(done.stdout)["messages"]
    code = await conn.fetchval("SELECT body FROM sms_outbox")
    assert message["body"] == code


@pytest.mark.parametrize("minutes", [1, 10, 60])
def test_the_code_sms_warns_of_fraud_in_both_languages_within_two_segments(minutes: int) -> None:
    text = CHINA.code_sms("123456", minutes)
    assert "123456" in text and "索要者即骗子" in text and "fraudster" in text
    assert sms_segments(text) <= 2


def test_the_receipt_sms_of_a_refusal_keeps_its_reference_whatever_the_agency_name() -> None:
    reference = "R-7KQ3-M9XP"
    assert reference in CHINA.confirmation_sms(reference) and sms_segments(CHINA.confirmation_sms(reference)) <= 2
    for name in ("安心资产管理有限公司", "一个名字非常非常长的资产管理与咨询服务有限责任公司" * 4):
        text = CHINA.agency_refusal_sms(reference, name)
        assert text.endswith(f"Receipt {reference}.") and f"回执号 {reference}" in text
        assert sms_segments(text) <= 2
        assert name[:4] in text
