"""Operator commands for agencies, keys and staff accounts (`registry agency|key|admin ...`)."""

from __future__ import annotations

import argparse
import sys

from registry.agencies import queries as agencies
from registry.commands import Output
from registry.database import Connection
from registry.sessions import staff as accounts
from registry.settings import Settings

CLI_ACTOR = "cli"


async def agency_create(conn: Connection, settings: Settings, args: argparse.Namespace) -> Output:
    agency = await agencies.create_agency(conn, args.name, args.credit_code, CLI_ACTOR, settings.jurisdiction)
    return Output(
        {"agency_id": str(agency.id), "name": agency.name, "credit_code": agency.credit_code, "status": agency.status},
        f"agency created: {agency.id}  {agency.name} ({agency.credit_code})",
    )


async def agency_suspend(conn: Connection, settings: Settings, args: argparse.Namespace) -> Output:
    agency = await agencies.set_status(conn, args.agency_id, "suspended", CLI_ACTOR, args.reason)
    return Output({"agency_id": str(agency.id), "status": agency.status}, f"agency {agency.id} suspended")


async def agency_reinstate(conn: Connection, settings: Settings, args: argparse.Namespace) -> Output:
    agency = await agencies.set_status(conn, args.agency_id, "active", CLI_ACTOR, args.reason)
    return Output({"agency_id": str(agency.id), "status": agency.status}, f"agency {agency.id} reinstated")


async def agency_list(conn: Connection, settings: Settings, args: argparse.Namespace) -> Output:
    rows = await agencies.list_agencies(conn)
    lines = [f"{a.id}  {a.status:<9}  {a.credit_code}  {a.name}" for a in rows] or ["no agencies yet"]
    return Output(
        {
            "agencies": [
                {"agency_id": str(a.id), "name": a.name, "credit_code": a.credit_code, "status": a.status} for a in rows
            ]
        },
        "\n".join(lines),
    )


async def key_create(conn: Connection, settings: Settings, args: argparse.Namespace) -> Output:
    issued = await agencies.issue_key(conn, args.agency_id, CLI_ACTOR, sandbox=args.sandbox)
    note = "\nsandbox: answers by the number's last digit, never about a real contact" if issued.sandbox else ""
    return Output(
        {
            "key_id": str(issued.key_id),
            "key": issued.key,
            "agency_id": str(issued.agency_id),
            "sandbox": issued.sandbox,
        },
        f"key id: {issued.key_id}\nkey:    {issued.key}\n(shown once; only its hash is kept){note}",
    )


async def key_revoke(conn: Connection, settings: Settings, args: argparse.Namespace) -> Output:
    key = await agencies.revoke_key(conn, args.key_id, CLI_ACTOR)
    return Output({"key_id": str(key.id), "revoked_at": key.revoked_at}, f"key {key.id} revoked")


async def admin_create(conn: Connection, settings: Settings, args: argparse.Namespace) -> Output:
    """The password comes from stdin (first line), so it never shows in `ps` or shell history."""
    password = sys.stdin.readline().rstrip("\r\n")
    account = await accounts.create_admin(conn, args.username, args.role, password, CLI_ACTOR)
    return Output(
        {"admin_id": str(account.id), "username": account.username, "role": account.role},
        f"{account.role} created: {account.username} ({account.id})",
    )
