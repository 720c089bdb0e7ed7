"""The SMS worker: sends the SMS jobs queued in PostgreSQL, each once, however many workers run.

Why pgqueuer and not a loop of our own: it is a maintained queue for asyncpg that already does
what a hand-made one gets wrong: taking jobs with FOR UPDATE SKIP LOCKED, waking on NOTIFY
instead of polling, heartbeats so a job held by a dead worker is taken again, retries at a
time of our choosing, and a log of what became of each job. Its tables are our migration
(sql/0010_job_queue.sql); a change queues its SMS with `registry.sms.queue_sms` (or, for a
check's notices, inside `check_contacts()`), in its own transaction.

This module says what one job is: open the sealed payload, word a notice (its link is made
now, only the link's hash is stored), hand the SMS to the sender, then wipe the payload. A job
whose payload is already gone was sent by a worker that stopped before pgqueuer could log it,
so it is not sent again. A failed send is retried with growing waits while the SMS is still
worth sending: a code while it is valid, anything else for a day.

The same worker delivers the webhook jobs (entrypoint `webhook`, registry/webhooks/delivery.py):
one queue, one LISTEN connection, each job type its own handler.

Every `registry serve` process runs one (unless REGISTRY_SMS_WORKER=0), and `registry worker`
runs one on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID

import asyncpg
from pgqueuer import AsyncpgDriver, Job, Queries, QueueManager, RetryRequested
from pgqueuer.types import QueueExecutionMode

from registry import notices, phones
from registry.backoff import equal_jitter
from registry.database import Connection, Pool
from registry.errors import DATABASE_FAILURES, Unavailable, database_lost
from registry.settings import Settings
from registry.sms import SealedPayloadError, SmsRejected, SmsSender, sealer_for, sender_for
from registry.tokens import token_hash
from registry.webhooks import delivery
from registry.webhooks.delivery import WebhookDeliveries

log = logging.getLogger("registry.jobs")

ENTRYPOINT = "sms"
# Retries wait about 2 s, 4 s, 8 s, ... up to 10 minutes between tries, each drawn in the upper half of
# its step, so the SMS that failed together (the gateway down) do not all come back together.
FIRST_RETRY = timedelta(seconds=2)
LONGEST_RETRY = timedelta(minutes=10)
# How long an SMS other than a code is worth sending.
SMS_LIFETIME = timedelta(days=1)
# A worker whose heartbeat is older than this has died; its jobs are taken again.
HEARTBEAT = timedelta(seconds=30)
# How long to wait before connecting again after the database went away.
RECONNECT = 5.0
PRUNE_INTERVAL = 3600.0
# The queue wakes on NOTIFY and on the next deferred job's time, but a retry put back while the worker
# was already waiting was seen only when that wait ended (pgqueuer's default: 30 s; seen in the webhook
# tests, a 1 s retry taking 30 s). So the worker waits at most this long: one indexed query per 2 s.
DUE_JOBS_POLL = timedelta(seconds=2)


class NotSent(Exception):
    """The SMS will not be sent (refused by the gateway, past its time, or unreadable); pgqueuer logs it."""


WIPE_PAYLOAD = "UPDATE pgqueuer SET payload = NULL WHERE id = $1"
# The link is made when the SMS goes out (so a retry's new link replaces one that never arrived).
WORD_NOTICE = """
    UPDATE notices n
    SET link_hash = $2, link_expires_at = now() + $3::interval, attempts = n.attempts + 1
    FROM agencies a
    WHERE n.id = $1 AND a.id = n.agency_id
    RETURNING a.name
"""
NOTICE_SENT = "UPDATE notices SET status = 'sent', sent_at = now() WHERE id = $1"
NOTICE_FAILED = "UPDATE notices SET status = 'failed', failed_at = now() WHERE id = $1 AND status = 'queued'"


class SmsJobs:
    """What the worker does with one job of the `sms` entrypoint."""

    def __init__(self, settings: Settings, pool: Pool, sender: SmsSender | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.sender = sender or sender_for(settings)
        self.sealer = sealer_for(settings.session_key)

    def lifetime(self, kind: str) -> timedelta:
        if kind == "code":
            return timedelta(minutes=self.settings.contact.code_minutes)
        return SMS_LIFETIME

    async def handle(self, job: Job) -> None:
        headers: dict[str, Any] = job.headers or {}
        kind = str(headers.get("kind", ""))
        notice_id = UUID(str(headers["notice_id"])) if kind == "notice" and "notice_id" in headers else None
        if job.payload is None:
            return
        try:
            envelope = self.sealer.open(job.payload)
        except SealedPayloadError as exc:
            await self._give_up(job, notice_id)
            raise NotSent(f"{kind} SMS job {job.id}: {exc}") from None
        if not phones.textable(envelope.to, self.settings.sms_regions):
            await self._give_up(job, notice_id)
            raise NotSent(f"{kind} SMS job {job.id}: not a mobile number of REGISTRY_SMS_REGIONS")
        deadline = job.created + self.lifetime(kind)
        if datetime.now(UTC) >= deadline:
            await self._give_up(job, notice_id)
            raise NotSent(f"{kind} SMS job {job.id}: past its time, not sent")
        async with self.pool.acquire() as proxy:
            conn = cast("Connection", proxy)
            text = envelope.text
            if notice_id is not None:
                text = await self._word_notice(conn, notice_id)
            if text is None:
                # The notice is gone (erased with the record): nothing to say.
                await conn.execute(WIPE_PAYLOAD, job.id)
                return
            try:
                await self.sender.send(conn, envelope.to, text)
            except SmsRejected:
                await self._give_up(job, notice_id)
                raise NotSent(f"{kind} SMS job {job.id}: the gateway refused it") from None
            except Unavailable:
                delay = equal_jitter(job.attempts, FIRST_RETRY, LONGEST_RETRY)
                if datetime.now(UTC) + delay >= deadline:
                    await self._give_up(job, notice_id)
                    raise NotSent(f"{kind} SMS job {job.id}: the gateway did not take it in time") from None
                raise RetryRequested(delay=delay, reason="the SMS gateway did not take it") from None
            async with conn.transaction():
                await conn.execute(WIPE_PAYLOAD, job.id)
                if notice_id is not None:
                    await conn.execute(NOTICE_SENT, notice_id)

    async def _word_notice(self, conn: Connection, notice_id: UUID) -> str | None:
        token = notices.new_link_token()
        agency = await conn.fetchval(WORD_NOTICE, notice_id, token_hash(token), notices.LINK_LIFETIME)
        if agency is None:
            return None
        link = notices.link_url(self.settings.public_url, token)
        return self.settings.jurisdiction.notice_sms(agency, link)

    async def _give_up(self, job: Job, notice_id: UUID | None) -> None:
        """Nothing will be sent: the payload goes now (pgqueuer then logs the job as failed and drops it)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(WIPE_PAYLOAD, job.id)
            if notice_id is not None:
                await conn.execute(NOTICE_FAILED, notice_id)


def _queue_manager(connection: asyncpg.Connection[Any], jobs: SmsJobs, webhooks: WebhookDeliveries) -> QueueManager:
    manager = QueueManager(Queries(AsyncpgDriver(connection)))
    manager.entrypoint(ENTRYPOINT, accepts_context=False)(jobs.handle)
    manager.entrypoint(delivery.ENTRYPOINT, accepts_context=False)(webhooks.handle)
    return manager


async def _connect(url: str) -> asyncpg.Connection[Any]:
    return await asyncpg.connect(url, server_settings={"timezone": "UTC"}, timeout=10)


async def run(settings: Settings, url: str, pool: Pool, stop: asyncio.Event) -> None:
    """Send SMS jobs until `stop` is set; after a lost database, connect again and carry on.

    pgqueuer's queue manager talks over one connection of its own (it LISTENs on it); the jobs
    borrow short connections from `pool`.
    """
    jobs = SmsJobs(settings, pool)
    webhooks = WebhookDeliveries(settings, pool)
    pruning = asyncio.create_task(_prune_every(pool, settings, PRUNE_INTERVAL))
    try:
        while not stop.is_set():
            try:
                connection = await _connect(url)
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                database_lost(f"SMS worker: {type(exc).__name__}")
                await _wait(stop, RECONNECT)
                continue
            try:
                manager = _queue_manager(connection, jobs, webhooks)
                runner = asyncio.create_task(
                    manager.run(
                        heartbeat_timeout=HEARTBEAT,
                        log_aggregation_interval=timedelta(minutes=5),
                        dequeue_timeout=DUE_JOBS_POLL,
                    )
                )
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait({runner, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    manager.shutdown.set()
                stopping.cancel()
                await runner
            except DATABASE_FAILURES as exc:
                database_lost(f"SMS worker: {type(exc).__name__}")
                await _wait(stop, RECONNECT)
            finally:
                with contextlib.suppress(OSError, asyncpg.InterfaceError):
                    await connection.close(timeout=2)
    finally:
        pruning.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pruning
        await webhooks.close()


async def drain(settings: Settings, url: str, pool: Pool, sender: SmsSender | None = None) -> None:
    """Send every job that is due now, then return (tests; `registry worker --drain`)."""
    connection = await _connect(url)
    webhooks = WebhookDeliveries(settings, pool)
    try:
        manager = _queue_manager(connection, SmsJobs(settings, pool, sender), webhooks)
        await manager.run(dequeue_timeout=timedelta(seconds=1), mode=QueueExecutionMode.drain)
    finally:
        await webhooks.close()
        await connection.close()


@contextlib.asynccontextmanager
async def running(settings: Settings, url: str, pool: Pool) -> AsyncIterator[None]:
    """The worker in the background while the block runs (the app's lifespan)."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, url, pool, stop))
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=15)
        except TimeoutError:
            log.warning("the SMS worker did not stop within 15 s; its jobs will be taken again")


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


# What the queue and the SMS records keep, and for how long: pgqueuer's log of finished jobs (which
# holds no payload) a week, its per-second statistics 90 days, the replies' idempotency records and
# webhook deliveries 30 days, notices for the record term, like the checks that caused them, and the
# idempotent checks' first answers 24 hours.
PRUNE = """
    WITH log_gone AS (
        DELETE FROM pgqueuer_log WHERE created < now() - interval '7 days' AND aggregated RETURNING 1
    ), stats_gone AS (
        DELETE FROM pgqueuer_statistics WHERE created < now() - interval '90 days' RETURNING 1
    ), replies_gone AS (
        DELETE FROM sms_inbound WHERE recorded_at < now() - interval '30 days' RETURNING 1
    ), notices_gone AS (
        DELETE FROM notices WHERE created_at < now() - make_interval(days => $1::int) RETURNING 1
    ), check_replays_gone AS (
        DELETE FROM check_replays WHERE created_at < now() - interval '24 hours' RETURNING 1
    ), deliveries_gone AS (
        DELETE FROM webhook_deliveries WHERE created_at < now() - interval '30 days' RETURNING 1
    )
    SELECT (SELECT count(*) FROM log_gone) + (SELECT count(*) FROM stats_gone)
         + (SELECT count(*) FROM replies_gone) + (SELECT count(*) FROM notices_gone)
         + (SELECT count(*) FROM check_replays_gone) + (SELECT count(*) FROM deliveries_gone)
"""


async def prune(pool: Pool, settings: Settings) -> int:
    async with pool.acquire(timeout=settings.db_acquire_timeout) as conn:
        deleted: int = await conn.fetchval(PRUNE, settings.record_retention_days)
        return deleted


async def _prune_every(pool: Pool, settings: Settings, interval: float) -> None:
    # Not at start: every process starting at once need not prune, nor take a pooled connection then.
    while True:
        await asyncio.sleep(interval * random.uniform(0.5, 1.0))
        try:
            await prune(pool, settings)
        except DATABASE_FAILURES as exc:
            database_lost(f"SMS records upkeep: {type(exc).__name__}")
