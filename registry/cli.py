"""The `registry` command: serve, migrate, and the operators' commands (docs/contract.md, CLI).

Every command uses the same database as `serve` (DATABASE_URL, or the embedded
server in REGISTRY_DATA_DIR). A command's work is an async function
`(conn, settings, args) -> Output` in its feature's `cli.py`; this module only
parses, connects, and prints (`--json` prints the one JSON object).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import msgspec
import uvicorn
from uvicorn.supervisors import Multiprocess

from registry import audit, database, jobs
from registry import retention as job
from registry.admin import cli as admin_cli
from registry.app import create_app
from registry.checks import cli as checks_cli
from registry.commands import Command, Output
from registry.contacts import cli as contacts_cli
from registry.database import Connection
from registry.errors import DomainError
from registry.server import server_config
from registry.settings import Settings, SettingsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="registry", description="Contact consent registry")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    top = parser.add_subparsers(dest="command", required=True)

    serve = top.add_parser("serve", help="run the HTTP service (applies migrations first)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=1)
    top.add_parser("migrate", help="apply pending migrations in sql/")
    worker = top.add_parser(
        "worker", help="send queued SMS (codes, notices, replies) until stopped; run beside REGISTRY_SMS_WORKER=0 serve"
    )
    worker.add_argument("--drain", action="store_true", help="send what is due now, then exit")

    agency = top.add_parser("agency", help="lenders and collection agencies").add_subparsers(
        dest="action", required=True
    )
    create = agency.add_parser("create")
    create.add_argument("--name", required=True)
    create.add_argument("--credit-code", required=True, help="18-character unified social credit code")
    for action in ("suspend", "reinstate"):
        sub = agency.add_parser(action)
        sub.add_argument("agency_id")
        sub.add_argument("--reason", default="")
    agency.add_parser("list")

    key = top.add_parser("key", help="agency API keys").add_subparsers(dest="action", required=True)
    key_create = key.add_parser("create", help="prints the key once; only its hash is kept")
    key_create.add_argument("--agency", required=True, dest="agency_id")
    key_create.add_argument(
        "--sandbox",
        action="store_true",
        help="an rk_test_ key: answers by the number's last digit, never touches a real contact, sends no SMS",
    )
    key_revoke = key.add_parser("revoke")
    key_revoke.add_argument("key_id")

    admin = top.add_parser("admin", help="registry staff").add_subparsers(dest="action", required=True)
    admin_create = admin.add_parser("create")
    admin_create.add_argument("--username", required=True)
    admin_create.add_argument("--role", required=True, choices=["admin", "reviewer"])
    admin_create.add_argument("--password-stdin", action="store_true", required=True)

    outbox = top.add_parser("outbox", help="the development SMS outbox: what would have been sent")
    outbox.add_argument("--phone", default=None)
    outbox.add_argument("--limit", type=int, default=20)

    top.add_parser("retention", help="delete what is past its term (codes, sessions; call records after 3 years)")

    audit = top.add_parser("audit", help="the hash-chained audit log").add_subparsers(dest="action", required=True)
    verify = audit.add_parser("verify", help="check the chain; names the first broken row")
    verify.add_argument(
        "--head", default=None, help="a head saved from GET /v1/audit/head: also check nothing after it was cut"
    )

    receipt = top.add_parser("receipt", help="agencies' signed check receipts").add_subparsers(
        dest="action", required=True
    )
    receipt_verify = receipt.add_parser(
        "verify", help="check a saved answer of POST /v1/checks or /v1/checks/batch against the published keys"
    )
    receipt_verify.add_argument("file", help="the answer's JSON, saved as received")
    receipt_verify.add_argument(
        "--keys",
        default=None,
        help="a saved /.well-known/jwks.json file, or its URL (default: REGISTRY_PUBLIC_URL's)",
    )

    _accept_json_anywhere(parser)
    return parser


def _accept_json_anywhere(parser: argparse.ArgumentParser) -> None:
    """Let `--json` follow the subcommand too (`registry key create --agency X --json`)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if not any(a.dest == "json" for a in sub._actions):
                    sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
                _accept_json_anywhere(sub)


async def audit_verify(conn: Connection, settings: Settings, args: argparse.Namespace) -> Output:
    count, broken = await audit.verify(conn)
    if broken is None and args.head:
        saved = msgspec.json.decode(Path(args.head).read_bytes(), type=audit.Head)
        broken = await audit.still_holds(conn, saved)
    if broken is None:
        return Output({"ok": True, "rows": count}, f"audit log intact: {count} rows verified")
    return Output(
        {"ok": False, "rows": count, "broken_seq": broken.seq, "reason": broken.reason},
        f"audit log BROKEN at row {broken.seq}: {broken.reason}",
        exit_code=1,
    )


async def retention(conn: Connection, settings: Settings, args: argparse.Namespace) -> Output:
    purged = await job.run(conn, settings.record_retention_days)
    lines = [f"{p.rows:>8}  {p.what}" for p in purged]
    return Output({"purged": {p.what: p.rows for p in purged}}, "deleted:\n" + "\n".join(lines))


# command path -> the feature's command.
COMMANDS: dict[tuple[str, ...], Command] = {
    ("agency", "create"): admin_cli.agency_create,
    ("agency", "suspend"): admin_cli.agency_suspend,
    ("agency", "reinstate"): admin_cli.agency_reinstate,
    ("agency", "list"): admin_cli.agency_list,
    ("key", "create"): admin_cli.key_create,
    ("key", "revoke"): admin_cli.key_revoke,
    ("admin", "create"): admin_cli.admin_create,
    ("outbox",): contacts_cli.outbox,
    ("audit", "verify"): audit_verify,
    ("retention",): retention,
}


async def _run(command: Command, settings: Settings, args: argparse.Namespace) -> Output:
    owner_url = database.database_url(settings)
    await database.migrate_url(owner_url, settings)
    # Operators' commands run with the service's own (least) privileges.
    conn = await asyncpg.connect(database.runtime_url(settings, owner_url))
    try:
        await conn.execute("SET TIME ZONE 'UTC'")
        return await command(conn, settings, args)
    finally:
        await conn.close()


def serve(settings: Settings, args: argparse.Namespace) -> int:
    host = args.host or settings.host
    port = args.port or settings.port
    # Workers import the app by name, so they rebuild settings from the same environment.
    app = "registry.main:app" if args.workers > 1 else create_app(settings)
    config = server_config(app, settings, host=host, port=port, workers=args.workers)
    server = uvicorn.Server(config)
    # What uvicorn.run does, with our config (its read deadlines and trusted proxies).
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        server.run()
    return 0 if server.started or config.workers > 1 else 1


def worker(settings: Settings, args: argparse.Namespace) -> int:
    """`registry worker`: the SMS worker of registry/jobs.py on its own, until SIGINT or SIGTERM."""
    asyncio.run(_work(settings, drain=args.drain))
    return 0


async def _work(settings: Settings, *, drain: bool) -> None:
    owner_url = await asyncio.to_thread(database.database_url, settings)
    await database.migrate_url(owner_url, settings)
    url = database.runtime_url(settings, owner_url)
    pool = await database.create_pool(url, settings)
    try:
        if drain:
            await jobs.drain(settings, url, pool)
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)
        print("registry worker: sending queued SMS; Ctrl-C stops", file=sys.stderr)
        await jobs.run(settings, url, pool, stop)
    finally:
        await pool.close()
        if settings.database_url is None:
            database.release_embedded()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"registry: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return serve(settings, args)
    if args.command == "worker":
        return worker(settings, args)
    if args.command == "receipt":
        output = checks_cli.receipt_verify(settings, args)
    elif args.command == "migrate":
        applied = asyncio.run(database.migrate_url(database.database_url(settings), settings))
        output = Output({"applied": applied}, "applied: " + (", ".join(applied) or "nothing, all up to date"))
    else:
        path = (args.command, args.action) if hasattr(args, "action") else (args.command,)
        try:
            output = asyncio.run(_run(COMMANDS[path], settings, args))
        except DomainError as exc:
            print(f"registry: {exc.detail}", file=sys.stderr)
            return 1
        except database.MigrationError as exc:
            print(f"registry: migration error: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(output.data, default=str, ensure_ascii=False) if args.json else output.text)
    return output.exit_code
