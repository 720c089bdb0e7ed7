"""One-time codes: sent by SMS, traded for a session.

No lockout: nothing anyone else does can make the owner's fresh, correct code fail. Wrong tries
void the code they were made against (its fifth) and slow down the client address that made
them; they are never counted against the number. Codes sent to one number back off (the first at
once, then growing waits), and the page says until when. Refusing needs no code at all: a
notice's link and an SMS reply work whatever the code limits say.
"""

from __future__ import annotations

import math
import secrets
import unicodedata
from datetime import timedelta

import msgspec

from registry import phones, tokens
from registry.contacts.schemas import CodeSent
from registry.database import Connection
from registry.errors import InvalidInput, TooManyRequests, Unauthorized
from registry.rows import fetch_one
from registry.sessions.contact import SessionToken, start_session
from registry.settings import Settings
from registry.sms import Envelope, queue_sms, sealer_for


def client_key(settings: Settings, address: str | None) -> bytes:
    """The client address is kept only as an HMAC, enough to count requests from it."""
    return tokens.keyed_hash(settings.session_key, "client:" + (address or "unknown"))


def lock_id(key: bytes) -> int:
    return int.from_bytes(key[:8], "big", signed=True)


LOCK = "SELECT pg_advisory_xact_lock($1)"


class Throttled(msgspec.Struct, frozen=True):
    """Seconds until the limit frees a slot; absent when under the limit."""

    client_wait: float | None


def _raise_if_throttled(throttled: Throttled, what: str) -> None:
    if throttled.client_wait is not None:
        raise TooManyRequests(f"too many {what} from this address; try again later", int(throttled.client_wait) + 1)


# Waits between codes sent to one number, after the 1st, 2nd, ... send: the first goes at once, a
# second after 30 seconds, and so on up to an hour. Counted over the day, and from the last code that
# was used: a number whose owner signed in starts again at once. Nobody is ever locked out for an
# hour, and a collector asking for codes for someone else's number sends her a few SMS, not hundreds.
RESEND_WAITS = (30, 60, 120, 300, 600, 1200, 1800, 3600)

# How many codes went to this number since the day began or its last code was used, and the newest.
SENT_TO_NUMBER = """
    SELECT count(*)::int AS sent, max(created_at) AS last, now() AS now
    FROM contact_codes
    WHERE phone_key = $1 AND created_at > now() - interval '1 day'
      AND created_at > coalesce((SELECT max(used_at) FROM contact_codes
                                 WHERE phone_key = $1 AND used_at > now() - interval '1 day'), '-infinity')
"""
# The limit-th most recent code this client asked for inside the hour: once it leaves the hour a slot is free.
CLIENT_SENDS = """
    SELECT
        (SELECT extract(epoch FROM created_at + interval '1 hour' - now())::float8 FROM contact_codes
         WHERE client_key = $1 AND created_at > now() - interval '1 hour'
         ORDER BY created_at DESC OFFSET $2::int - 1 LIMIT 1) AS client_wait
"""
# Only the newest code works: asking for a new one voids the ones before it.
VOID_OPEN_CODES = """
    UPDATE contact_codes SET voided_at = now()
    WHERE phone_key = $1 AND used_at IS NULL AND voided_at IS NULL AND expires_at > now()
"""
INSERT_CODE = """
    INSERT INTO contact_codes (phone_key, client_key, code_hash, expires_at)
    VALUES ($1, $2, $3, now() + make_interval(mins => $4::int))
"""


def _code_hash(settings: Settings, phone_key: bytes, code: str) -> bytes:
    return tokens.keyed_hash(settings.session_key, f"{phone_key.hex()}:{code}")


def resend_wait(sent: int) -> timedelta:
    """How long after the `sent`-th code (since the last one used) the next may go."""
    return timedelta(seconds=RESEND_WAITS[min(sent, len(RESEND_WAITS)) - 1]) if sent else timedelta(0)


async def send_code(conn: Connection, settings: Settings, raw_phone: str, address: str | None) -> CodeSent:
    """Make a 6-digit code and queue its SMS in the same transaction. Every valid number we can text gets
    the same answer, registered or not; one we cannot (a landline, another country's) is 422."""
    number = phones.parse(raw_phone, settings.default_region)
    if not number.can_text(settings.sms_regions):
        raise InvalidInput(
            "phone", f"codes go only to mobile numbers of {', '.join(settings.sms_regions)}", code="not_textable"
        )
    key = phones.phone_key(number.e164, settings.pepper)
    client = client_key(settings, address)
    limits = settings.contact
    code = f"{secrets.randbelow(1_000_000):06d}"
    async with conn.transaction():
        await conn.execute(LOCK, lock_id(key))
        throttled = await fetch_one(conn, Throttled, CLIENT_SENDS, client, limits.code_sends_per_client_hour)
        _raise_if_throttled(throttled, "codes requested")
        sent = await conn.fetchrow(SENT_TO_NUMBER, key)
        assert sent is not None
        if sent["sent"]:
            next_at = sent["last"] + resend_wait(sent["sent"])
            if next_at > sent["now"]:
                wait = math.ceil((next_at - sent["now"]).total_seconds())
                raise TooManyRequests(
                    f"a code was sent to this number recently; the next can go at {next_at.isoformat()}",
                    wait,
                    code="code_resend_wait",
                )
        await conn.execute(VOID_OPEN_CODES, key)
        await conn.execute(INSERT_CODE, key, client, _code_hash(settings, key, code), limits.code_minutes)
        await queue_sms(conn, settings, "code", number.e164, settings.jurisdiction.code_sms(code, limits.code_minutes))
    return CodeSent(expires_in=limits.code_minutes * 60)


# Wrong tries are limited per client address only: counting them per number would let anyone lock
# the number's owner out by guessing wrong on purpose. Each code dies after its own few wrong tries.
CLIENT_TRIES = """
    SELECT
        (SELECT extract(epoch FROM at + interval '1 hour' - now())::float8 FROM contact_code_failures
         WHERE client_key = $1 AND at > now() - interval '1 hour'
         ORDER BY at DESC OFFSET $2::int - 1 LIMIT 1) AS client_wait
"""
LIVE_CODE = """
    SELECT id, code_hash FROM contact_codes
    WHERE phone_key = $1 AND used_at IS NULL AND voided_at IS NULL AND expires_at > now()
    ORDER BY created_at DESC LIMIT 1
    FOR UPDATE
"""
# The code's max-th wrong try voids it.
FAIL_CODE = """
    UPDATE contact_codes
    SET failures = failures + 1, voided_at = CASE WHEN failures + 1 >= $2 THEN now() END
    WHERE id = $1
"""
RECORD_FAILURE = "INSERT INTO contact_code_failures (phone_key, client_key) VALUES ($1, $2)"
USE_CODE = "UPDATE contact_codes SET used_at = now() WHERE id = $1"


def clean_code(raw: str) -> str:
    """Full-width digits and spaces are folded, so `１２３ ４５６` is `123456`."""
    if len(raw) > 32:  # before NFKC, whose cost can grow with the square of the input
        raise InvalidInput("code", "the code has 6 digits")
    code = "".join(unicodedata.normalize("NFKC", raw).split())
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise InvalidInput("code", "the code has 6 digits")
    return code


async def open_session(
    conn: Connection, settings: Settings, raw_phone: str, raw_code: str, address: str | None
) -> SessionToken:
    """Trade a right code for a session token; a wrong one counts against the code and the try limits."""
    e164 = phones.normalize(raw_phone, settings.default_region)
    code = clean_code(raw_code)
    key = phones.phone_key(e164, settings.pepper)
    client = client_key(settings, address)
    limits = settings.contact
    session: SessionToken | None = None
    async with conn.transaction():
        await conn.execute(LOCK, lock_id(key))
        throttled = await fetch_one(conn, Throttled, CLIENT_TRIES, client, limits.code_failures_per_client_hour)
        _raise_if_throttled(throttled, "wrong codes")
        live = await conn.fetchrow(LIVE_CODE, key)
        right = live is not None and tokens.same(bytes(live["code_hash"]), _code_hash(settings, key, code))
        if live is not None and right:
            await conn.execute(USE_CODE, live["id"])
            sealed = sealer_for(settings.session_key).seal(Envelope(to=e164))
            session = await start_session(conn, key, phones.mask(e164), limits.session_minutes, sealed)
        else:
            if live is not None:
                await conn.execute(FAIL_CODE, live["id"], limits.code_max_failures)
            await conn.execute(RECORD_FAILURE, key, client)
    # Raised after the commit, so the wrong try stays counted.
    if session is None:
        raise await _why_refused(conn, key, live is not None, limits.code_max_failures)
    return session


# The newest code of the number, whatever its state: why a code that did not work did not.
NEWEST_CODE = """
    SELECT expires_at <= now() AS expired, failures, voided_at IS NOT NULL AS voided, used_at IS NOT NULL AS used
    FROM contact_codes WHERE phone_key = $1 ORDER BY created_at DESC LIMIT 1
"""


async def _why_refused(conn: Connection, key: bytes, was_live: bool, max_failures: int) -> Unauthorized:
    """Which case it is, so the page can say it (issue 11): `wrong_code` (tries left), `code_voided` (the
    last wrong try used them up), `code_expired` (older than its minutes, or already used).

    Every case is the same 401 with the same `type`; only `code` names the case. It tells nothing about
    whether the number is registered: a code was asked for it, by whoever is typing now.
    """
    newest = await conn.fetchrow(NEWEST_CODE, key)
    if newest is None or newest["used"] or (newest["expired"] and not newest["voided"]):
        return Unauthorized("the code has expired or was used; ask for a new one", code="code_expired")
    if newest["voided"] and newest["failures"] >= max_failures:
        return Unauthorized(f"{max_failures} wrong tries voided this code; ask for a new one", code="code_voided")
    if not was_live:
        return Unauthorized("the code has expired or was used; ask for a new one", code="code_expired")
    return Unauthorized("wrong code", code="wrong_code")
