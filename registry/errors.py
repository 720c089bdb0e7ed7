"""Domain errors, and the one place that maps them (and every HTTP error) to problem+json."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin

log = logging.getLogger("registry.errors")

# A problem's `type` is a page of this service that explains the kind (registry/apidocs/routes.py).
# Relative, so it is right behind any host name; RFC 9457 resolves it against the answer's URL.
PROBLEM_BASE = "/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class DomainError(Exception):
    """A refusal in the domain's words. `code` is stable and machine-readable: clients and
    pages choose what to do and say by it, never by the English `detail`."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.errors = errors
        self.headers = headers


class InvalidInput(DomainError):
    """One field is wrong; the problem names it."""

    status = 422
    code = "invalid_input"
    title = "Invalid input"

    def __init__(self, field: str, detail: str, *, code: str | None = None) -> None:
        super().__init__(f"{field}: {detail}", code=code, errors=[{"field": field, "detail": detail}])
        self.field = field
        self.field_detail = detail


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    title = "Missing or bad credentials"

    def __init__(self, detail: str = "missing or bad credentials", *, code: str | None = None) -> None:
        super().__init__(detail, code=code, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class Suspended(Forbidden):
    code = "agency_suspended"
    title = "Agency suspended"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int, *, code: str | None = None) -> None:
        super().__init__(detail, code=code, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = max(1, retry_after)


class Unavailable(DomainError):
    status = 503
    code = "unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str = "the database is unreachable; try again shortly") -> None:
        super().__init__(detail, headers={"Retry-After": "5"})


# ---- what every error looks like, for the API document ---------------------------------------------


class FieldError(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    detail: str


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """An error answer: RFC 9457 problem details, served as `application/problem+json`."""

    # A page of this service explaining the kind of problem, e.g. /problems/invalid_input.
    type: str
    title: str
    status: int
    detail: str
    # The exact case, stable and machine-readable (`wrong_code`, `agency_suspended`, ...): decide by it.
    code: str
    # Each bad field, when the input was at fault.
    errors: list[FieldError] | None = None


# What each status means across the API (the document's description of each error answer).
STATUS_WORDS = {
    400: "Malformed request: the body is not JSON of the documented shape, or a parameter has the wrong type. "
    "`errors` names each bad field.",
    401: "Missing or bad credentials (`WWW-Authenticate: Bearer`).",
    403: "Refused: the agency is suspended, or the staff member's role may not do this.",
    404: "Not found: unknown, or another agency's.",
    405: "Method not allowed on this path.",
    409: "Conflict: an `Idempotency-Key` reused with another body, or the resource's state does not allow this.",
    413: "Request body too large.",
    415: "Unsupported media type.",
    422: "Invalid input: a value is not acceptable (a phone number that is not one, a date in the future, ...). "
    "`errors` names the field.",
    429: "Too many requests: wait the number of seconds in `Retry-After`.",
    503: "The database is unreachable or busy: retry after the number of seconds in `Retry-After`.",
}


def problem_response(status: int, description: str | None = None) -> ResponseSpec:
    """A problem+json answer with this status, for a handler's `responses=`."""
    return ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_MEDIA_TYPE,
        description=description or STATUS_WORDS.get(status, "Error"),
        generate_examples=False,
    )


def problem_responses(*problems: type[DomainError] | int) -> dict[int, ResponseSpec]:
    """`responses=problem_responses(Conflict)` on a handler that may answer more than its kind of route does.

    Every operation's usual problems (400, 401, 404, 503, ...) are documented from what the
    route is (registry/apidocs/document.py); a handler names only the ones peculiar to it, by
    error class or, for an answer no domain error gives (413), by status.
    """
    statuses = [problem if isinstance(problem, int) else problem.status for problem in problems]
    return {status: problem_response(status) for status in statuses}


def _problem(
    status: int,
    kind: str,
    title: str,
    detail: str,
    errors: Any = None,
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> ProblemDetailsException:
    """`type` names the kind of problem (a URL per class); `code` the exact case, for machines."""
    extra: dict[str, Any] = {"code": code or kind}
    if errors:
        extra["errors"] = errors
    return ProblemDetailsException(
        status_code=status, type_=PROBLEM_BASE + kind, title=title, detail=detail, extra=extra, headers=headers
    )


def domain_problem(exc: DomainError) -> ProblemDetailsException:
    # The class's code is the problem type; an instance may name a more exact case.
    return _problem(exc.status, type(exc).code, exc.title, exc.detail, exc.errors, exc.headers, exc.code)


_HTTP_CODES = {
    # Litestar's own exceptions by status (the router's 404 and 405, the body limit's 413, ...).
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Missing or bad credentials"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("too_many_requests", "Too many requests"),
}


def http_problem(exc: HTTPException) -> ProblemDetailsException:
    status = exc.status_code
    code, title = _HTTP_CODES.get(status, ("error", "Error"))
    errors = None
    if isinstance(exc, ValidationException):
        status, code, title = 400, "invalid_input", "Invalid input"
        errors = [_field_error(item) for item in (exc.extra if isinstance(exc.extra, list) else [])]
    detail = exc.detail if status < 500 else "internal error"
    if errors:
        detail = "; ".join(f"{e['field']}: {e['detail']}" for e in errors)
    return _problem(status, code, title, detail, errors, exc.headers)


# Kinds raised outside the domain classes and the HTTP map: the fallback for an unmapped HTTP
# status, an unexpected fault, and the server's read deadline (registry/server.py).
OTHER_KINDS = {"error": "Error", "internal": "Internal error", "request_timeout": "Request timeout"}


def problem_kinds() -> dict[str, str]:
    """Every problem `type` the service can answer with (kind -> title); each has a page at /problems/{kind}."""
    kinds = {code: title for code, title in _HTTP_CODES.values()}
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        cls = pending.pop()
        kinds.setdefault(cls.code, cls.title)
        pending.extend(cls.__subclasses__())
    kinds.update(OTHER_KINDS)
    return kinds


def _field_error(item: Any) -> dict[str, str]:
    """Litestar's validation items look like {"message": ..., "key": ..., "source": ...}.

    For a missing or unknown field msgspec blames the whole body (`key` is "data"),
    so the field's own name is taken from the message instead.
    """
    if not isinstance(item, dict):
        return {"field": "body", "detail": str(item)}
    message = str(item.get("message", "invalid"))
    key = item.get("key")
    for marker in ("unknown field `", "required field `"):
        if marker in message:
            name = message.split(marker, 1)[1].split("`", 1)[0]
            prefix = json_path(message) or (key if key and key != "data" else "")
            key = f"{prefix}.{name}" if prefix else name
            message = message.rsplit(" - at ", 1)[0]
            break
    else:
        if (not key or key == "data") and " - at `$" in message:
            # msgspec says where: "Expected `str`, got `int` - at `$.phone`"
            key = json_path(message) or key
            message = message.rsplit(" - at ", 1)[0]
    if key == "data":
        key = "body"
    return {"field": str(key or item.get("source") or "body"), "detail": message}


def json_path(message: str) -> str:
    """`$.items[3].phone` from msgspec's "... - at `$.items[3].phone`" ("" for the body itself)."""
    if " - at `$" not in message:
        return ""
    return message.rsplit(" - at `$", 1)[1].rstrip("`").lstrip(".")


# What a query ends with when the database did not answer it: the socket, a deadline, the server or
# the driver. Background loops catch these and carry on; a request answers 503 (DATABASE_DOWN below).
DATABASE_FAILURES = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)

_database_down = False


def database_lost(reason: str) -> None:
    """Log the first failure of an outage; the rest of it is silent (a 10 s outage is one line)."""
    global _database_down
    if not _database_down:
        _database_down = True
        log.warning("database unreachable (%s); answering 503 until it returns", reason)


def database_is_down() -> bool:
    return _database_down


def database_answered() -> None:
    """Called when a query has just been answered (/readyz, or the outage watch in registry/app.py):
    logs the end of an outage, once."""
    global _database_down
    if _database_down:
        _database_down = False
        log.warning("database reachable again")


def database_down(exc: Exception) -> ProblemDetailsException:
    database_lost(type(exc).__name__)
    return domain_problem(Unavailable())


def not_utf8(exc: UnicodeDecodeError) -> ProblemDetailsException:
    """A form field whose bytes are not UTF-8: Litestar's form parsers decode each text field and raise.

    The client's fault, so 400 rather than a 500 with a stack trace (schemathesis sent one to the
    attachment upload). The service itself decodes nothing else a client sends.
    """
    errors = [{"field": "body", "detail": "a form field is not UTF-8 text"}]
    return _problem(400, "bad_request", "Bad request", "a form field is not UTF-8 text", errors, code="not_utf8")


def unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _problem(500, "internal", "Internal error", "internal error").to_response(request)


DATABASE_DOWN: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    TimeoutError,
)


def problem_details_plugin() -> ProblemDetailsPlugin:
    mapping: dict[type[Exception], Any] = {
        DomainError: domain_problem,
        HTTPException: http_problem,
        UnicodeDecodeError: not_utf8,
    }
    for exc_type in DATABASE_DOWN:
        mapping[exc_type] = database_down
    return ProblemDetailsPlugin(ProblemDetailsConfig(exception_to_problem_detail_map=mapping))
