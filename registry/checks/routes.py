"""The agency API: pre-dial checks (one or a batch), reported attempts, the changes feed, the public agency list."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID, uuid4

import asyncpg
import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from registry import phones, receipts, signing
from registry.agencies.guard import AGENCY_DEPENDENCIES, AGENCY_GUARDS, provide_api_key
from registry.agencies.queries import SANDBOX_PREFIX, Caller, authenticate
from registry.checks import queries, sandbox
from registry.checks.schemas import (
    AttemptRequest,
    AttemptResult,
    BatchCheckResult,
    BatchItemError,
    BatchRequest,
    BatchResponse,
    Change,
    ChangesPage,
    CheckRequest,
    CheckResult,
    ItemError,
)
from registry.database import Connection
from registry.domain import Limit
from registry.errors import Conflict, InvalidInput, NotFound, problem_responses
from registry.settings import Settings
from registry.sms import sealer_for
from registry.tokens import token_hash

# 10,000 items of two phone numbers each fit in well under 2 MB of JSON.
BATCH_MAX_BODY = 4 * 1024 * 1024
# A batch goes to PostgreSQL in chunks, so parsing overlaps the database work: a small first chunk
# (250 rather than 1,000: a 1,000-number batch then overlaps too; measured 0.35 -> 0.51 of parse),
# then each twice the one before up to 2,000, since every statement also pays for the key, the
# locks, the day's notice count and a commit (chunks of 250 made a 10,000-number batch 40 statements).
FIRST_CHUNK, LARGEST_CHUNK = 250, 2000


def chunks(total: int) -> list[tuple[int, int]]:
    """(start, end) of each chunk of a batch of `total` items."""
    bounds, start, size = [], 0, FIRST_CHUNK
    while start < total:
        bounds.append((start, min(start + size, total)))
        start, size = start + size, min(size * 2, LARGEST_CHUNK)
    return bounds


# Agencies' clocks drift; a report a little ahead of ours is not "in the future".
CLOCK_SLACK = timedelta(minutes=5)

# The optional header of a check, a batch and a report: the same key again within 24 h gets the first answer.
IdempotencyKey = Annotated[str | None, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=200)]


def _result(phone: str, answer: queries.Answer, settings: Settings, *, sandbox: bool = False) -> CheckResult:
    """The answer and its receipt, signed over the same values the answer shows."""
    assert answer.agency_id is not None, "the check statement names the agency"
    claims = receipts.check_claims(
        check_id=answer.check_id,
        agency_id=answer.agency_id,
        phone=phone,
        decision=answer.decision,
        reason=answer.reason,
        checked_at=answer.checked_at,
        valid_until=answer.valid_until,
        sandbox=sandbox,
    )
    return CheckResult(**_fields(phone, answer), receipt=signing.sign(settings, claims))


def _fields(phone: str, answer: queries.Answer) -> dict[str, Any]:
    return dict(
        check_id=answer.check_id,
        phone=phone,
        decision=answer.decision,
        reason=answer.reason,
        checked_at=answer.checked_at,
        valid_until=answer.valid_until,
        limit=_limit(answer),
        available_at=answer.available_at,
    )


def _limit(answer: queries.Answer) -> Limit | None:
    if answer.limit_permits is None or answer.limit_days is None or answer.limit_used is None:
        return None
    return Limit(permits=answer.limit_permits, window_days=answer.limit_days, used=answer.limit_used)


def _parse(item: CheckRequest, settings: Settings) -> tuple[str, bytes, bytes | None, bool]:
    """E.164 of the contact, its phone key, the borrower's key, and whether we can text the contact
    (a notice needs that). InvalidInput names the bad field."""
    number = phones.parse(item.phone, settings.default_region, field="phone")
    borrower = None
    if item.borrower_phone is not None:
        borrower_e164 = phones.normalize(item.borrower_phone, settings.default_region, field="borrower_phone")
        borrower = phones.phone_key(borrower_e164, settings.pepper)
    textable = number.can_text(settings.sms_regions)
    return number.e164, phones.phone_key(number.e164, settings.pepper), borrower, textable


def _items(parsed: list[tuple[str, bytes, bytes | None, bool]], settings: Settings) -> list[queries.Item]:
    """The statement's items: each number we can text is sealed for the notice SMS the check may queue
    (the plain number never reaches the database otherwise)."""
    sealed = sealer_for(settings.session_key).seal_numbers([p[0] if p[3] else None for p in parsed])
    return [queries.Item(p[1], p[2], s) for p, s in zip(parsed, sealed, strict=True)]


Parsed = tuple[str, bytes, bytes | None, bool]


async def _ask(
    conn: Connection, api_key: str, parsed: list[Parsed], settings: Settings, once: queries.Once | None = None
) -> list[queries.Answer]:
    """The answers, in input order, of the one statement that answers (`_send`)."""
    return queries.answers_of(await _send(conn, api_key, parsed, settings, once))


async def _send(
    conn: Connection, api_key: str, parsed: list[Parsed], settings: Settings, once: queries.Once | None = None
) -> list[asyncpg.Record]:
    """The one statement that answers: check_contacts() for a real key, or the sandbox's for an rk_test_ key
    (which then sees only the numbers' last digits: no phone key, no sealed number, no notice). Its rows
    unconverted: a batch sends its next chunk before it converts them."""
    if api_key.startswith(SANDBOX_PREFIX):
        digits = [int(p[0][-1]) for p in parsed]
        return await sandbox.check(conn, token_hash(api_key), digits, settings.limits, settings.notice, once)
    items = _items(parsed, settings) if parsed else []
    return await queries.check_contacts_rows(
        conn, token_hash(api_key), items, settings.limits, settings.notice, once=once
    )


async def _ask_once(
    conn: Connection, api_key: str, parsed: list[Parsed], settings: Settings, once: queries.Once
) -> queries.Batch:
    """As _ask, for a whole batch sent with an Idempotency-Key: the first batch's answer if this is a retry."""
    key_hash = token_hash(api_key)
    if api_key.startswith(SANDBOX_PREFIX):
        digits = [int(p[0][-1]) for p in parsed]
        return await sandbox.check_batch_once(conn, key_hash, digits, settings.limits, settings.notice, once)
    items = _items(parsed, settings) if parsed else []
    return await queries.check_batch_once(conn, key_hash, items, settings.limits, settings.notice, once)


def request_hash(data: msgspec.Struct, settings: Settings) -> bytes:
    """What an Idempotency-Key stands for: the decoded body re-encoded with sorted keys (so whitespace and key
    order do not matter) and the region its national numbers are read in. Under another
    REGISTRY_DEFAULT_REGION the same digits are other numbers, or none: a retry after that change is
    another request (409), never the first answer fitted to other items.

    Keyed with the pepper, like a phone key: a body holding one phone number has too little entropy for
    a plain SHA-256 of it to be stored (a table dump could be searched for the number).
    """
    body = msgspec.json.encode(data, order="sorted")
    return hmac.new(settings.pepper, settings.default_region.encode() + b"\0" + body, hashlib.sha256).digest()


def hot_path(request: Request[Any, Any, Any]) -> tuple[str, Settings]:
    """The key the guard accepted and the settings, read directly on the check routes.

    As dependencies beside `conn`, Litestar would resolve the three in a task group, on every
    check: 3-5 % of a check's py-spy samples (bench/README.md). With `conn` the
    only dependency, it is awaited directly.
    """
    return provide_api_key(request), request.app.state.settings


class AgencyApi(Controller):
    path = "/v1"
    tags = ["agency"]  # noqa: RUF012
    guards = AGENCY_GUARDS
    dependencies = AGENCY_DEPENDENCIES

    # 409: an Idempotency-Key reused with another body.
    @post("/checks", status_code=200, responses=problem_responses(Conflict))
    async def check(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CheckRequest],
        conn: NamedDependency[Connection],
        idempotency_key: IdempotencyKey = None,
    ) -> CheckResult:
        """Ask before dialing: allow (a permit for one attempt) or deny, with the reason.

        Send an Idempotency-Key: a retry within 24 h gets the first answer (same check id and receipt).
        """
        api_key, settings = hot_path(request)
        in_sandbox = api_key.startswith(SANDBOX_PREFIX)
        try:
            parsed = _parse(data, settings)
        except InvalidInput:
            # Credentials come first: a bad key hears 401/403 whatever the body says.
            await authenticate(conn, api_key)
            raise
        once = None
        if idempotency_key is not None:
            once = queries.Once(idempotency_key, request_hash(data, settings))
        [answer] = await _ask(conn, api_key, [parsed], settings, once)
        return _result(parsed[0], answer, settings, sandbox=in_sandbox)

    # 409: an Idempotency-Key reused with another body.
    @post(
        "/checks/batch",
        status_code=200,
        request_max_body_size=BATCH_MAX_BODY,
        responses=problem_responses(Conflict),
    )
    async def check_batch(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[BatchRequest],
        conn: NamedDependency[Connection],
        idempotency_key: IdempotencyKey = None,
    ) -> BatchResponse:
        """1 to 10,000 checks in one call; results in input order, a bad item is an error in its place.

        Send an Idempotency-Key: a retry within 24 h gets the first answer (same check ids and receipt).
        """
        api_key, settings = hot_path(request)
        if idempotency_key is not None:
            return await _check_batch_once(conn, api_key, data, settings, idempotency_key)
        results: list[BatchCheckResult | BatchItemError | None] = [None] * len(data.items)
        pending: asyncio.Task[list[asyncpg.Record]] | None = None
        pending_items: list[tuple[int, str]] = []
        checked_any = False
        agency_id: UUID | None = None
        for start, end in chunks(len(data.items)):
            valid, parsed = _parse_chunk(data.items, start, end, results, settings)
            # Parsing is the CPU-bound half and runs here while PostgreSQL answers the chunk
            # before it on the other core. Each chunk is its own statement, in order, so a
            # number repeated across chunks sees the permits the earlier chunk issued.
            arrived: tuple[list[tuple[int, str]], list[asyncpg.Record]] | None = None
            if pending is not None:
                arrived, pending = (pending_items, await pending), None
            if parsed:
                pending = asyncio.create_task(_send(conn, api_key, parsed, settings))
                pending_items, checked_any = valid, True
                await asyncio.sleep(0)  # let the task send its statement before the Python work below
            if arrived is not None:
                # The chunk before, converted while PostgreSQL already answers this one.
                agency_id = _fill(results, arrived[0], queries.answers_of(arrived[1])) or agency_id
        if pending is not None:
            agency_id = _fill(results, pending_items, queries.answers_of(await pending)) or agency_id
        if not checked_any:
            # No valid number, so the statement (which authenticates the key) has not run yet.
            agency_id = (await authenticate(conn, api_key)).agency_id
        assert agency_id is not None
        in_sandbox = api_key.startswith(SANDBOX_PREFIX)
        answered = [r for r in results if r is not None]
        return _signed_batch(answered, agency_id, uuid4(), datetime.now(UTC), settings, sandbox=in_sandbox)

    # 404: another agency's (or no) check id; 409: an Idempotency-Key reused with another body.
    @post("/attempts", status_code=201, responses=problem_responses(NotFound, Conflict))
    async def attempt(
        self,
        data: JSONBody[AttemptRequest],
        caller: NamedDependency[Caller],
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        idempotency_key: IdempotencyKey = None,
    ) -> AttemptResult:
        """Report a call, SMS or visit; it is recorded either way and flagged when no valid permit covered it."""
        if data.occurred_at.tzinfo is None:
            raise InvalidInput("occurred_at", "needs a UTC offset, e.g. 2025-06-01T09:30:00Z")
        if data.occurred_at > datetime.now(UTC) + CLOCK_SLACK:
            raise InvalidInput("occurred_at", "is in the future")
        if data.check_id is None and data.phone is None:
            raise InvalidInput("check_id", "give the check_id of the permit, or the phone when there was no check")
        phone_key, e164 = None, None
        if data.phone is not None:
            e164 = phones.normalize(data.phone, settings.default_region)
            # A sandbox attempt keeps no phone key: it is never about a real contact.
            phone_key = None if caller.sandbox else phones.phone_key(e164, settings.pepper)
        attempt = queries.Attempt(
            agency_id=caller.agency_id,
            check_id=data.check_id,
            phone_key=phone_key,
            occurred_at=data.occurred_at,
            channel=data.channel,
            outcome=data.outcome,
            idempotency_key=idempotency_key,
            request_hash=request_hash(data, settings),
        )
        if caller.sandbox:
            return await sandbox.record_attempt(conn, attempt, int(e164[-1]) if e164 else None)
        return await queries.record_attempt(conn, attempt)

    @get("/changes")
    async def changes(
        self,
        caller: NamedDependency[Caller],
        conn: NamedDependency[Connection],
        after: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> ChangesPage:
        """Permits of your agency revoked since the cursor (oldest first); pass `next` back as `after`."""
        if caller.sandbox:
            # No contact acts on a sandbox permit, so a sandbox key's feed stays empty (and never shows a real one).
            return ChangesPage(items=[], next=queries.encode_cursor(queries.decode_cursor(after)))
        rows, last = await queries.changes(conn, caller.agency_id, queries.decode_cursor(after), limit)
        items = [Change(check_id=r.check_id, revoked_at=r.revoked_at, reason=r.reason) for r in rows]
        return ChangesPage(items=items, next=queries.encode_cursor(last))


async def _check_batch_once(
    conn: Connection, api_key: str, data: BatchRequest, settings: Settings, idempotency_key: str
) -> BatchResponse:
    """A batch sent with an Idempotency-Key: every number in one statement, decided once; a retry within 24 h
    gets the first batch's check ids, id and time, so the same receipt (Ed25519 signs deterministically).

    Not in chunks: the chunks would share one transaction (a retry must find all or nothing), holding the
    first chunk's contact locks while taking the next's, and two such batches could deadlock. So parsing
    does not overlap the database here; the batch without the header keeps that.
    """
    results: list[BatchCheckResult | BatchItemError | None] = [None] * len(data.items)
    valid, parsed = _parse_chunk(data.items, 0, len(data.items), results, settings)
    once = queries.Once(idempotency_key, request_hash(data, settings))
    batch = await _ask_once(conn, api_key, parsed, settings, once)
    # The same body parses to the same valid items, so a replay's answers fit them one for one.
    _fill(results, valid, batch.answers)
    answered = [r for r in results if r is not None]
    in_sandbox = api_key.startswith(SANDBOX_PREFIX)
    return _signed_batch(answered, batch.agency_id, batch.batch_id, batch.checked_at, settings, sandbox=in_sandbox)


def _parse_chunk(
    items: list[Any], start: int, end: int, results: list[BatchCheckResult | BatchItemError | None], settings: Settings
) -> tuple[list[tuple[int, str]], list[Parsed]]:
    """Parse items[start:end]; bad ones become error entries in `results` at once."""
    valid: list[tuple[int, str]] = []
    parsed: list[tuple[str, bytes, bytes | None, bool]] = []
    for index in range(start, end):
        try:
            item = msgspec.convert(items[index], CheckRequest)
            one = _parse(item, settings)
        except msgspec.ValidationError as exc:
            results[index] = _item_error(index, "invalid_input", str(exc))
            continue
        except InvalidInput as exc:
            results[index] = BatchItemError(
                index=index, error=ItemError(code="invalid_input", field=exc.field, detail=exc.field_detail)
            )
            continue
        valid.append((index, one[0]))
        parsed.append(one)
    return valid, parsed


def _fill(
    results: list[BatchCheckResult | BatchItemError | None], items: list[tuple[int, str]], answers: list[queries.Answer]
) -> UUID | None:
    """Put the answers in their places; the agency the statement named."""
    for (index, phone), answer in zip(items, answers, strict=True):
        results[index] = BatchCheckResult(index=index, **_fields(phone, answer))
    return answers[0].agency_id if answers else None


def _signed_batch(
    results: list[BatchCheckResult | BatchItemError],
    agency_id: UUID,
    batch_id: UUID,
    checked_at: datetime,
    settings: Settings,
    *,
    sandbox: bool = False,
) -> BatchResponse:
    """One receipt for the whole batch: a digest of its answers, signed once (not one signature per number)."""
    answered = [r for r in results if isinstance(r, BatchCheckResult)]
    claims = receipts.batch_claims(
        batch_id=batch_id,
        agency_id=agency_id,
        checked_at=checked_at,
        count=len(answered),
        digest=receipts.results_sha256((r.check_id, r.phone, r.decision, r.reason) for r in answered),
        sandbox=sandbox,
    )
    return BatchResponse(
        batch_id=claims["batch_id"],
        checked_at=claims["checked_at"],
        results=results,
        receipt=signing.sign(settings, claims),
    )


def _item_error(index: int, code: str, message: str) -> BatchItemError:
    """msgspec says where: "Expected `str`, got `int` - at `$.phone`"."""
    field = "item"
    if " - at `$." in message:
        message, _, where = message.rpartition(" - at `$.")
        field = where.rstrip("`")
    elif "field `" in message:
        field = message.split("field `", 1)[1].split("`", 1)[0]
    return BatchItemError(index=index, error=ItemError(code=code, field=field, detail=message))


ROUTES: list[ControllerRouterHandler] = [AgencyApi]
