"""Benchmark of the pre-dial check: bare SQL beside the HTTP service, single checks and batches.

    .venv/bin/python bench/checks.py                       # 1,000,000 contacts, embedded PostgreSQL
    .venv/bin/python bench/checks.py --contacts 100000     # a quick run
    .venv/bin/python bench/checks.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

It makes its own database (`registry_bench_<contacts>`, kept for `--reuse`) on that server, loads the contacts' rules
with COPY, starts the service with uvicorn in a subprocess on a loopback port, and prints:
a bare asyncpg loop of the check statement beside POST /v1/checks at 8/32/128 concurrent
connections (rate, p50, p99), POST /v1/checks/batch with 1,000 and 10,000 numbers beside
the bare statement for the same batch, and the rate at which phonenumbers alone parses,
validates and formats those numbers in one process. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import phonenumbers

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402  (bench/machine.py, beside this script)

from registry import database, phones  # noqa: E402
from registry.agencies import queries as agencies  # noqa: E402
from registry.checks import queries  # noqa: E402
from registry.jurisdiction import with_check_character  # noqa: E402
from registry.settings import Limits, NoticeFigures  # noqa: E402
from registry.sms import sealer_for  # noqa: E402
from registry.tokens import token_hash  # noqa: E402

PEPPER = bytes.fromhex("5a" * 32)
SESSION_KEY = bytes.fromhex("6b" * 32)
BENCH_DB = "registry_bench"
LIMITS = Limits()
NOTICE = NoticeFigures()
SEALER = sealer_for(SESSION_KEY)
SERVICE_LOG = Path("/tmp/registry-bench-service.log")


def number(i: int) -> str:
    """Contact i's number: mainland mobiles 138/139/158/186 followed by 8 digits."""
    prefix = ("138", "139", "158", "186")[i % 4]
    return f"+86{prefix}{i // 4:08d}"


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def prepare(server_url: str, contacts: int, reuse: bool) -> tuple[str, str]:
    """A bench database with the schema, one agency with a key, and `contacts` contacts with rules.

    With `reuse`, a database this script loaded before with as many contacts is kept (loading
    10,000,000 takes minutes); what earlier runs wrote (checks, permits, notices, jobs) is emptied.
    """
    name = f"{BENCH_DB}_{contacts}"
    url = with_database(server_url, name)
    admin = await asyncpg.connect(server_url)
    try:
        exists = await admin.fetchval("SELECT true FROM pg_database WHERE datname = $1", name)
        if exists and reuse:
            await database.migrate_url(url)
            conn = await asyncpg.connect(url)
            try:
                # The append-only triggers refuse TRUNCATE; the bench is the database's owner and may bypass them.
                await conn.execute("SET session_replication_role = replica")
                await conn.execute(
                    "TRUNCATE checks, permits, revocations, attempts, notices, notice_budget_spent, pgqueuer"
                )
                await conn.execute("RESET session_replication_role")
                await conn.execute("VACUUM (FREEZE, ANALYZE) rules")  # quick once done: see below
                await prewarm(conn)
                agency_id = await conn.fetchval("SELECT id FROM agencies WHERE name = 'Bench Collections'")
                key = await agencies.issue_key(conn, agency_id, "bench")
                print(f"reusing {name} ({await conn.fetchval('SELECT count(*) FROM rules'):,} rules)")
            finally:
                await conn.close()
            return url, key.key
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await database.migrate_url(url)
    conn = await asyncpg.connect(url)
    try:
        agency = await agencies.create_agency(
            conn, "Bench Collections", with_check_character("91110000MA0000000"), "bench"
        )
        other = await agencies.create_agency(conn, "Other Lender", with_check_character("91110000MA0000001"), "bench")
        key = await agencies.issue_key(conn, agency.id, "bench")
        started = time.perf_counter()
        # 40% refuse everyone, 30% consent to the bench agency, 10% consent to another
        # agency, 20% have no rule at all (registered numbers without a record).
        expires = datetime.now(UTC) + timedelta(days=180)
        batch: list[tuple[object, ...]] = []
        for i in range(contacts):
            slot = i % 10
            if slot >= 8:
                continue
            kind, scope = ("refuse", None) if slot < 4 else ("consent", agency.id if slot < 7 else other.id)
            batch.append((phones.phone_key(number(i), PEPPER), kind, scope, expires if kind == "consent" else None))
            if len(batch) == 100_000:
                await conn.copy_records_to_table(
                    "rules", records=batch, columns=["phone_key", "kind", "agency_id", "expires_at"]
                )
                batch = []
        if batch:
            await conn.copy_records_to_table(
                "rules", records=batch, columns=["phone_key", "kind", "agency_id", "expires_at"]
            )
        # A registry's rules are long-lived and vacuumed. Freshly copied ones are not: every first read
        # of a page would set its hint bits (and write it), and no index-only scan could skip the table,
        # which made a fresh 10,000,000-contact load 1.4-1.7 times slower per number than after VACUUM.
        await conn.execute("VACUUM (FREEZE, ANALYZE) rules")
        await conn.execute("ANALYZE")
        await prewarm(conn)
        print(
            f"loaded {contacts:,} contacts ({await conn.fetchval('SELECT count(*) FROM rules'):,} rules) "
            f"in {time.perf_counter() - started:.1f} s"
        )
    finally:
        await conn.close()
    return url, key.key


async def prewarm(conn: asyncpg.Connection) -> None:
    """Read the rules' primary key into shared buffers, as a primary in service holds it (when the
    server has the pg_prewarm extension and room for it); a bench that starts cold measures disk reads."""
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        await conn.execute("SELECT pg_prewarm('rules_pkey')")
    except asyncpg.PostgresError as exc:
        print(f"rules not prewarmed ({exc})")


def sample(contacts: int, n: int, rng: random.Random) -> list[str]:
    """n numbers to check: mostly registered contacts, one in ten never seen, written in mixed forms."""
    out = []
    for _ in range(n):
        if rng.random() < 0.1:
            out.append(f"137{rng.randrange(10**8):08d}")
        else:
            e164 = number(rng.randrange(contacts))
            out.append(e164 if rng.random() < 0.5 else e164[3:])
    return out


def statement_items(numbers: list[str]) -> list[queries.Item]:
    """The check statement's items for these numbers, as the service makes them (phone key, sealed number)."""
    e164s = [phones.normalize(n) for n in numbers]
    return [
        queries.Item(phones.phone_key(e, PEPPER), None, sealed)
        for e, sealed in zip(e164s, SEALER.seal_numbers(e164s), strict=True)
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


TICK = os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time (user + system) used by PostgreSQL, the service and this script (the load) between two reads.

    On a machine this small all three share the cores, so a ratio of rates is also a ratio of what
    each side costs: these figures say where a check's CPU goes (from /proc; Linux only).
    """

    def __init__(self) -> None:
        self.postmaster_pid: int | None = None  # the bench's PostgreSQL, when it runs on this machine
        self.service_pid: int | None = None

    def read(self) -> dict[str, float]:
        parents, used = {}, {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            fields = raw[raw.rindex(")") + 2 :].split()
            pid = int(entry.name)
            parents[pid] = int(fields[1])
            used[pid] = (int(fields[11]) + int(fields[12])) / TICK
        totals = {"postgres": 0.0, "service": 0.0, "load": used.get(os.getpid(), 0.0)}
        for pid, seconds in used.items():
            if self._descends(pid, self.postmaster_pid, parents):
                totals["postgres"] += seconds
            elif self._descends(pid, self.service_pid, parents):
                totals["service"] += seconds
        return totals

    @staticmethod
    def _descends(pid: int, ancestor: int | None, parents: dict[int, int]) -> bool:
        while ancestor is not None and pid > 1:
            if pid == ancestor:
                return True
            pid = parents.get(pid, 0)
        return False


class Result:
    def __init__(self, label: str, count: int, seconds: float, latencies: list[float]) -> None:
        self.label, self.count, self.seconds, self.latencies = label, count, seconds, latencies
        self.cpu: dict[str, float] = {}

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def line(self, baseline: Result | None = None) -> str:
        p50 = percentile(self.latencies, 0.5) * 1000
        p99 = percentile(self.latencies, 0.99) * 1000
        ratio = f"  ratio {self.rate / baseline.rate:.2f}" if baseline else ""
        cpu = "".join(f"  {name} {seconds / self.count * 1000:.2f}" for name, seconds in self.cpu.items() if seconds)
        cpu = f"   CPU ms per check:{cpu}" if cpu else ""
        return f"{self.label:<34} {self.rate:>9,.0f}/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms{ratio:<12}{cpu}"


METER = CpuMeter()


async def run_for(label: str, workers: list[Callable[[], Awaitable[None]]], seconds: float) -> Result:
    """Run each worker's step in a loop until the time is up; count steps, their latencies and the CPU used."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def loop(step: Callable[[], Awaitable[None]]) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await step()
            latencies.append(time.perf_counter() - started)

    before = METER.read()
    started = time.perf_counter()
    await asyncio.gather(*(loop(step) for step in workers))
    result = Result(label, len(latencies), time.perf_counter() - started, latencies)
    result.cpu = {name: used - before[name] for name, used in METER.read().items()}
    return result


async def bare_single(url: str, key: str, contacts: int, concurrency: int, seconds: float) -> Result:
    """The exact statement of one check, from asyncpg, with the phone key already computed."""
    pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency)
    assert pool is not None
    rng = random.Random(concurrency)
    key_hash = token_hash(key)

    def worker() -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            e164 = number(rng.randrange(contacts))
            # As the route does: the number sealed for the notice SMS the check may queue.
            item = queries.Item(phones.phone_key(e164, PEPPER), None, SEALER.seal_numbers([e164])[0])
            async with pool.acquire() as conn:
                await queries.check_contacts(conn, key_hash, [item], LIMITS, NOTICE)  # type: ignore[arg-type]

        return step

    try:
        return await run_for(f"bare SQL, {concurrency} connections", [worker() for _ in range(concurrency)], seconds)
    finally:
        await pool.close()


class HttpConnection:
    """A minimal keep-alive HTTP/1.1 client: the load generator must cost less CPU than the server it measures."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=2**24)
        assert self.reader is not None
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def http_single(port: int, key: str, contacts: int, concurrency: int, seconds: float) -> Result:
    rng = random.Random(1000 + concurrency)
    connections = [HttpConnection(port, key) for _ in range(concurrency)]
    errors: list[int] = []

    def worker(connection: HttpConnection) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            phone = number(rng.randrange(contacts))
            status, _ = await connection.post("/v1/checks", json.dumps({"phone": phone[3:]}).encode())
            if status != 200:
                errors.append(status)

        return step

    try:
        result = await run_for(f"POST /v1/checks, {concurrency} connections", [worker(c) for c in connections], seconds)
    finally:
        for connection in connections:
            connection.close()
    if errors:
        raise SystemExit(f"the service answered {len(errors)} requests with {sorted(set(errors))}")
    return result


async def batches(url: str, port: int, key: str, contacts: int, size: int, runs: int) -> tuple[float, float, float]:
    """Numbers per second: the service's batch endpoint, the bare statement, phonenumbers alone."""
    rng = random.Random(size)
    http, bare, parse = [], [], []
    connection = HttpConnection(port, key)
    conn = await asyncpg.connect(url)
    try:
        for _ in range(runs):
            numbers = sample(contacts, size, rng)
            body = json.dumps({"items": [{"phone": n} for n in numbers]}).encode()
            started = time.perf_counter()
            status, answer = await connection.post("/v1/checks/batch", body)
            http.append(size / (time.perf_counter() - started))
            assert status == 200, answer[:300]
            assert len(json.loads(answer)["results"]) == size

            started = time.perf_counter()
            for raw in numbers:
                parsed = phonenumbers.parse(raw, "CN")
                assert phonenumbers.is_valid_number(parsed)
                phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            parse.append(size / (time.perf_counter() - started))

            other = sample(contacts, size, rng)
            keys = statement_items(other)
            started = time.perf_counter()
            await queries.check_contacts(conn, token_hash(key), keys, LIMITS, NOTICE)  # type: ignore[arg-type]
            bare.append(size / (time.perf_counter() - started))
    finally:
        connection.close()
        await conn.close()
    return statistics.median(http), statistics.median(bare), statistics.median(parse)


async def spend_notice_budget(url: str, key: str, contacts: int) -> None:
    """Check until the bench agency has caused its notices of the day (5,000), before measuring.

    A registry in service is past each agency's first checks of its new contacts. Until the budget
    is spent, a check that causes a notice also writes it and queues its SMS, under the agency's
    notice lock (sql/0080); after, such a contact is answered notice_budget. Without this the first
    measurements of a run (the bare loop at 8 connections) alone would be of that costlier mix.
    """
    conn = await asyncpg.connect(url)
    try:
        started, rng = time.perf_counter(), random.Random(5000)
        while await conn.fetchval("SELECT count(*) FROM notices") < NOTICE.daily_per_agency:
            items = statement_items(sample(contacts, 1000, rng))
            await queries.check_contacts(conn, token_hash(key), items, LIMITS, NOTICE)  # type: ignore[arg-type]
        noticed = await conn.fetchval("SELECT count(*) FROM notices")
        took = time.perf_counter() - started
        print(f"warm-up: the agency's notice budget spent ({noticed:,} notices) in {took:.0f} s")
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_service(url: str, port: int, workers: int, pool_size: int, server: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REGISTRY_PEPPER": PEPPER.hex(),
        "REGISTRY_SESSION_KEY": SESSION_KEY.hex(),
        # The benchmark measures checks, not the per-key request limit.
        "REGISTRY_API_RATE_LIMIT_PER_MINUTE": str(10**9),
        "REGISTRY_POOL_MIN_SIZE": str(pool_size),
        "REGISTRY_POOL_MAX_SIZE": str(pool_size),
        # Notices are queued by the check statement on both sides of the comparison; sending them is
        # `registry worker`'s work in its own process (as in production), not the check's.
        "REGISTRY_SMS_WORKER": "0",
    }
    common = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if server == "granian":
        command = [sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "uvloop", *common]
        command += ["--log-level", "warning", "--no-access-log", "registry.main:app"]
    else:
        # What production runs: uvicorn with the read deadlines and proxy rules of registry/server.py.
        command = [sys.executable, "-m", "registry", "serve", *common]
    # Its log (uvicorn's access log included, as in production) goes to a file, not between the figures.
    with SERVICE_LOG.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"the service did not start; see {SERVICE_LOG}") from None
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("the service did not start within 60 s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="a PostgreSQL server (default: the embedded one in --data-dir)",
    )
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/registry-bench"))
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each single-check measurement")
    parser.add_argument("--workers", type=int, default=2, help="service worker processes")
    parser.add_argument("--pool-size", type=int, default=8, help="database connections per worker")
    parser.add_argument("--concurrency", default="8,32,128")
    parser.add_argument("--batch-sizes", default="1000,10000")
    parser.add_argument("--batch-runs", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="keep the contacts loaded by an earlier run of this size")
    parser.add_argument(
        "--server", choices=["uvicorn", "granian"], default="uvicorn", help="uvicorn is `registry serve`"
    )
    args = parser.parse_args()

    server_url = args.database_url or await asyncio.to_thread(database.embedded_database_url, args.data_dir)
    url, key = await prepare(server_url, args.contacts, args.reuse)
    conn = await asyncpg.connect(url)
    pg_version = (await conn.fetchval("SELECT version()")).split(" on ")[0]
    pg_version += f", shared_buffers {await conn.fetchval('SHOW shared_buffers')}"
    # A backend's parent is its postmaster (when the server runs here; otherwise no such process).
    backend = Path(f"/proc/{await conn.fetchval('SELECT pg_backend_pid()')}/stat")
    if backend.exists() and "(postgres)" in backend.read_text():
        METER.postmaster_pid = int(backend.read_text().rsplit(")", 1)[1].split()[1])
    await conn.close()
    port = free_port()
    service = start_service(url, port, args.workers, args.pool_size, args.server)
    METER.service_pid = service.pid
    try:
        print(f"machine: {describe()}, {pg_version}")
        print(
            f"service: {args.server}, {args.workers} worker(s), pool {args.pool_size} per worker; "
            f"{'embedded' if not args.database_url else 'given'} PostgreSQL; {args.contacts:,} contacts"
        )
        print()
        # Warm both paths before measuring: imports, plans, and every pooled connection's prepared
        # statements (asyncpg prepares and introspects the result type once per connection), so
        # with enough concurrency to use every connection of every worker.
        await bare_single(url, key, args.contacts, 32, 1.0)
        await http_single(port, key, args.contacts, 2 * args.workers * args.pool_size, 2.0)
        await spend_notice_budget(url, key, args.contacts)
        print("single checks")
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            bare = await bare_single(url, key, args.contacts, min(concurrency, 32), args.seconds)
            http = await http_single(port, key, args.contacts, concurrency, args.seconds)
            print("  " + bare.line())
            print("  " + http.line(bare))
        print()
        print("batches (numbers per second)")
        for size in (int(s) for s in args.batch_sizes.split(",")):
            http_rate, bare_rate, parse_rate = await batches(url, port, key, args.contacts, size, args.batch_runs)
            print(
                f"  {size:>6,} numbers: service {http_rate:>9,.0f}/s   bare SQL {bare_rate:>9,.0f}/s   "
                f"phonenumbers alone {parse_rate:>9,.0f}/s   service/parse {http_rate / parse_rate:.2f}   "
                f"service/bare {http_rate / bare_rate:.2f}"
            )
        print()
        await storage(url, args.contacts)
    finally:
        service.terminate()
        service.wait(timeout=30)


async def storage(url: str, contacts: int) -> None:
    """What the run left on disk: bytes per row of the tables a check writes, and of the rules."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE checks, permits, rules")
        print(f"storage after the run ({contacts:,} contacts; table + indexes + TOAST)")
        for table in ("checks", "permits", "rules"):
            rows = await conn.fetchval(f"SELECT count(*) FROM {table}")
            size = await conn.fetchval(
                # A partitioned table's size is its partitions'; pg_partition_tree is empty for a plain table.
                "SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree($1::regclass)),"
                " pg_total_relation_size($1::regclass))",
                table,
            )
            per_row = size / rows if rows else 0
            print(f"  {table:<8} {rows:>12,} rows {size / 2**20:>10,.1f} MiB   {per_row:>6,.0f} bytes per row")
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
