"""Admin pages: sign-in with a cookie session, the queue, the case and its decision, agencies and keys, figures.

Like the contact pages they are in Simplified Chinese first and English second (same catalogs,
language switch and Accept-Language negotiation, see registry/web/I18N.md); the forms are CSRF
protected by the app's CSRFConfig. Form field names, values and URLs stay the same in every language.
"""

from __future__ import annotations

from collections.abc import Callable
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
from registry.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, TooManyRequests, Unauthorized
from registry.settings import Settings
from registry.web.i18n import Texts
from registry.web.session import page, provide_texts

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


def explain(exc: DomainError, texts: Texts) -> str:
    """A refused action in plain words of the page's language (the API keeps its English details)."""
    _ = texts.gettext
    detail = exc.detail or ""
    if isinstance(exc, Forbidden):
        return _("This needs the admin role; reviewers may read and decide disputes only.")
    if isinstance(exc, NotFound):
        if "agency" in detail:
            return _("There is no such agency.")
        if "key" in detail:
            return _("There is no such API key.")
        return _("There is no such dispute.")
    if isinstance(exc, Conflict):
        if "credit code" in detail:
            return _("An agency with this credit code is already registered.")
        if "already" in detail:
            return _("This dispute has already been decided.")
        return _("This conflicts with the current state; reload the page and try again.")
    if isinstance(exc, InvalidInput):
        if exc.field == "credit_code":
            if "18 characters" in detail:
                return _("A unified social credit code has 18 characters.")
            if "check character" in detail:
                return _("The credit code's check character does not match (a typo?).")
            return _("A credit code has only digits and the letters A-Y without I, O, S, V and Z.")
        if exc.field == "name":
            return _("The agency's name must be 1 to 200 characters.")
        if exc.field == "note":
            return _("Write a note saying why.")
        if exc.field == "sanction":
            if "upheld" in detail:
                return _("Only an upheld complaint carries a sanction.")
            return _("The caller is not a registered agency, so there is no one to sanction.")
        if exc.field == "decision":
            return _("Choose an outcome and a sanction.")
        if exc.field == "days":
            return _("Days must be a whole number from 1 to 3660.")
        if exc.field == "status":
            return _("Unknown status.")
        if exc.field == "agency_id":
            return _("Unknown agency.")
    return _("That was refused. Please check and try again.")


def problem_page(request: Request[Any, Any, Any], exc: DomainError) -> Template:
    """A refused action on a page: say why, in the page's language, with a way back."""
    texts = provide_texts(request)
    return page(
        texts,
        "admin/error.html",
        status=exc.status,
        staff=None,
        label=labeler(texts),
        message=explain(exc, texts),
        back=request.headers.get("referer") or "/admin/",
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


def words(texts: Texts) -> dict[str, dict[str, str]]:
    """Staff's words for the codes the pages show (statuses, outcomes, check answers, ...)."""
    _ = texts.gettext
    return {
        "status": {
            "open": _("open"),
            "awaiting_agency": _("awaiting agency"),
            "under_review": _("under review"),
            "upheld": _("upheld"),
            "dismissed": _("dismissed"),
            "withdrawn": _("withdrawn"),
        },
        "agency": {"active": _("active"), "suspended": _("suspended")},
        "sanction": {"none": _("none"), "warning": _("warning"), "suspend": _("suspend the agency")},
        "role": {"admin": _("admin"), "reviewer": _("reviewer")},
        "actor": {"contact": _("contact"), "system": _("system"), "agency": _("agency"), "reviewer": _("reviewer")},
        "event": {
            "filed": _("filed"),
            "sent_to_agency": _("sent to the agency"),
            "attachment_added": _("file added"),
            "agency_response": _("agency's answer"),
            "upheld": _("upheld"),
            "dismissed": _("dismissed"),
            "warning": _("warning"),
            "agency_suspended": _("agency suspended"),
            "withdrawn": _("withdrawn"),
        },
        "category": {
            "called_after_refusal": _("called after a refusal"),
            "too_frequent": _("too many calls"),
            "impersonation": _("impersonated a court, police or lawyer"),
            "threats": _("threats"),
            "disclosed_debt": _("disclosed the debt to others"),
            "abusive_language": _("abusive language"),
            "contacted_family": _("contacted family"),
            "other": _("other"),
        },
        "decision": {"allow": _("allow"), "deny": _("deny")},
        "reason": {
            "no_record": _("no record"),
            "consent": _("consent given"),
            "refused": _("contact refused"),
            "frequency_limit": _("frequency limit reached"),
        },
        "channel": {"call": _("call"), "sms": _("SMS"), "visit": _("visit")},
        "violation": {
            "no_permit": _("no permit"),
            "permit_denied": _("check was denied"),
            "permit_expired": _("permit expired"),
            "permit_revoked": _("permit revoked"),
            "permit_used": _("permit already used"),
        },
        "rule": {"refuse": _("refuse"), "consent": _("consent")},
    }


def labeler(texts: Texts) -> Callable[[str, str | None], str]:
    """`label(group, code)` for the templates: the words for a code, or the code itself when it has none."""
    table = words(texts)

    def label(group: str, code: str | None) -> str:
        if code is None:
            return ""
        return table.get(group, {}).get(code, code)

    return label


def view(texts: Texts, name: str, staff: Staff | None, *, status: int = 200, **context: Any) -> Template:
    return page(texts, f"admin/{name}.html", status=status, staff=staff, label=labeler(texts), **context)


class AdminSignIn(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"texts": Provide(provide_texts, sync_to_thread=False)}  # noqa: RUF012

    @get("/login")
    async def form(self, texts: NamedDependency[Texts]) -> Template:
        return view(texts, "login", None, error=None, username="")

    @post("/login", status_code=303)
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        texts: NamedDependency[Texts],
    ) -> Response[Any]:
        form = await request.form()
        username = str(form.get("username") or "")
        try:
            session = await accounts.login(conn, username, str(form.get("password") or ""))
        except TooManyRequests:
            return view(
                texts,
                "login",
                None,
                status=429,
                error=texts.gettext("Too many wrong passwords: this account is locked for 15 minutes."),
                username=username,
            )
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
    dependencies = {  # noqa: RUF012
        "staff": Provide(provide_staff_page),
        "texts": Provide(provide_texts, sync_to_thread=False),
    }
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
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        texts: NamedDependency[Texts],
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
            texts,
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
        texts: NamedDependency[Texts],
    ) -> Template:
        case = await queries.admin_view(conn, ref)
        return view(
            texts, "case", staff, d=case, pending=case.status in PENDING, notice=request.query_params.get("notice")
        )

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
    async def agencies_page(
        self, conn: NamedDependency[Connection], staff: NamedDependency[Staff], texts: NamedDependency[Texts]
    ) -> Template:
        return view(texts, "agencies", staff, agencies=await agencies.list_agencies(conn), error=None)

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
        self,
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        texts: NamedDependency[Texts],
        agency_id: FromPath[UUID],
    ) -> Template:
        agency = await agencies.get_agency(conn, agency_id)
        return view(texts, "agency", staff, agency=agency, keys=await agencies.list_keys(conn, agency.id), new_key=None)

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
        self,
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        texts: NamedDependency[Texts],
        agency_id: FromPath[UUID],
    ) -> Template:
        """The new key is in this response only (not a redirect, so it never sits in a URL or history)."""
        staff.require_admin()
        issued = await agencies.issue_key(conn, agency_id, staff.actor)
        agency = await agencies.get_agency(conn, agency_id)
        return view(
            texts, "agency", staff, agency=agency, keys=await agencies.list_keys(conn, agency.id), new_key=issued
        )

    @post("/keys/{key_id:uuid}/revoke", status_code=303)
    async def revoke_key(
        self, conn: NamedDependency[Connection], staff: NamedDependency[Staff], key_id: FromPath[UUID]
    ) -> Redirect:
        staff.require_admin()
        key = await agencies.revoke_key(conn, key_id, staff.actor)
        return Redirect(path=f"/admin/agencies/{key.agency_id}", status_code=303)

    @get("/stats")
    async def figures(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        texts: NamedDependency[Texts],
    ) -> Template:
        try:
            days = int(request.query_params.get("days") or 30)
        except ValueError:
            raise InvalidInput("days", "a whole number of days") from None
        if not 1 <= days <= 3660:
            raise InvalidInput("days", "between 1 and 3660")
        figures = await stats.figures(conn, datetime.now(UTC) - timedelta(days=days))
        return view(texts, "stats", staff, figures=figures, days=days, bars=bars(figures))


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
