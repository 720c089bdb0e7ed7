"""How the service is served: uvicorn, with deadlines for slow clients and only the proxies we were told to trust.

`registry serve` and the tests' live server both build their uvicorn config here, so what
the tests exercise is what runs.

Slow clients: uvicorn closes idle keep-alive connections (`timeout_keep_alive`) but has no
deadline for a request that is still arriving, so a client sending its headers or its body
a byte at a time keeps its socket (and, before the body was read ahead of the database,
a pooled connection) for as long as it likes. `DeadlineProtocol` gives each request one
deadline for its headers and one for its body, in the protocol where the bytes arrive: it
covers every path (also the 404s no handler reads), every worker, and answers 408 when no
response has started yet. An ASGI middleware wrapping `receive` could time out bodies but
never headers, which arrive before the app is called at all.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from registry.errors import PROBLEM_BASE
from registry.settings import Settings

# Idle time allowed between requests on a kept-alive connection (uvicorn's default, said here on purpose).
KEEP_ALIVE_SECONDS = 5


class ServerConfig(uvicorn.Config):
    """uvicorn's config plus the read deadlines; pickled as it is to each worker process."""

    def __init__(self, app: Any, *, header_timeout: float, body_timeout: float, **options: Any) -> None:
        super().__init__(app, http=DeadlineProtocol, **options)
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout


def server_config(app: Any, settings: Settings, **options: Any) -> ServerConfig:
    """The config for serving `app` (an ASGI app or an import string) under these settings."""
    trusted = list(settings.trusted_proxies)
    return ServerConfig(
        app,
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        # No access log: a request line can carry a secret (the notice link `/n/{token}` signs a
        # contact in for a refusal), and a line per check is work on the hot path. Requests are
        # counted by /metrics; a proxy in front keeps its own log.
        access_log=False,
        # X-Forwarded-For is believed only from the proxies named in REGISTRY_TRUSTED_PROXIES; uvicorn's
        # own default would believe it from 127.0.0.1, so any local process could pose as any client.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted,
        **options,
    )


TIMEOUT_BODY = msgspec.json.encode(
    {
        "type": PROBLEM_BASE + "request_timeout",
        "title": "Request timeout",
        "status": 408,
        "detail": "the request did not arrive in time; send it again",
        "code": "request_timeout",
    }
)
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: application/problem+json\r\n"
    b"content-length: " + str(len(TIMEOUT_BODY)).encode() + b"\r\n"
    b"connection: close\r\n"
    b"\r\n" + TIMEOUT_BODY
)


class HeadersWithBody:
    """A transport that sends a response's headers together with the body that follows them.

    uvicorn writes a response's status line and headers with one send() and its body with another,
    so every answer was two packets: two system calls here and two wake-ups of the client. Here the
    headers wait for the next write (the body, which follows at once for every JSON answer) and
    leave with it; if none comes in this turn of the loop (a streamed answer), they leave alone.
    Everything else is the real transport's.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._headers: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._headers is not None:
            data, self._headers = self._headers + data, None
        elif data.startswith(b"HTTP/1.1 "):
            self._headers = data
            self._loop.call_soon(self._flush)
            return
        self._transport.write(data)

    def _flush(self) -> None:
        if self._headers is not None:
            headers, self._headers = self._headers, None
            if not self._transport.is_closing():
                self._transport.write(headers)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for reading each request.

    Armed when a connection opens and when a request's first byte arrives (headers due
    within header_timeout), re-armed when the headers are complete (body due within
    body_timeout), disarmed when the whole request has arrived. On expiry: 408 if no
    response has started, then the connection is closed; the app's pending `receive`
    sees a disconnect.
    """

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.header_timeout: float = getattr(config, "header_timeout", 10.0)
        self.body_timeout: float = getattr(config, "body_timeout", 60.0)
        self.read_deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self.read_deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self.read_deadline is not None:
            self.read_deadline.cancel()
            self.read_deadline = None

    def _too_slow(self) -> None:
        self.read_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(TIMEOUT_RESPONSE)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(HeadersWithBody(transport, self.loop))  # type: ignore[arg-type]
        self._arm(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.header_timeout)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if not self.transport.is_closing():
            self._arm(self.body_timeout)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
