"""An agency's webhook receiver, as a test runs it: a real HTTP server on loopback that keeps what it got.

It answers each request with the next status of its script (the last one from then on), and
verifies nothing itself: the tests verify what it kept with standardwebhooks, as a receiver would.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import uvicorn
from standardwebhooks import Webhook


class Received(msgspec.Struct, frozen=True):
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.received: list[Received] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hooks/registry"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="off", interface="asgi3"))

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
        await send({"type": "http.response.start", "status": status, "headers": []})
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
async def receiver(statuses: list[int]) -> AsyncIterator[Receiver]:
    """A receiver serving while the block runs."""
    running = Receiver(statuses)
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
