"""What the registry holds on a contact: `me` (rules, who looked her up, complaints), and erasure."""

from __future__ import annotations

from registry import audit
from registry.complaints import contact_disputes
from registry.contacts.codes import LOCK, lock_id
from registry.contacts.rules import hold_for_checks, rules_of
from registry.contacts.schemas import Me, RecentCheck
from registry.database import Connection
from registry.notices import notices_of
from registry.permits import revoke_contradicted_permits
from registry.rows import fetch_all
from registry.sessions.contact import ContactSession
from registry.settings import Settings

RECENT_CHECKS = """
    SELECT a.name AS agency, c.agency_id, c.checked_at, c.decision, c.reason
    FROM checks c JOIN agencies a ON a.id = c.agency_id
    WHERE c.phone_key = $1 AND c.checked_at > now() - interval '90 days'
    ORDER BY c.checked_at DESC
    LIMIT 500
"""


async def recent_checks(conn: Connection, phone_key: bytes) -> list[RecentCheck]:
    """Who looked the number up in the last 90 days (newest first)."""
    return await fetch_all(conn, RecentCheck, RECENT_CHECKS, phone_key)


async def me(conn: Connection, contact: ContactSession) -> Me:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return Me(
            phone=contact.phone_hint,
            rules=await rules_of(conn, contact.phone_key),
            recent_checks=await recent_checks(conn, contact.phone_key),
            disputes=await contact_disputes(conn, contact.phone_key),
            notices=await notices_of(conn, contact.phone_key),
        )


ERASE = """
    WITH rules_gone AS (DELETE FROM rules WHERE phone_key = $1 RETURNING 1),
    receipts_gone AS (DELETE FROM contact_receipts WHERE phone_key = $1 RETURNING 1),
    sessions_gone AS (DELETE FROM contact_sessions WHERE phone_key = $1 RETURNING 1),
    codes_gone AS (DELETE FROM contact_codes WHERE phone_key = $1 RETURNING 1),
    drafts_gone AS (DELETE FROM complaint_drafts WHERE phone_key = $1 RETURNING 1)
    SELECT (SELECT count(*) FROM rules_gone) AS rules, (SELECT count(*) FROM sessions_gone) AS sessions
"""


async def erase(conn: Connection, settings: Settings, contact: ContactSession) -> None:
    """Delete the contact's rules, receipts, sessions and codes: this also ends the protection.

    Checks, attempts, complaints and the audit log stay for their retention term.
    """
    async with conn.transaction():
        await conn.execute(LOCK, lock_id(contact.phone_key))
        await hold_for_checks(conn, contact.phone_key)  # before the rules go (see hold_for_checks)
        counts = await conn.fetchrow(ERASE, contact.phone_key)
        assert counts is not None
        await revoke_contradicted_permits(conn, contact.phone_key, "erased", settings)
        await audit.record(
            conn,
            contact.actor,
            "contact.erase",
            contact.actor,
            {"rules": counts["rules"], "sessions": counts["sessions"]},
        )
