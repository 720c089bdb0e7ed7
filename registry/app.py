"""create_app(settings) -> Litestar. One lifespan owns the pool; every request borrows one connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from litestar import Litestar, Request, Response, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import MediaType, RequestEncodingType
from litestar.logging import LoggingConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import ASGIApp, ControllerRouterHandler, Message, Receive, Scope, Send

from registry import database, jobs, maintenance, ratelimit
from registry.admin.routes import ROUTES as admin
from registry.agencies.routes import ROUTES as public_agencies
from registry.apidocs import document
from registry.apidocs.routes import ROUTES as problem_pages
from registry.bodies import RegistryRequest, refuse_nul_in_url
from registry.checks.routes import ROUTES as checks
from registry.contacts.routes import ROUTES as contacts
from registry.database import Connection, Pool
from registry.disputes.routes import ROUTES as disputes
from registry.errors import (
    DATABASE_FAILURES,
    Unavailable,
    database_answered,
    database_is_down,
    database_lost,
    problem_details_plugin,
    unexpected,
)
from registry.pages.failures import PageErrors
from registry.pages.routes import ROUTES as language_switch
from registry.settings import Settings
from registry.transparency.routes import ROUTES as transparency
from registry.webhooks.routes import ROUTES as webhooks

log = logging.getLogger("registry.app")

PAGES_DIR = Path(__file__).resolve().parent / "pages"
# Most bodies are small; the batch route and attachment upload raise their own limit.
DEFAULT_MAX_BODY = 256 * 1024


# Each feature (and the shared layer's public pieces) exports ROUTES; the app is the list of them.
FEATURE_ROUTES: list[ControllerRouterHandler] = [
    *checks,
    *webhooks,
    *contacts,
    *disputes,
    *admin,
    *public_agencies,
    *language_switch,
    *transparency,
    *problem_pages,
]


def lifespan(settings: Settings) -> Any:
    @asynccontextmanager
    async def run(app: Litestar) -> AsyncGenerator[None, None]:
        # Starting the embedded server blocks (initdb, pg_ctl), so it runs off the loop.
        owner_url = await anyio.to_thread.run_sync(database.database_url, settings)
        await database.migrate_url(owner_url, settings)
        # From here on the service is the least-privileged role (sql/0005_least_privilege.sql).
        url = database.runtime_url(settings, owner_url)
        pool = await database.create_pool(url, settings)
        app.state.pool = pool
        app.state.turns = request_turns(settings)
        app.state.settings = settings
        # Request limits counted where every process sees them (PostgreSQL, or Redis if configured).
        app.state.limiter = ratelimit.limiter_for(pool, settings.redis_url, settings.db_acquire_timeout)
        upkeep = asyncio.create_task(maintenance.keep_partitions_ahead(pool))
        outage_watch = asyncio.create_task(watch_for_recovery(pool))
        # The SMS worker (registry/jobs.py) in this process too, unless `registry worker` runs apart.
        worker = jobs.running(settings, url, pool) if settings.sms_worker else contextlib.nullcontext()
        try:
            async with worker:
                yield
        finally:
            for task in (upkeep, outage_watch):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await pool.close()
            if settings.database_url is None:
                await anyio.to_thread.run_sync(database.release_embedded)

    return run


HELD_CONNECTION = "registry_connection"


async def provide_connection(state: State, scope: Scope, request: Request[Any, Any, Any]) -> Connection:
    """One pooled connection per request, given back by `release_connection` when the request ends.

    Not a generator dependency on purpose: when a later dependency raises (an auth
    dependency's 401), Litestar never runs the generator's cleanup, and each such
    request would leak a pooled connection until the pool is exhausted.
    """
    # The whole body first (a form parsed, too; both are cached for the handler): a client
    # trickling an upload in must not hold a pooled connection while it does. The server's
    # body deadline (registry/server.py) bounds how long that wait can be.
    await read_body(request)
    settings: Settings = state.settings
    turns: asyncio.Semaphore = state.turns
    try:
        async with asyncio.timeout(settings.db_acquire_timeout):
            await turns.acquire()
            try:
                conn: Connection = await state.pool.acquire()
            except BaseException:
                turns.release()
                raise
    except TimeoutError:
        # Every connection busy (or the server frozen): a quick 503, never a hang.
        database_lost("no connection within the acquire deadline")
        raise Unavailable("the database is busy or unreachable; try again shortly") from None
    scope.setdefault("state", {})[HELD_CONNECTION] = conn
    return conn


def request_turns(settings: Settings) -> asyncio.Semaphore:
    """Requests take their turn for a pooled connection in the order they asked.

    asyncpg's pool is not fair: a connection given back goes to whichever request asks next,
    often a newcomer, while one that was woken finds it gone and queues again at the back.
    Under load that starved some checks for seconds (p99 at 32 connections was 3-4 times the
    bare statement's; bench/README.md). asyncio.Semaphore hands a freed turn to the longest
    waiter, and a request holds its turn exactly as long as its connection.
    """
    return asyncio.Semaphore(settings.pool_max_size)


async def read_body(request: Request[Any, Any, Any]) -> None:
    media_type, _ = request.content_type
    if media_type in (RequestEncodingType.MULTI_PART, RequestEncodingType.URL_ENCODED):
        await request.form()
    else:
        await request.body()


async def give_back(pool: Pool, turns: asyncio.Semaphore, conn: Any) -> None:
    """Return a request's connection to the pool; one that cannot be returned is dropped.

    This runs after the answer has been sent. When the database froze mid-statement, asyncpg's
    release waits for the cancellation, terminates the connection and raises; raised here, that
    would reach the server after the response started and cut the client's kept-alive
    connection (the next request on it would fail). The pool opens a new connection later.
    """
    try:
        await pool.release(conn)
    except DATABASE_FAILURES as exc:
        log.warning("a database connection could not be returned to the pool and was closed (%s)", type(exc).__name__)
        return
    finally:
        turns.release()


def release_connection(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            conn = scope.get("state", {}).pop(HELD_CONNECTION, None)
            if conn is not None:
                state = scope["app"].state
                await give_back(state.pool, state.turns, conn)

    return middleware


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


@get("/healthz", tags=["ops"], sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is up (says nothing about the database)."""
    return {"status": "ok"}


async def database_answers(pool: Pool) -> None:
    """`SELECT 1` on a pooled connection within 2 s, or the error that stopped it."""
    async with asyncio.timeout(2):
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
    database_answered()


async def watch_for_recovery(pool: Pool) -> None:
    """While an outage is on, ask the database every second and log its end once it answers.

    The end is never read off a request: a request's connection coming back proves nothing (an
    idle pooled connection is handed out, and one asyncpg closed after a timeout is given back
    without a word, while the server is frozen), and logging "reachable again" from it split one
    outage into several lines.
    """
    while True:
        await asyncio.sleep(1)
        if database_is_down():
            with contextlib.suppress(*DATABASE_FAILURES):
                await database_answers(pool)


@get("/readyz", tags=["ops"])
async def readyz(state: State) -> dict[str, str]:
    """Ready when the database answers; 503 with Retry-After while it does not."""
    try:
        await database_answers(state.pool)
    except DATABASE_FAILURES as exc:
        database_lost(type(exc).__name__)
        raise Unavailable() from exc
    return {"status": "ready"}


SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        b"script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    ),
    (b"cache-control", b"no-store"),
)


async def security_headers(message: Message, scope: Scope) -> None:
    """Adds the security headers to every response as it starts (Litestar's before_send hook).

    Not route middleware and not an after_request hook: those never see the answers built
    outside a route (the router's 404 and 405) or by exception handlers. A header the
    response set itself (a download's own CSP, say) is left as it is.
    """
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers", []))
    present = {bytes(name).lower() for name, _ in headers}
    headers.extend((name, value) for name, value in SECURITY_HEADERS if name not in present)
    message["headers"] = headers


class Metrics(PrometheusController):
    path = "/metrics"

    @get(media_type=MediaType.TEXT, tags=["ops"], summary="Metrics")
    async def get(self) -> Response[bytes]:
        """Prometheus metrics, in its text exposition format."""
        response: Response[bytes] = await PrometheusController.get.fn(self)
        return response


def create_app(settings: Settings) -> Litestar:
    prometheus = PrometheusConfig(app_name="registry", prefix="registry", group_path=True, exclude=["^/static"])
    static = PAGES_DIR / "static"
    static.mkdir(exist_ok=True)
    return Litestar(
        route_handlers=[
            healthz,
            readyz,
            Metrics,
            create_static_files_router(path="/static", directories=[static], include_in_schema=False),
            *FEATURE_ROUTES,
        ],
        lifespan=[lifespan(settings)],
        dependencies={
            "conn": Provide(provide_connection),
            "settings": Provide(provide_settings, sync_to_thread=False),
        },
        # PageErrors after the problem-details plugin: it wraps the handlers that plugin registers.
        plugins=[problem_details_plugin(), *document.PLUGINS, PageErrors()],
        exception_handlers={Exception: unexpected},
        middleware=[release_connection, prometheus.middleware, refuse_nul_in_url],
        # Refuses NUL characters and JSON nested too deep with 400, before they reach the decoder or SQL.
        request_class=RegistryRequest,
        before_send=[security_headers],
        csrf_config=CSRFConfig(
            secret=settings.session_key.hex(),
            cookie_secure=settings.secure_cookies,
            cookie_samesite="lax",
            # The JSON API is authenticated by bearer tokens, not cookies, so CSRF does not apply.
            exclude=["^/v1/", "^/healthz", "^/readyz", "^/metrics"],
        ),
        template_config=TemplateConfig(directory=PAGES_DIR / "templates", engine=JinjaTemplateEngine),
        # /schema: the API document and its docs page (registry/apidocs).
        openapi_config=document.openapi_config(),
        logging_config=LoggingConfig(
            root={"level": "INFO", "handlers": ["queue_listener"]},
            log_exceptions="debug",  # 4xx are answers, not faults; real faults are logged by `unexpected`
            disable_stack_trace={404, 401, 403, 409, 422, 429},
        ),
        request_max_body_size=DEFAULT_MAX_BODY,
        debug=False,
    )
