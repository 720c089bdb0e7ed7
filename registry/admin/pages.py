"""Admin pages: sign-in with a cookie session, the queue, the case and its decision, agencies and keys, figures.

Staff pages are in English only; the forms are CSRF protected by the app's CSRFConfig.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from registry.admin import accounts, agencies, stats
from registry.admin.accounts import Staff
from registry.database import Connection
from registry.disputes import attachments, queries
from registry.disputes.routes import attachment_response
from registry.disputes.schemas import PENDING, STATUSES, DecisionRequest
from registry.errors import DomainError, InvalidInput, TooManyRequests, Unauthorized
from registry.settings import Settings

COOKIE = "admin_session"
COOKIE_PATH = "/admin"


class AdminSignInRequired(Exception):
    """An admin page was opened without a live staff session."""


async def provide_staff_page(request: Request[Any, Any, Any], conn: NamedDependency[Connection]) -> Staff:
    try:
        return await accounts.authenticate(conn, request.cookies.get(COOKIE))
    except Unauthorized:
        raise AdminSignInRequired() from None


def to_sign_in(request: Request[Any, Any, Any], exc: AdminSignInRequired) -> Redirect:
    return Redirect(path="/admin/login", status_code=303)


def problem_page(request: Request[Any, Any, Any], exc: DomainError) -> Template:
    """A refused action on a page: say why, with a way back."""
    return Template(
        template_name="admin/error.html",
        context={"message": exc.detail, "status": exc.status, "back": request.headers.get("referer") or "/admin"},
        status_code=exc.status,
    )


def session_cookie(settings: Settings, token: str, max_age: int) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=token,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="strict",
    )


def view(name: str, staff: Staff | None, **context: Any) -> Template:
    return Template(template_name=f"admin/{name}.html", context={"staff": staff, **context})


class AdminSignIn(Controller):
    path = "/admin"
    include_in_schema = False

    @get("/login")
    async def form(self) -> Template:
        return view("login", None, error=None, username="")

    @post("/login", status_code=303)
    async def sign_in(
        self, request: Request[Any, Any, Any], conn: NamedDependency[Connection], settings: NamedDependency[Settings]
    ) -> Response[Any]:
        form = await request.form()
        username = str(form.get("username") or "")
        try:
            session = await accounts.login(conn, username, str(form.get("password") or ""))
        except TooManyRequests:
            return Template(
                template_name="admin/login.html",
                status_code=429,
                context={
                    "staff": None,
                    "error": "Too many wrong passwords: this account is locked for 15 minutes.",
                    "username": username,
                },
            )
        except Unauthorized:
            return Template(
                template_name="admin/login.html",
                status_code=401,
                context={"staff": None, "error": "Wrong username or password.", "username": username},
            )
        response: Redirect = Redirect(path="/admin/", status_code=303)
        response.set_cookie(session_cookie(settings, session.token, int(accounts.session_lifetime().total_seconds())))
        return response


class AdminPages(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"staff": Provide(provide_staff_page)}  # noqa: RUF012
    exception_handlers = {AdminSignInRequired: to_sign_in, DomainError: problem_page}  # noqa: RUF012

    @post("/logout", status_code=303)
    async def sign_out(
        self, conn: NamedDependency[Connection], settings: NamedDependency[Settings], staff: NamedDependency[Staff]
    ) -> Redirect:
        await accounts.logout(conn, staff)
        response = Redirect(path="/admin/login", status_code=303)
        response.set_cookie(session_cookie(settings, "", 0))
        return response

    @get("/")
    async def queue(
        self, request: Request[Any, Any, Any], conn: NamedDependency[Connection], staff: NamedDependency[Staff]
    ) -> Template:
        """The review queue with its filters (plain GET parameters, so a filtered queue can be bookmarked)."""
        params = request.query_params
        status = params.get("status") or None
        if status is not None and status not in STATUSES:
            raise InvalidInput("status", "unknown status")
        agency_id = params.get("agency_id") or None
        overdue = {"yes": True, "no": False}.get(params.get("overdue") or "")
        items = await queries.queue(
            conn,
            status=status,
            agency_id=agencies._uuid(agency_id, "agency_id") if agency_id else None,
            overdue=overdue,
            limit=200,
            offset=0,
        )
        return view(
            "queue",
            staff,
            items=items,
            statuses=STATUSES,
            agencies=await agencies.list_agencies(conn),
            chosen={"status": status or "", "agency_id": agency_id or "", "overdue": params.get("overdue", "")},
        )

    @get("/disputes/{ref:str}")
    async def case(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        ref: FromPath[str],
    ) -> Template:
        case = await queries.admin_view(conn, ref)
        return view("case", staff, d=case, pending=case.status in PENDING, notice=request.query_params.get("notice"))

    @post("/disputes/{ref:str}/decision", status_code=303)
    async def decide(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        ref: FromPath[str],
    ) -> Redirect:
        form = await request.form()
        try:
            decision = msgspec.convert(
                {
                    "outcome": form.get("outcome"),
                    "note": form.get("note") or "",
                    "sanction": form.get("sanction") or "none",
                },
                DecisionRequest,
            )
        except msgspec.ValidationError as exc:
            raise InvalidInput("decision", str(exc)) from None
        await queries.decide(conn, ref, decision, staff.admin_id, staff.actor)
        return Redirect(path=f"/admin/disputes/{queries.normalize_ref(ref)}?notice=decided", status_code=303)

    @get("/disputes/{ref:str}/attachments/{attachment_id:uuid}")
    async def attachment(
        self,
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        ref: FromPath[str],
        attachment_id: FromPath[UUID],
    ) -> Response[bytes]:
        return attachment_response(await attachments.content(conn, ref, attachment_id))

    @get("/agencies")
    async def agencies_page(self, conn: NamedDependency[Connection], staff: NamedDependency[Staff]) -> Template:
        return view("agencies", staff, agencies=await agencies.list_agencies(conn), error=None)

    @post("/agencies", status_code=303)
    async def create_agency(
        self, request: Request[Any, Any, Any], conn: NamedDependency[Connection], staff: NamedDependency[Staff]
    ) -> Redirect:
        staff.require_admin()
        form = await request.form()
        agency = await agencies.create_agency(
            conn, str(form.get("name") or ""), str(form.get("credit_code") or ""), staff.actor
        )
        return Redirect(path=f"/admin/agencies/{agency.id}", status_code=303)

    @get("/agencies/{agency_id:uuid}")
    async def agency(
        self, conn: NamedDependency[Connection], staff: NamedDependency[Staff], agency_id: FromPath[UUID]
    ) -> Template:
        agency = await agencies.get_agency(conn, agency_id)
        return view("agency", staff, agency=agency, keys=await agencies.list_keys(conn, agency.id), new_key=None)

    @post("/agencies/{agency_id:uuid}/status", status_code=303)
    async def set_status(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        agency_id: FromPath[UUID],
    ) -> Redirect:
        staff.require_admin()
        form = await request.form()
        status = "suspended" if form.get("action") == "suspend" else "active"
        await agencies.set_status(conn, agency_id, status, staff.actor, str(form.get("reason") or ""))
        return Redirect(path=f"/admin/agencies/{agency_id}", status_code=303)

    @post("/agencies/{agency_id:uuid}/keys", status_code=200)
    async def issue_key(
        self, conn: NamedDependency[Connection], staff: NamedDependency[Staff], agency_id: FromPath[UUID]
    ) -> Template:
        """The new key is in this response only (not a redirect, so it never sits in a URL or history)."""
        staff.require_admin()
        issued = await agencies.issue_key(conn, agency_id, staff.actor)
        agency = await agencies.get_agency(conn, agency_id)
        return view("agency", staff, agency=agency, keys=await agencies.list_keys(conn, agency.id), new_key=issued)

    @post("/keys/{key_id:uuid}/revoke", status_code=303)
    async def revoke_key(
        self, conn: NamedDependency[Connection], staff: NamedDependency[Staff], key_id: FromPath[UUID]
    ) -> Redirect:
        staff.require_admin()
        key = await agencies.revoke_key(conn, key_id, staff.actor)
        return Redirect(path=f"/admin/agencies/{key.agency_id}", status_code=303)

    @get("/stats")
    async def figures(
        self, request: Request[Any, Any, Any], conn: NamedDependency[Connection], staff: NamedDependency[Staff]
    ) -> Template:
        try:
            days = int(request.query_params.get("days") or 30)
        except ValueError:
            raise InvalidInput("days", "a whole number of days") from None
        if not 1 <= days <= 3660:
            raise InvalidInput("days", "between 1 and 3660")
        figures = await stats.figures(conn, datetime.now(UTC) - timedelta(days=days))
        return view("stats", staff, figures=figures, days=days, bars=bars(figures))


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
