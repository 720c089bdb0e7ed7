"""The SMS job queue and its worker: sealed payloads, wiped once sent, sent once by several workers, retried."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest

from registry import database, jobs
from registry.database import Connection, Pool
from registry.errors import Unavailable
from registry.settings import NoticeFigures, Settings
from registry.sms import Envelope, SmsRejected, queue_sms, sealer_for
from tests.conftest import TEST_PEPPER, TEST_SESSION_KEY, LiveServer
from tests.factories import bearer, make_agency_with_key
from tests.sms import CODE, NOTICE, outbox

PHONE = "+8613800138000"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No worker in the live server: the tests run the queue themselves."""
    return msgspec.structs.replace(settings, sms_worker=False, notice=NoticeFigures())


@pytest.fixture
async def pool(database_url: str, settings: Settings) -> AsyncIterator[Pool]:
    opened = await database.create_pool(database_url, settings)
    yield opened
    await opened.close()


class Gateway:
    """A sender that fails as told: `Unavailable` for the first `failures` tries, or `SmsRejected` always."""

    def __init__(self, failures: int = 0, reject: bool = False) -> None:
        self.failures = failures
        self.reject = reject
        self.tries: list[tuple[str, str]] = []

    async def send(self, conn: Connection, phone: str, text: str) -> None:
        self.tries.append((phone, text))
        if self.reject:
            raise SmsRejected("the gateway refused the message (HTTP 400)")
        if len(self.tries) <= self.failures:
            raise Unavailable("the SMS could not be sent just now")


async def queued(conn: Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id, status, payload, headers, attempts FROM pgqueuer ORDER BY id")


async def test_a_code_waits_sealed_in_the_queue_and_is_wiped_once_sent(
    api: httpx.AsyncClient, conn: Connection, settings: Settings, pool: Pool, database_url: str
) -> None:
    sent = await api.post("/v1/contact/codes", json={"phone": PHONE})
    assert sent.status_code == 202
    [job] = await queued(conn)
    assert json.loads(job["headers"]) == {"kind": "code"} and job["status"] == "queued"
    # Neither the number nor the code is readable in the queue; the worker's key opens it.
    envelope = sealer_for(settings.session_key).open(job["payload"])
    assert envelope.to == PHONE and envelope.text is not None
    code = envelope.text.split("验证码 ")[1][:6]
    for secret in ("13800138000", code):
        assert secret.encode() not in job["payload"]
    assert await conn.fetchval("SELECT count(*) FROM sms_outbox") == 0

    await jobs.drain(settings, database_url, pool)
    [body] = await outbox(conn, PHONE, containing=CODE)
    assert code in body
    # The job left the queue; pgqueuer's log keeps what became of it, and no payload.
    assert await queued(conn) == []
    assert (
        await conn.fetchval(
            "SELECT status::text FROM pgqueuer_log WHERE job_id = $1 ORDER BY id DESC LIMIT 1", job["id"]
        )
        == "successful"
    )


async def test_each_job_is_sent_once_however_many_workers_run(
    api: httpx.AsyncClient, conn: Connection, settings: Settings, pool: Pool, database_url: str
) -> None:
    numbers = [f"+86139001{n:05d}" for n in range(40)]
    async with conn.transaction():
        for number in numbers:
            await queue_sms(conn, settings, "help", number, f"hello {number}")
    gateway = Gateway()
    await asyncio.gather(*(jobs.drain(settings, database_url, pool, sender=gateway) for _ in range(4)))
    assert sorted(phone for phone, _ in gateway.tries) == sorted(numbers)
    assert await queued(conn) == []


async def test_a_failed_send_is_retried_with_growing_waits(
    conn: Connection, settings: Settings, pool: Pool, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "FIRST_RETRY", timedelta(milliseconds=200))
    await queue_sms(conn, settings, "confirmation", PHONE, "已登记")
    gateway = Gateway(failures=2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await jobs.drain(settings, database_url, pool, sender=gateway)
    # Three tries: waits of 0.1-0.2 s, then 0.2-0.4 s, between them (each in the upper half of its step).
    assert len(gateway.tries) == 3
    assert loop.time() - started >= 0.3
    retries = await conn.fetchval("SELECT count(*) FROM pgqueuer_log WHERE status = 'queued' AND traceback IS NOT NULL")
    assert retries == 2
    assert await queued(conn) == []


async def test_sms_that_failed_together_are_not_retried_together(
    conn: Connection, settings: Settings, pool: Pool, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway down for a moment: the messages it refused come back spread over the step, not at once."""
    monkeypatch.setattr(jobs, "FIRST_RETRY", timedelta(seconds=2))
    numbers = [f"+86139002{n:05d}" for n in range(20)]
    async with conn.transaction():
        for number in numbers:
            await queue_sms(conn, settings, "help", number, f"hello {number}")
    loop = asyncio.get_running_loop()
    tried: dict[str, list[float]] = {}

    class Timed(Gateway):
        async def send(self, conn: Connection, phone: str, text: str) -> None:
            tried.setdefault(phone, []).append(loop.time())
            await super().send(conn, phone, text)

    await jobs.drain(settings, database_url, pool, sender=Timed(failures=len(numbers)))
    gaps = [second - first for first, second in tried.values()]
    assert len(gaps) == len(numbers)
    # Each waited at least half the 2 s step. Without the random half every wait would be the whole step;
    # with it, 20 waits all above 1.9 s would have odds of 1 in 10**20.
    assert all(gap >= 0.95 for gap in gaps), gaps
    assert min(gaps) < 1.9, gaps


async def test_a_refused_or_stale_sms_is_dropped_and_the_notice_says_so(
    api: httpx.AsyncClient, conn: Connection, settings: Settings, pool: Pool, database_url: str
) -> None:
    _, key = await make_agency_with_key(conn)
    answer = await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))
    assert answer.json()["reason"] == "notice_pending"
    gateway = Gateway(reject=True)
    await jobs.drain(settings, database_url, pool, sender=gateway)
    assert len(gateway.tries) == 1  # a refusal by the gateway is not asked again
    assert await conn.fetchval("SELECT status FROM notices") == "failed"
    assert await queued(conn) == []

    # A code nobody could use any more (older than its 10 minutes) is not sent at all.
    await queue_sms(conn, settings, "code", PHONE, "验证码 123456")
    await conn.execute("UPDATE pgqueuer SET created = created - interval '11 minutes'")
    late = Gateway()
    await jobs.drain(settings, database_url, pool, sender=late)
    assert late.tries == [] and await queued(conn) == []


async def test_a_job_whose_payload_is_gone_was_sent_and_is_not_sent_again(
    conn: Connection, settings: Settings, pool: Pool, database_url: str
) -> None:
    # A worker died after the gateway took the message but before pgqueuer logged it: the payload is
    # already wiped, and the job is picked again once that worker's heartbeat is old.
    await queue_sms(conn, settings, "help", PHONE, "hello")
    await conn.execute("UPDATE pgqueuer SET payload = NULL")
    gateway = Gateway()
    await jobs.drain(settings, database_url, pool, sender=gateway)
    assert gateway.tries == [] and await queued(conn) == []


async def test_the_notice_link_is_made_when_it_is_sent(
    api: httpx.AsyncClient, conn: Connection, settings: Settings, pool: Pool, database_url: str
) -> None:
    _, key = await make_agency_with_key(conn, "安心资产管理有限公司")
    await api.post("/v1/checks", json={"phone": PHONE}, headers=bearer(key))
    [job] = await queued(conn)
    # What the check statement queued: the number sealed by the route, nothing else.
    assert sealer_for(settings.session_key).open(job["payload"]) == Envelope(to=PHONE)
    assert await conn.fetchval("SELECT link_hash FROM notices") is None
    await jobs.drain(settings, database_url, pool)
    [body] = await outbox(conn, PHONE, containing=NOTICE)
    assert "安心资产管理" in body and f"{settings.public_url}/n/" in body
    row = await conn.fetchrow("SELECT status, attempts, sent_at, link_hash, link_expires_at FROM notices")
    assert row is not None and (row["status"], row["attempts"]) == ("sent", 1)
    assert row["link_expires_at"] - row["sent_at"] > timedelta(days=6, hours=23)


async def test_registry_worker_sends_what_serve_queued(
    api: httpx.AsyncClient, conn: Connection, database_url: str, tmp_path: Path
) -> None:
    """Separate processes: `serve` with REGISTRY_SMS_WORKER=0 queues, `registry worker` sends."""
    assert (await api.post("/v1/contact/codes", json={"phone": PHONE})).status_code == 202
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REGISTRY_DATA_DIR": str(tmp_path),
        "REGISTRY_PEPPER": TEST_PEPPER.hex(),
        "REGISTRY_SESSION_KEY": TEST_SESSION_KEY.hex(),
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "registry", "worker", "--drain"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    await outbox(conn, PHONE, containing=CODE, timeout=1)


async def test_serve_runs_a_worker_that_wakes_on_the_commit(conn: Connection, settings: Settings) -> None:
    server = LiveServer(msgspec.structs.replace(settings, sms_worker=True))
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await client.post("/v1/contact/codes", json={"phone": PHONE})
            await outbox(conn, PHONE, containing=CODE)
            # Woken by NOTIFY, not a poll every few seconds.
            assert loop.time() - started < 2
    finally:
        await server.stop()
