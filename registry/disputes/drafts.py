"""Nothing she typed is lost: a complaint sent after her sign-in timed out waits here until she is back.

The form's fields (and its file, when it had one of at most 10 MB) are kept a day under the hash
of a random token; the token is an HttpOnly cookie on /complaints. When she signs in again, the
form comes back filled in; filing it deletes the draft. A draft made under a session that timed
out is bound to that session's number: another person signing in on the same phone does not see it.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar.datastructures import Cookie

from registry import tokens
from registry.database import Connection
from registry.settings import Settings

COOKIE = "complaint_draft"
PREFIX = "cd_"
DAY = 24 * 3600


class Draft(msgspec.Struct, frozen=True, kw_only=True):
    values: dict[str, Any]
    filename: str | None = None
    file: bytes | None = None


# Expired drafts of anyone go first: no job needed to keep the table small.
KEEP = """
    WITH gone AS (DELETE FROM complaint_drafts WHERE expires_at < now())
    INSERT INTO complaint_drafts (token_hash, phone_key, form, filename, file) VALUES ($1, $2, $3::jsonb, $4, $5)
"""


async def keep(
    conn: Connection, phone_key: bytes | None, values: dict[str, Any], filename: str | None, data: bytes | None
) -> str:
    """Keep the form (and file) for a day; the token that finds it again."""
    token = tokens.new_token(PREFIX)
    await conn.execute(KEEP, tokens.token_hash(token), phone_key, json.dumps(values), filename, data)
    return token


FIND = """
    SELECT form, filename, file FROM complaint_drafts
    WHERE token_hash = $1 AND expires_at > now() AND (phone_key IS NULL OR phone_key = $2)
"""


async def find(conn: Connection, token: str | None, phone_key: bytes) -> Draft | None:
    if not token:
        return None
    row = await conn.fetchrow(FIND, tokens.token_hash(token), phone_key)
    if row is None:
        return None
    file = bytes(row["file"]) if row["file"] is not None else None
    return Draft(values=json.loads(row["form"]), filename=row["filename"], file=file)


DROP = "DELETE FROM complaint_drafts WHERE token_hash = $1"


async def drop(conn: Connection, token: str | None) -> None:
    if token:
        await conn.execute(DROP, tokens.token_hash(token))


def cookie(settings: Settings, token: str, max_age: int = DAY) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=token,
        max_age=max_age,
        path="/complaints",
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
    )


def cleared_cookie(settings: Settings) -> Cookie:
    return cookie(settings, "", 0)
