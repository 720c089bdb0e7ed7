"""An agency's webhook receiver, as a test runs it: a real HTTP server on loopback that keeps what it got.

It answers each request with the next status of its script (the last one from then on), with a
Location header if told one, and verifies nothing itself: the tests verify what it kept with
standardwebhooks, as a receiver would.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import uvicorn
from standardwebhooks import Webhook


class Received(msgspec.Struct, frozen=True):
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(
        self, statuses: list[int], host: str, port: int, location: str | None, tls: tuple[Path, Path] | None
    ) -> None:
        self.statuses = list(statuses)
        self.location = location
        self.received: list[Received] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, port))
        self.port: int = self.sock.getsockname()[1]
        self.url = f"{'http' if tls is None else 'https'}://{host}:{self.port}/hooks/registry"
        certificate, key = tls or (None, None)
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
            ssl_certfile=certificate,
            ssl_keyfile=key,
        )
        self.server = uvicorn.Server(config)

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        self.received.append(Received(headers, body))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        response_headers = [] if self.location is None else [(b"location", self.location.encode())]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": b""})

    async def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """What arrived, once at least `count` requests have; fails after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.received) < count:
            if loop.time() > deadline:
                raise AssertionError(f"{count} webhook requests expected, {len(self.received)} arrived")
            await asyncio.sleep(0.05)
        return list(self.received)


@asynccontextmanager
async def receiver(
    statuses: list[int],
    host: str = "127.0.0.1",
    port: int = 0,
    location: str | None = None,
    tls: tuple[Path, Path] | None = None,
) -> AsyncIterator[Receiver]:
    """A receiver serving while the block runs (any loopback address will do on Linux: 127.0.0.0/8).

    `tls`: certificate and key files to serve https with.
    """
    running = Receiver(statuses, host, port, location, tls)
    task = asyncio.create_task(running.server.serve(sockets=[running.sock]))
    while not running.server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield running
    finally:
        running.server.should_exit = True
        await task
        running.sock.close()


def verified(secret: str, request: Received) -> dict[str, Any]:
    """The event, as a receiver's standardwebhooks verification hands it over (raises if the signature is bad)."""
    payload: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return payload
