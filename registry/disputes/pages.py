"""The contact's complaint pages: file one (with a recording), follow its status and timeline, withdraw it."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from registry.agencies import queries as agencies
from registry.complaints import contact_disputes
from registry.database import Connection
from registry.disputes import attachments, drafts, intake
from registry.disputes.records import normalize_ref
from registry.disputes.schemas import PENDING, DisputeRequest
from registry.errors import DomainError, InvalidInput, NotFound, json_path
from registry.pages.explain import explain
from registry.pages.i18n import Texts
from registry.pages.kit import TEXTS, page, sign_in_redirect
from registry.sessions.contact import COOKIE as CONTACT_COOKIE
from registry.sessions.contact import (
    ContactSession,
    SignInRequired,
    cookie_contact,
    lapsed_phone_key,
    maybe_cookie_contact,
)
from registry.settings import Settings


def category_words(texts: Texts) -> dict[str, str]:
    _ = texts.gettext
    return {
        "called_after_refusal": _("They called after I refused"),
        "too_frequent": _("Too many calls"),
        "impersonation": _("Claimed to be a court, police, prosecutor, lawyer or a bank's legal department"),
        "threats": _("Threats"),
        "disclosed_debt": _("Told my family or colleagues about the debt"),
        "abusive_language": _("Abusive language"),
        "contacted_family": _("Contacted my family"),
        "other": _("Something else"),
    }


def status_words(texts: Texts) -> dict[str, str]:
    _ = texts.gettext
    return {
        "open": _("Received, waiting for a reviewer"),
        "awaiting_agency": _("Waiting for the agency's answer"),
        "under_review": _("A reviewer is looking at it"),
        "upheld": _("Upheld: your complaint was found justified"),
        "dismissed": _("Dismissed"),
        "withdrawn": _("Withdrawn by you"),
    }


def event_words(texts: Texts) -> dict[str, str]:
    _ = texts.gettext
    return {
        "filed": _("You filed the complaint"),
        "sent_to_agency": _("Sent to the agency for an answer (due in 7 days)"),
        "attachment_added": _("You added a file"),
        "agency_response": _("The agency answered; a reviewer will weigh it"),
        "upheld": _("A reviewer upheld the complaint"),
        "dismissed": _("A reviewer dismissed the complaint"),
        "agency_suspended": _("The agency was suspended: its checks are refused"),
        "withdrawn": _("You withdrew the complaint"),
    }


async def form_page(
    conn: Connection,
    texts: Texts,
    *,
    status: int = 200,
    error: str | None = None,
    values: dict[str, Any] | None = None,
    kept_file: str | None = None,
    kept: bool = False,
) -> Template:
    return page(
        texts,
        "complaints/new.html",
        status=status,
        error=error,
        values=values or {},
        kept_file=kept_file,
        kept=kept,
        agencies=await agencies.public_agencies(conn),
        categories=category_words(texts),
    )


def parse_form(form: Any, settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """Form fields -> (the JSON-shaped request, the values to show again if it is refused)."""
    values: dict[str, Any] = {
        "agency_id": (form.get("agency_id") or "").strip(),
        "caller_name": (form.get("caller_name") or "").strip(),
        "caller_numbers": (form.get("caller_numbers") or "").strip(),
        "categories": list(form.getall("categories", [])),
        "occurred_at": (form.get("occurred_at") or "").strip(),
        "call_count": (form.get("call_count") or "").strip(),
        "description": form.get("description") or "",
    }
    body: dict[str, Any] = {"categories": values["categories"], "description": values["description"]}
    if values["agency_id"]:
        body["agency_id"] = values["agency_id"]
    if values["caller_name"]:
        body["caller_name"] = values["caller_name"]
    raw_numbers: str = values["caller_numbers"]
    numbers = [n.strip() for n in raw_numbers.replace(",", "\n").replace("，", "\n").splitlines()]
    if any(numbers):
        body["caller_numbers"] = [n for n in numbers if n]
    if values["call_count"]:
        body["call_count"] = values["call_count"]
    # The form's datetime-local has no zone; it is the jurisdiction's clock (Beijing time in China).
    occurred: str = values["occurred_at"]
    if occurred:
        try:
            body["occurred_at"] = datetime.fromisoformat(occurred).replace(tzinfo=settings.jurisdiction.display_zone)
        except ValueError:
            body["occurred_at"] = occurred
    return body, values


def to_request(body: dict[str, Any]) -> DisputeRequest:
    if "occurred_at" not in body:
        raise InvalidInput("occurred_at", "required")
    try:
        return msgspec.convert(body, DisputeRequest, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        field = json_path(message) or "description"
        raise InvalidInput(field, message) from None


class ComplaintPages(Controller):
    path = "/complaints"
    include_in_schema = False
    dependencies = {**TEXTS, "session": Provide(cookie_contact)}  # noqa: RUF012
    exception_handlers = {SignInRequired: sign_in_redirect}  # noqa: RUF012

    @get("/")
    async def mine(
        self, conn: NamedDependency[Connection], texts: NamedDependency[Texts], session: NamedDependency[ContactSession]
    ) -> Template:
        items = await contact_disputes(conn, session.phone_key)
        return page(texts, "complaints/list.html", items=items, statuses=status_words(texts))

    @get("/new")
    async def new(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        texts: NamedDependency[Texts],
        session: NamedDependency[ContactSession],
        agency: Annotated[str | None, QueryParameter(name="agency")] = None,
    ) -> Template:
        """The form: empty, about one agency (from "who looked me up"), or as she left it when her sign-in
        timed out."""
        draft = await drafts.find(conn, request.cookies.get(drafts.COOKIE), session.phone_key)
        if draft is not None:
            return await form_page(conn, texts, values=draft.values, kept_file=draft.filename, kept=True)
        return await form_page(conn, texts, values={"agency_id": agency or ""})

    @post(
        "/",
        request_max_body_size=attachments.UPLOAD_MAX_BODY,
        status_code=303,
        dependencies={"maybe_session": Provide(maybe_cookie_contact)},
    )
    async def file(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        texts: NamedDependency[Texts],
        maybe_session: NamedDependency[ContactSession | None],
    ) -> Template | Redirect:
        """File from the form; a recording or screenshot may come with it. Her sign-in may have timed out
        while she wrote: then everything she sent is kept and she is brought back to it after signing in."""
        form = await request.form()
        body, values = parse_form(form, settings)
        upload = form.get("file")
        data = b""
        filename: str | None = None
        if isinstance(upload, UploadFile) and upload.filename:
            data = await attachments.read_upload(upload)
            filename = upload.filename
        draft_token = request.cookies.get(drafts.COOKIE)
        if maybe_session is None:
            return await self._keep_for_later(request, conn, settings, values, filename, data)
        contact = maybe_session
        kept = await drafts.find(conn, draft_token, contact.phone_key)
        if not data and kept is not None and kept.file is not None:
            # The file she chose before her sign-in timed out comes with the form she sends now.
            data, filename = kept.file, kept.filename
        # A file over 10 MB is not a reason to lose the complaint: it is filed without it, and its page
        # asks for the recording in shorter pieces.
        too_large = len(data) > attachments.MAX_BYTES
        if too_large:
            data, filename = b"", None
        try:
            # The file is checked before anything is filed, so a refused file files nothing.
            if data and attachments.content_type_of(data) is None:
                raise InvalidInput("file", "not an accepted file")
            # One transaction: a complaint whose file could not be stored is not left filed without it.
            async with conn.transaction():
                filed = await intake.file_dispute(conn, contact, to_request(body), settings)
                if data and filename:
                    await attachments.attach(conn, contact, filed.ref, filename, data)
                await drafts.drop(conn, draft_token)
        except DomainError as exc:
            return await form_page(
                conn,
                texts,
                status=422 if isinstance(exc, InvalidInput) else exc.status,
                error=explain(exc, texts),
                values=values,
                kept_file=kept.filename if kept is not None and kept.file is not None else None,
            )
        notice = "&notice=file_too_large" if too_large else ""
        cookies = [drafts.cleared_cookie(settings)] if draft_token else []
        return Redirect(path=f"/complaints/{filed.ref}?filed=1{notice}", status_code=303, cookies=cookies)

    async def _keep_for_later(
        self,
        request: Request[Any, Any, Any],
        conn: Connection,
        settings: Settings,
        values: dict[str, Any],
        filename: str | None,
        data: bytes,
    ) -> Redirect:
        phone_key = await lapsed_phone_key(conn, request.cookies.get(CONTACT_COOKIE))
        keep_file = bool(data) and len(data) <= attachments.MAX_BYTES
        token = await drafts.keep(conn, phone_key, values, filename if keep_file else None, data if keep_file else None)
        query = urlencode({"next": "/complaints/new", "kept": "1"})
        return Redirect(path=f"/verify?{query}", status_code=303, cookies=[drafts.cookie(settings, token)])

    @get("/{ref:str}")
    async def show(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        texts: NamedDependency[Texts],
        session: NamedDependency[ContactSession],
        ref: FromPath[str],
    ) -> Template:
        try:
            dispute = await intake.contact_view(conn, session, ref)
        except NotFound as exc:
            return page(texts, "complaints/missing.html", status=404, error=explain(exc, texts))
        return page(
            texts,
            "complaints/show.html",
            d=dispute,
            pending=dispute.status in PENDING,
            statuses=status_words(texts),
            events=event_words(texts),
            categories=category_words(texts),
            filed=request.query_params.get("filed") == "1",
            notice=request.query_params.get("notice"),
            error=None,
        )

    @post("/{ref:str}/attachments", request_max_body_size=attachments.UPLOAD_MAX_BODY, status_code=303)
    async def attach(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        texts: NamedDependency[Texts],
        session: NamedDependency[ContactSession],
        ref: FromPath[str],
    ) -> Template | Redirect:
        form = await request.form()
        upload = form.get("file")
        contact = session
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise InvalidInput("file", "no file")
            data = await attachments.read_upload(upload)
            await attachments.attach(conn, contact, ref, upload.filename, data)
        except DomainError as exc:
            dispute = await intake.contact_view(conn, contact, ref)
            return page(
                texts,
                "complaints/show.html",
                status=422 if isinstance(exc, InvalidInput) else exc.status,
                d=dispute,
                pending=dispute.status in PENDING,
                statuses=status_words(texts),
                events=event_words(texts),
                categories=category_words(texts),
                filed=False,
                notice=None,
                error=explain(exc, texts),
            )
        return Redirect(path=f"/complaints/{normalize_ref(ref)}?notice=attached", status_code=303)

    @post("/{ref:str}/withdraw", status_code=303)
    async def withdraw(
        self,
        conn: NamedDependency[Connection],
        texts: NamedDependency[Texts],
        session: NamedDependency[ContactSession],
        ref: FromPath[str],
    ) -> Redirect:
        # Already decided or withdrawn: the page shows where it stands.
        with contextlib.suppress(DomainError):
            await intake.withdraw(conn, session, ref)
        return Redirect(path=f"/complaints/{normalize_ref(ref)}?notice=withdrawn", status_code=303)


ROUTES: list[ControllerRouterHandler] = [ComplaintPages]
