"""Slow clients stall nothing (issue 9, item 1): bodies are read before a pooled connection is
taken, and a request whose headers or body stop arriving is answered 408 and cut off.

The slow clients are raw sockets that send a request's start and then nothing more.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest

from registry.database import Connection
from registry.settings import Settings
from tests.conftest import LiveServer
from tests.factories import auth, bearer, complaint, contact_session, make_agency_with_key

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def send_start(server: LiveServer, head: str, body_start: bytes = b"") -> Stream:
    """Open a connection and send the start of a request, then nothing more."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(head.encode() + body_start)
    await writer.drain()
    return reader, writer


def upload_head(path: str, headers: dict[str, str], length: int = 100_000) -> str:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: multipart/form-data; boundary=slowboundary",
        f"Content-Length: {length}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return "\r\n".join(lines) + "\r\n\r\n"


async def answer(reader: asyncio.StreamReader, within: float = 10) -> tuple[str, dict[str, str], bytes]:
    """The response's status line, headers and body; TimeoutError if none comes."""
    raw = await asyncio.wait_for(reader.read(), within)  # until the server closes the connection
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return status, headers, body


@pytest.fixture
async def slow_clients() -> AsyncIterator[list[Stream]]:
    streams: list[Stream] = []
    yield streams
    for _, writer in streams:
        writer.close()


async def test_slow_uploads_hold_no_pooled_connection(
    live_server: LiveServer, api: httpx.AsyncClient, conn: Connection, slow_clients: list[Stream]
) -> None:
    """Ten uploads trickling in (the pool has 4 connections): checks and readiness still answer."""
    _, key = await make_agency_with_key(conn)
    token = await contact_session(conn, "13800138000")
    login_form = await api.get("/admin/login")
    csrf = login_form.cookies["csrftoken"]
    for n in range(10):
        if n % 2:
            # An attachment to a complaint: a contact token is all it takes.
            head = upload_head("/v1/contact/disputes/D-2026-ABCDEF/attachments", auth(token))
        else:
            # The staff sign-in form: not even a token (the CSRF token travels as a header).
            head = upload_head("/admin/login", {"X-CSRFToken": csrf, "Cookie": f"csrftoken={csrf}"})
        slow_clients.append(await send_start(live_server, head, b"-"))
    await asyncio.sleep(0.5)  # the server has read every request's headers and started on it

    checked = await api.post("/v1/checks", json={"phone": "13900139000"}, headers=bearer(key))
    assert checked.status_code == 200, checked.text
    ready = await api.get("/readyz")
    assert ready.status_code == 200, ready.text


@pytest.fixture
def impatient(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, header_timeout=1.0, body_timeout=1.0)


@pytest.fixture
async def impatient_server(impatient: Settings) -> AsyncIterator[LiveServer]:
    server = LiveServer(impatient)
    await server.start()
    yield server
    await server.stop()


async def test_a_body_that_stops_arriving_is_answered_408(
    impatient_server: LiveServer, conn: Connection, slow_clients: list[Stream]
) -> None:
    token = await contact_session(conn, "13800138000")
    head = upload_head("/v1/contact/disputes/D-2026-ABCDEF/attachments", auth(token))
    reader, writer = await send_start(impatient_server, head, b"--slowboundary\r\n")
    slow_clients.append((reader, writer))

    status, headers, body = await answer(reader)
    assert status == "HTTP/1.1 408 Request Timeout"
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    problem = json.loads(body)
    assert problem["status"] == 408 and problem["code"] == "request_timeout"
    # The server closed the connection (reader.read() above returned at end of stream).
    assert reader.at_eof()


async def test_headers_that_stop_arriving_are_answered_408(
    impatient_server: LiveServer, slow_clients: list[Stream]
) -> None:
    reader, writer = await send_start(impatient_server, "POST /v1/checks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthor")
    slow_clients.append((reader, writer))
    status, headers, _ = await answer(reader)
    assert status == "HTTP/1.1 408 Request Timeout"
    assert headers["connection"] == "close"


async def test_a_connection_that_never_speaks_is_closed(
    impatient_server: LiveServer, slow_clients: list[Stream]
) -> None:
    reader, writer = await send_start(impatient_server, "")
    slow_clients.append((reader, writer))
    status, _, _ = await answer(reader)
    assert status == "HTTP/1.1 408 Request Timeout"


async def test_a_patient_server_still_takes_a_slow_but_steady_upload(
    live_server: LiveServer, conn: Connection, slow_clients: list[Stream]
) -> None:
    """Within the deadline a body may come in pieces: the request is answered as usual."""
    token = await contact_session(conn, "13800138000")
    body = json.dumps(complaint(caller_name="Legal department")).encode()
    head = (
        "POST /v1/contact/disputes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    reader, writer = await send_start(live_server, head, body[:10])
    slow_clients.append((reader, writer))
    for start in range(10, len(body), 30):
        await asyncio.sleep(0.1)
        writer.write(body[start : start + 30])
        await writer.drain()
    status, _, answered = await answer(reader)
    assert status == "HTTP/1.1 201 Created", answered
