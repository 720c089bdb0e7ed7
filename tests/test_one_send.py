"""An answer's headers leave with its body in one send() (registry/server.py, HeadersWithBody).

The real transport is stood in for by one that records what it is asked to send: what is under
test is which writes reach it, and when.
"""

from __future__ import annotations

import asyncio

import httpx

from registry.server import HeadersWithBody
from tests.conftest import LiveServer

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class Recorded:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"extra {name}"


async def test_headers_wait_for_the_body_and_leave_with_it() -> None:
    real = Recorded()
    transport = HeadersWithBody(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    assert real.sent == []
    transport.write(b"{}")
    assert real.sent == [HEAD + b"{}"]
    await asyncio.sleep(0)  # the fallback finds nothing left to send
    assert real.sent == [HEAD + b"{}"]
    assert transport.get_extra_info("peername") == "extra peername"


async def test_headers_with_no_body_this_turn_still_leave() -> None:
    real = Recorded()
    transport = HeadersWithBody(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    await asyncio.sleep(0)
    assert real.sent == [HEAD]
    transport.write(b"later part of a streamed body")
    assert real.sent == [HEAD, b"later part of a streamed body"]


async def test_closing_sends_what_is_held_first() -> None:
    real = Recorded()
    transport = HeadersWithBody(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    transport.close()
    assert real.sent == [HEAD]
    assert real.closed


async def test_answers_on_one_kept_alive_connection_stay_whole(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        for _ in range(3):
            answer = await client.get("/healthz")
            assert answer.json() == {"status": "ok"}
            assert (await client.head("/healthz")).status_code in (200, 405)
            assert (await client.get("/nope")).status_code == 404
