"""Staff pages for agencies, keys and figures, and staff sign-in (the review queue is disputes/staff_pages.py)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from registry.admin import stats
from registry.agencies import queries as agencies
from registry.clients import client_address
from registry.database import Connection
from registry.errors import InvalidInput, TooManyRequests, Unauthorized
from registry.pages.i18n import Texts
from registry.pages.kit import TEXTS
from registry.pages.staff import STAFF_PAGE_HANDLERS, view
from registry.sessions import staff as accounts
from registry.sessions.staff import PAGE_ADMIN, PAGE_STAFF, Staff, session_cookie
from registry.settings import Settings


class AdminSignIn(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = TEXTS

    @get("/login")
    async def form(self, texts: NamedDependency[Texts]) -> Template:
        return view(texts, "login", None, error=None, username="")

    @post("/login", status_code=303)
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        state: State,
        settings: NamedDependency[Settings],
        texts: NamedDependency[Texts],
    ) -> Response[Any]:
        # No `conn`: the password hash is checked holding no pooled connection (see accounts.login).
        form = await request.form()
        username = str(form.get("username") or "")
        password = str(form.get("password") or "")
        try:
            session = await accounts.login(
                state.pool, state.limiter, settings, username, password, client_address(request)
            )
        except TooManyRequests as exc:
            if exc.code == "sign_in_locked":
                error = texts.gettext("Too many wrong passwords: this account is locked for 15 minutes.")
            else:
                error = texts.gettext(
                    "Too many tries. Please wait %(minutes)s minutes, then try again.",
                    minutes=math.ceil(exc.retry_after / 60),
                )
            refused = view(texts, "login", None, status=429, error=error, username=username)
            refused.headers["Retry-After"] = str(exc.retry_after)
            return refused
        except Unauthorized:
            return view(
                texts,
                "login",
                None,
                status=401,
                error=texts.gettext("Wrong username or password."),
                username=username,
            )
        response: Redirect = Redirect(path="/admin/", status_code=303)
        response.set_cookie(session_cookie(settings, session.token, int(accounts.session_lifetime().total_seconds())))
        return response


class AdminPages(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {**PAGE_STAFF, **TEXTS}  # noqa: RUF012
    exception_handlers = STAFF_PAGE_HANDLERS

    @post("/logout", status_code=303)
    async def sign_out(
        self, conn: NamedDependency[Connection], settings: NamedDependency[Settings], staff: NamedDependency[Staff]
    ) -> Redirect:
        await accounts.logout(conn, staff)
        response = Redirect(path="/admin/login", status_code=303)
        response.set_cookie(session_cookie(settings, "", 0))
        return response

    @get("/agencies")
    async def agencies_page(
        self, conn: NamedDependency[Connection], staff: NamedDependency[Staff], texts: NamedDependency[Texts]
    ) -> Template:
        return view(texts, "agencies", staff, agencies=await agencies.list_agencies(conn), error=None)

    @post("/agencies", status_code=303, dependencies=PAGE_ADMIN)
    async def create_agency(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        staff: NamedDependency[Staff],
    ) -> Redirect:
        form = await request.form()
        agency = await agencies.create_agency(
            conn, str(form.get("name") or ""), str(form.get("credit_code") or ""), staff.actor, settings.jurisdiction
        )
        return Redirect(path=f"/admin/agencies/{agency.id}", status_code=303)

    @get("/agencies/{agency_id:uuid}")
    async def agency(
        self,
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        staff: NamedDependency[Staff],
        texts: NamedDependency[Texts],
        agency_id: FromPath[UUID],
    ) -> Template:
        return await agency_page(conn, settings, staff, texts, agency_id)

    @post("/agencies/{agency_id:uuid}/status", status_code=303, dependencies=PAGE_ADMIN)
    async def set_status(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        agency_id: FromPath[UUID],
    ) -> Redirect:
        form = await request.form()
        status = "suspended" if form.get("action") == "suspend" else "active"
        await agencies.set_status(conn, agency_id, status, staff.actor, str(form.get("reason") or ""))
        return Redirect(path=f"/admin/agencies/{agency_id}", status_code=303)

    @post("/agencies/{agency_id:uuid}/keys", status_code=200, dependencies=PAGE_ADMIN)
    async def issue_key(
        self,
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        staff: NamedDependency[Staff],
        texts: NamedDependency[Texts],
        agency_id: FromPath[UUID],
    ) -> Template:
        """The new key is in this response only (not a redirect, so it never sits in a URL or history)."""
        issued = await agencies.issue_key(conn, agency_id, staff.actor)
        return await agency_page(conn, settings, staff, texts, agency_id, new_key=issued)

    @post("/agencies/{agency_id:uuid}/notice-budget", status_code=303, dependencies=PAGE_ADMIN)
    async def set_notice_budget(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        agency_id: FromPath[UUID],
    ) -> Redirect:
        """An empty field returns the agency to the default budget."""
        form = await request.form()
        raw = str(form.get("daily") or "").strip()
        if raw and not (raw.isdecimal() and len(raw) <= 7):
            raise InvalidInput("daily", "a whole number from 0 to 1,000,000, or empty for the default")
        await agencies.set_notice_budget(conn, agency_id, int(raw) if raw else None, staff.actor)
        return Redirect(path=f"/admin/agencies/{agency_id}", status_code=303)

    @post("/keys/{key_id:uuid}/revoke", status_code=303, dependencies=PAGE_ADMIN)
    async def revoke_key(
        self, conn: NamedDependency[Connection], staff: NamedDependency[Staff], key_id: FromPath[UUID]
    ) -> Redirect:
        key = await agencies.revoke_key(conn, key_id, staff.actor)
        return Redirect(path=f"/admin/agencies/{key.agency_id}", status_code=303)

    @get("/stats")
    async def figures(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        staff: NamedDependency[Staff],
        texts: NamedDependency[Texts],
    ) -> Template:
        try:
            days = int(request.query_params.get("days") or 30)
        except ValueError:
            raise InvalidInput("days", "a whole number of days") from None
        if not 1 <= days <= 3660:
            raise InvalidInput("days", "between 1 and 3660")
        figures = await stats.figures(
            conn, datetime.now(UTC) - timedelta(days=days), settings.jurisdiction.display_zone
        )
        return view(texts, "stats", staff, figures=figures, days=days, bars=bars(figures))


async def agency_page(
    conn: Connection,
    settings: Settings,
    staff: Staff,
    texts: Texts,
    agency_id: UUID,
    new_key: agencies.IssuedKey | None = None,
) -> Template:
    """An agency with its keys (and a new key, shown this once) and its notice budget."""
    agency = await agencies.get_agency(conn, agency_id)
    return view(
        texts,
        "agency",
        staff,
        agency=agency,
        keys=await agencies.list_keys(conn, agency.id),
        new_key=new_key,
        default_budget=settings.notice.daily_per_agency,
    )


class Bar(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    y: int
    checks_width: float
    deny_width: float
    upheld_width: float
    checks: int
    deny_rate: float | None
    upheld_per_10k: float | None


def bars(figures: stats.Figures, width: float = 300.0) -> list[Bar]:
    """Bar lengths for the inline SVG chart, computed here so the template only draws."""
    most_checks = max((a.checks for a in figures.agencies), default=0) or 1
    most_upheld = max((a.upheld_per_10k_checks or 0.0 for a in figures.agencies), default=0.0) or 1.0
    return [
        Bar(
            name=a.name,
            y=i * 44,
            checks=a.checks,
            deny_rate=a.deny_rate,
            upheld_per_10k=a.upheld_per_10k_checks,
            checks_width=round(width * a.checks / most_checks, 1),
            deny_width=round(width * (a.deny_rate or 0.0), 1),
            upheld_width=round(width * (a.upheld_per_10k_checks or 0.0) / most_upheld, 1),
        )
        for i, a in enumerate(figures.agencies)
    ]


ROUTES: list[ControllerRouterHandler] = [AdminSignIn, AdminPages]
