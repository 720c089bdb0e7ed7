"""A frozen database (PostgreSQL stopped with SIGSTOP) costs each request a few seconds and a 503
with Retry-After, never a hang to the client's timeout; the outage is logged once, not per request.

Before the deadlines, pool acquire had no timeout and statements 60 s, so these calls hung.
This test freezes a PostgreSQL of its own, never the server the other tests share.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from pathlib import Path

import httpx
import psutil

from tests.conftest import LiveServer, OwnPostgres, settings_for


def freeze(pgdata: Path) -> list[psutil.Process]:
    """SIGSTOP the postmaster, then every backend it has: listed after it stopped, so none forked late is missed.

    (Listed before the app's first requests, a backend the pool opened later kept answering: a flaky test.)
    """
    postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
    signal_all([postmaster], signal.SIGSTOP)
    try:
        children = postmaster.children(recursive=True)
    except BaseException:
        signal_all([postmaster], signal.SIGCONT)
        raise
    signal_all(children, signal.SIGSTOP)
    return [postmaster, *children]


def signal_all(processes: list[psutil.Process], sig: signal.Signals) -> None:
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def test_a_frozen_database_answers_503_within_seconds(own_postgres: OwnPostgres, tmp_path: Path) -> None:
    settings = settings_for(
        own_postgres.get_uri(), tmp_path, pool_max_size=2, db_acquire_timeout=1.0, db_statement_timeout=1.5
    )
    server = LiveServer(settings)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            assert (await client.get("/readyz")).status_code == 200
            # The app's logging config replaces the root handlers (and caplog's with them), so
            # the lines are collected by a handler on the logger itself.
            lines = Collected()
            logging.getLogger("registry.errors").addHandler(lines)
            try:
                processes = freeze(Path(own_postgres.pgdata))
                try:
                    took = []
                    for path in ("/readyz", "/v1/agencies", "/v1/agencies", "/v1/agencies", "/readyz"):
                        started = time.monotonic()
                        answer = await client.get(path)
                        took.append(time.monotonic() - started)
                        assert answer.status_code == 503, (path, answer.text)
                        assert answer.headers["retry-after"].isdigit()
                        assert answer.headers["content-type"].startswith("application/problem+json")
                    # The client's 30 s timeout was never reached: each call met a deadline.
                    assert max(took) < 15, took
                    # One outage, one line (and no "reachable again" while it lasts).
                    assert lines.messages == [lines.messages[0]], lines.messages
                    assert "database unreachable" in lines.messages[0]
                finally:
                    signal_all(processes, signal.SIGCONT)
                for _ in range(100):
                    if (await client.get("/v1/agencies")).status_code == 200:
                        break
                    await asyncio.sleep(0.2)
                assert (await client.get("/v1/agencies")).status_code == 200
                # Its end is logged once, by the outage watch (even with no /readyz asked).
                for _ in range(50):
                    if len(lines.messages) > 1:
                        break
                    await asyncio.sleep(0.2)
                assert lines.messages[1:] == ["database reachable again"], lines.messages
            finally:
                logging.getLogger("registry.errors").removeHandler(lines)
    finally:
        await server.stop()
