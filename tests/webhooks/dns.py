"""A hostile DNS server, as a test plays it: one name answers what the test says, in turn.

It replaces the standard library's resolver (socket.getaddrinfo, which asyncio's lookups, and so
ours and httpx's, run in a thread) for that one name; every other name resolves as usual.
"""

from __future__ import annotations

import socket
from typing import Any

NAME = "hooks.agency.test"


class HostileDns:
    """Answers `answers` in turn for NAME (the last one from then on) and keeps what it answered."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)
        self.answered: list[str] = []
        self.real = socket.getaddrinfo

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        # anyio (under httpx) asks with the name IDNA-encoded to bytes, asyncio as given.
        if (host.decode() if isinstance(host, bytes) else host) != NAME:
            return self.real(host, port, *args, **kwargs)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        self.answered.append(answer)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (answer, int(port)))]
