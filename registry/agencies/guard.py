"""How every agency route lets a request in: one guard (key shape and rate limit) and two dependencies.

Declared on each agency controller (`AGENCY_AUTH`), never called by hand, so no agency
route can skip the limiter.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers import BaseRouteHandler

from registry.agencies.queries import KEY_PREFIX, MISSING_KEY, Caller, authenticate
from registry.database import Connection
from registry.errors import Unauthorized
from registry.ratelimit import Limiter
from registry.settings import Settings
from registry.tokens import bearer, token_hash


async def agency_key_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """401 without an agency API key; 429 once the key has spent its requests for the minute.

    The key itself is looked up later (by `provide_caller`, or inside the check
    statement); the limit is counted first, in the store every worker and host shares.
    """
    key = bearer(connection.headers.get("authorization"))
    if not key or not key.startswith(KEY_PREFIX):
        raise Unauthorized(MISSING_KEY)
    settings: Settings = connection.app.state.settings
    limiter: Limiter = connection.app.state.limiter
    # Counted by the key's hash in the store all processes share (PostgreSQL or Redis).
    await limiter.hit("agency-key", token_hash(key).hex(), settings.api_rate_limit_per_minute, RATE_MESSAGE)
    connection.state.api_key = key


RATE_MESSAGE = "this API key is limited to {limit} requests a minute; retry after {retry_after} s"


def provide_api_key(request: Request[Any, Any, Any]) -> str:
    """The key the guard accepted (the check statement authenticates it in the same round trip)."""
    key: str = request.state.api_key
    return key


async def provide_caller(api_key: NamedDependency[str], conn: NamedDependency[Connection]) -> Caller:
    """The agency behind the key: 401 when unknown or revoked, 403 when suspended."""
    return await authenticate(conn, api_key)


# What an agency controller declares: `guards = AGENCY_GUARDS`, `dependencies = AGENCY_DEPENDENCIES`.
AGENCY_GUARDS = [agency_key_guard]
AGENCY_DEPENDENCIES = {
    "api_key": Provide(provide_api_key, sync_to_thread=False),
    "caller": Provide(provide_caller),
}
