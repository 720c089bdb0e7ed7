"""Cheap stalls, measured (issue 9 items 1 and 2): slow uploads, and a flood of staff sign-ins.

    .venv/bin/python bench/stalls.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/stalls.py --source /tmp/before ...   # serve another checkout (git archive) instead

It makes the database `registry_stalls` on that server (dropped first), starts `registry serve`
from the chosen source tree in a subprocess on a loopback port (X-Forwarded-For trusted from
127.0.0.1, so one client can pose as many), creates an agency key and a contact session, and prints:

- slow bodies: N uploads (`POST /v1/contact/disputes/{ref}/attachments`, multipart,
  Content-Length 100,000, one byte sent) held open, then the latency and status of
  `POST /v1/checks` and `GET /readyz`;
- sign-in flood: 200 concurrent `POST /v1/admin/sessions` with unknown usernames, from one
  address and then from 200 addresses: wall time, statuses, the worst `/v1/checks` latency
  while it runs (one check every 100 ms), and the server's RSS before and at its peak.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry import jurisdiction, phones  # noqa: E402
from registry.agencies import queries as agencies  # noqa: E402
from registry.sessions.contact import start_session  # noqa: E402

PEPPER = bytes.fromhex("5a" * 32)
SESSION_KEY = bytes.fromhex("6b" * 32)
DB = "registry_stalls"


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def fresh_database(server_url: str) -> str:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DB}"')
    finally:
        await admin.close()
    return with_database(server_url, DB)


def start_service(source: Path, database_url: str, port: int, workers: int, data_dir: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(source),
        "DATABASE_URL": database_url,
        "REGISTRY_DATA_DIR": data_dir,
        "REGISTRY_PEPPER": PEPPER.hex(),
        "REGISTRY_SESSION_KEY": SESSION_KEY.hex(),
        "REGISTRY_TRUSTED_PROXIES": "127.0.0.1",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
    }
    command = [sys.executable, "-m", "registry", "serve", "--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(command, cwd=source, env=env, stdout=subprocess.DEVNULL)


async def wait_ready(url: str, within: float = 120) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise SystemExit("the service did not become ready")


async def credentials(database_url: str) -> tuple[str, str]:
    """An agency API key and a contact session token, written straight into the database."""
    conn = await asyncpg.connect(database_url)
    try:
        body = "91110000" + "".join(secrets.choice(jurisdiction.CREDIT_CODE_ALPHABET) for _ in range(9))
        code = jurisdiction.with_check_character(body)
        agency = await agencies.create_agency(conn, "Bench Collect", code, "bench")
        key = await agencies.issue_key(conn, agency.id, "bench")
        e164 = phones.normalize("13800138000")
        session = await start_session(conn, phones.phone_key(e164, PEPPER), phones.mask(e164), 600)
    finally:
        await conn.close()
    return key.key, session.token


def rss_mb(process: psutil.Process) -> float:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 1e6


async def timed(request: Awaitable[httpx.Response]) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        response = await request
        outcome = str(response.status_code)
    except httpx.HTTPError as exc:
        outcome = type(exc).__name__
    return time.perf_counter() - started, outcome


async def slow_bodies(url: str, port: int, key: str, token: str, count: int) -> None:
    streams = []
    head = (
        "POST /v1/contact/disputes/D-2026-ABCDEF/attachments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000\r\n"
        f"Authorization: Bearer {token}\r\n\r\n-"
    )
    for _ in range(count):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head.encode())
        await writer.drain()
        streams.append(writer)
    await asyncio.sleep(1)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        headers = {"Authorization": f"Bearer {key}"}
        for n in range(3):
            body = {"phone": f"+8613900{n:06d}"}
            took, status = await timed(client.post("/v1/checks", json=body, headers=headers))
            print(f"  with {count} slow bodies open: POST /v1/checks {status} in {took * 1000:8.1f} ms")
        for _ in range(3):
            took, status = await timed(client.get("/readyz"))
            print(f"  with {count} slow bodies open: GET /readyz     {status} in {took * 1000:8.1f} ms")
    for writer in streams:
        writer.close()


async def sign_in_flood(url: str, process: psutil.Process, key: str, logins: int, addresses: int) -> None:
    rss_before = rss_mb(process)
    peak = rss_before
    worst = 0.0
    check_outcomes: collections.Counter[str] = collections.Counter()
    done = asyncio.Event()

    async def watch_memory() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb(process))
            await asyncio.sleep(0.05)

    async def check_meanwhile(client: httpx.AsyncClient) -> None:
        nonlocal worst
        headers = {"Authorization": f"Bearer {key}"}
        n = 0
        while not done.is_set():
            body = {"phone": f"+8615800{n:06d}"}
            n += 1
            took, status = await timed(client.post("/v1/checks", json=body, headers=headers))
            worst = max(worst, took)
            check_outcomes[status] += 1
            await asyncio.sleep(0.1)

    limits = httpx.Limits(max_connections=logins + 10, max_keepalive_connections=logins + 10)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        watchers = [asyncio.create_task(watch_memory()), asyncio.create_task(check_meanwhile(client))]

        async def sign_in(i: int) -> str:
            body = {"username": f"nobody{secrets.token_hex(4)}", "password": "wrong password " + str(i)}
            headers = {"X-Forwarded-For": f"10.{i // 250}.{i % 250}.7"} if addresses > 1 else {}
            _, status = await timed(client.post("/v1/admin/sessions", json=body, headers=headers))
            return status

        started = time.perf_counter()
        statuses = await asyncio.gather(*(sign_in(i % max(addresses, 1)) for i in range(logins)))
        wall = time.perf_counter() - started
        await asyncio.sleep(0.3)
        done.set()
        await asyncio.gather(*watchers)
    counted = ", ".join(f"{s}: {n}" for s, n in sorted(collections.Counter(statuses).items()))
    checks = ", ".join(f"{s}: {n}" for s, n in sorted(check_outcomes.items()))
    print(
        f"  {logins} unknown-name sign-ins from {addresses} address(es): {wall:6.2f} s wall ({counted}); "
        f"/v1/checks meanwhile worst {worst * 1000:.0f} ms ({checks}); RSS {rss_before:.0f} MB -> peak {peak:.0f} MB"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), required=False)
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout to serve (default: this one)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--slow", type=int, default=10)
    parser.add_argument("--logins", type=int, default=200)
    args = parser.parse_args()
    if not args.database_url:
        raise SystemExit("--database-url (a PostgreSQL server the bench may create a database on) is required")
    database_url = await fresh_database(args.database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        service = start_service(args.source.resolve(), database_url, port, args.workers, data_dir)
        try:
            await wait_ready(url)
            key, token = await credentials(database_url)
            process = psutil.Process(service.pid)
            print(json.dumps({"source": str(args.source), "workers": args.workers, "cpus": os.cpu_count()}))
            print("slow bodies:")
            await slow_bodies(url, port, key, token, args.slow)
            await asyncio.sleep(2)
            print("sign-in flood:")
            await sign_in_flood(url, process, key, args.logins, 1)
            await asyncio.sleep(65)  # a fresh minute for the per-minute limits
            await sign_in_flood(url, process, key, args.logins, args.logins)
        finally:
            service.terminate()
            service.wait(30)


if __name__ == "__main__":
    asyncio.run(main())
