"""The migration runner: fresh, re-run, concurrent, tampered."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest

from registry import database


async def test_fresh_database_gets_every_migration(empty_database_url: str) -> None:
    applied = await database.migrate_url(empty_database_url)
    assert applied == [m.name for m in database.read_migrations()]
    conn = await asyncpg.connect(empty_database_url)
    try:
        tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
        for table in (
            "agencies",
            "api_keys",
            "rules",
            "checks",
            "permits",
            "attempts",
            "disputes",
            "dispute_events",
            "dispute_attachments",
            "contact_codes",
            "contact_sessions",
            "admins",
            "audit_log",
            "sms_outbox",
        ):
            assert table in tables
        # this month's checks partition exists, so today's checks do not land in the default one
        assert await conn.fetchval("SELECT count(*) FROM pg_inherits WHERE inhparent = 'checks'::regclass") >= 3
    finally:
        await conn.close()


async def test_rerun_applies_nothing(empty_database_url: str) -> None:
    await database.migrate_url(empty_database_url)
    assert await database.migrate_url(empty_database_url) == []


async def test_concurrent_starters_apply_each_file_once(empty_database_url: str) -> None:
    results = await asyncio.gather(*(database.migrate_url(empty_database_url) for _ in range(4)))
    names = [name for applied in results for name in applied]
    assert sorted(names) == sorted(m.name for m in database.read_migrations())
    conn = await asyncpg.connect(empty_database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(database.read_migrations())
    finally:
        await conn.close()


async def test_tampered_applied_file_is_an_error(empty_database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "sql"
    folder.mkdir()
    (folder / "0001_first.sql").write_text("CREATE TABLE one (id int);")
    conn = await asyncpg.connect(empty_database_url)
    try:
        assert await database.migrate(conn, folder) == ["0001_first.sql"]
        (folder / "0002_second.sql").write_text("CREATE TABLE two (id int);")
        assert await database.migrate(conn, folder) == ["0002_second.sql"]
        (folder / "0001_first.sql").write_text("CREATE TABLE one (id bigint);")
        with pytest.raises(database.MigrationError, match=r"0001_first\.sql changed"):
            await database.migrate(conn, folder)
    finally:
        await conn.close()


async def test_failed_migration_leaves_nothing_half_applied(empty_database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "sql"
    folder.mkdir()
    (folder / "0001_broken.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    conn = await asyncpg.connect(empty_database_url)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await database.migrate(conn, folder)
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 0
    finally:
        await conn.close()


def test_misnamed_file_is_an_error(tmp_path: Path) -> None:
    shutil.copy(database.MIGRATIONS_DIR / "0001_init.sql", tmp_path / "init.sql")
    with pytest.raises(database.MigrationError, match=r"NNNN_what\.sql"):
        database.read_migrations(tmp_path)
