"""The contact's pages: server-rendered, no JavaScript, CSRF-protected forms, Chinese first.

Every form that fails is shown again with a plain message in the page's language and
the values kept; the change behind it is one transaction, so nothing is half-saved.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from registry.admin.agencies import public_agencies
from registry.contacts import queries
from registry.contacts.routes import client_address
from registry.contacts.schemas import ContactSession, RuleRequest
from registry.contacts.sms import sender_for
from registry.contacts.words import describe_rule
from registry.database import Connection
from registry.errors import DomainError, InvalidInput, NotFound, TooManyRequests, Unauthorized, Unavailable
from registry.settings import Settings
from registry.web import i18n
from registry.web.i18n import Texts
from registry.web.session import (
    SignInRequired,
    cleared_session_cookie,
    page,
    provide_contact,
    provide_maybe_contact,
    provide_texts,
    session_cookie,
    sign_in_redirect,
)

Form = URLEncodedBody[dict[str, str]]


def explain(exc: DomainError, texts: Texts, max_days: int = 365) -> str:
    """A domain error in plain words of the page's language."""
    _ = texts.gettext
    if isinstance(exc, TooManyRequests):
        minutes = math.ceil(int((exc.headers or {}).get("Retry-After", "60")) / 60)
        return _("Too many tries. Please wait %(minutes)s minutes, then try again.", minutes=minutes)
    if isinstance(exc, Unauthorized):
        return _("That code is wrong or has expired. Check the SMS, or ask for a new code.")
    if isinstance(exc, Unavailable):
        return _("We could not send the SMS just now. Please try again in a minute.")
    if isinstance(exc, NotFound):
        return _("We could not find that. It may have been withdrawn or erased already.")
    if isinstance(exc, InvalidInput):
        if exc.field == "phone":
            return _("That is not a phone number we can use. Check the digits and try again.")
        if exc.field == "code":
            return _("The code has 6 digits. Copy it from the SMS.")
        if exc.field == "borrower_phone":
            return _("The borrower's number is not a phone number we can use. Check the digits.")
        if exc.field == "agency_id":
            return _("Choose an agency, or give the borrower's number, or both.")
        if exc.field in ("days", "expires_at"):
            return _("Choose how many days it lasts: a whole number from 1 to %(max)s.", max=max_days)
    return _("Something is not right. Please check and try again.")


def safe_next(value: str | None) -> str:
    """Only our own paths, so the language switch cannot send anyone elsewhere.

    Browsers read a backslash as a slash and drop tabs and newlines, so `/\\evil.example`
    would leave the site as `//evil.example`: such characters are refused, not passed on.
    """
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ch.isspace() or not ch.isprintable() for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.netloc or parts.scheme:
        return "/"
    # The query stays, so switching language keeps a filtered list filtered.
    return parts.path + (f"?{parts.query}" if parts.query else "")


def error_page(request: Request[Any, Any, Any], exc: DomainError) -> Template:
    texts = provide_texts(request)
    return page(texts, "error.html", status=exc.status, message=explain(exc, texts))


class Pages(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {  # noqa: RUF012
        "texts": Provide(provide_texts, sync_to_thread=False),
        "contact": Provide(provide_contact),
        "maybe_contact": Provide(provide_maybe_contact),
    }
    exception_handlers = {SignInRequired: sign_in_redirect, DomainError: error_page}  # noqa: RUF012

    @get("/")
    async def start(
        self, texts: NamedDependency[Texts], maybe_contact: NamedDependency[ContactSession | None]
    ) -> Template:
        return page(texts, "start.html", signed_in=maybe_contact is not None)

    @get("/lang/{code:str}")
    async def switch_language(
        self, code: FromPath[str], next_path: Annotated[str | None, QueryParameter(name="next")] = None
    ) -> Redirect:
        """Remember the choice in a cookie for a year and go back to the page."""
        locale = code if code in i18n.LOCALES else i18n.DEFAULT_LOCALE
        cookie = Cookie(key=i18n.COOKIE, value=locale, max_age=365 * 24 * 3600, path="/", samesite="lax")
        return Redirect(path=safe_next(next_path), status_code=303, cookies=[cookie])

    @get("/verify")
    async def phone_form(self, texts: NamedDependency[Texts]) -> Template:
        return page(texts, "verify_phone.html", phone="", error=None)

    @post("/verify")
    async def send_code(
        self,
        data: Form,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        texts: NamedDependency[Texts],
    ) -> Template:
        phone = data.get("phone", "").strip()
        try:
            sent = await queries.send_code(conn, settings, sender_for(settings), phone, client_address(request))
        except DomainError as exc:
            return page(texts, "verify_phone.html", status=exc.status, phone=phone, error=explain(exc, texts))
        # The number travels in the form, not in a URL, so it never lands in an access log.
        return page(texts, "verify_code.html", phone=phone, minutes=sent.expires_in // 60, error=None)

    @get("/verify/code")
    async def code_form_again(self) -> Redirect:
        """The code form is only shown after a number was entered (a reload or language switch lands here)."""
        return Redirect(path="/verify", status_code=303)

    @post("/verify/code")
    async def check_code(
        self,
        data: Form,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        texts: NamedDependency[Texts],
    ) -> Template | Redirect:
        phone = data.get("phone", "").strip()
        try:
            session = await queries.open_session(conn, settings, phone, data.get("code", ""), client_address(request))
        except DomainError as exc:
            minutes = settings.contact.code_minutes
            return page(
                texts, "verify_code.html", status=exc.status, phone=phone, minutes=minutes, error=explain(exc, texts)
            )
        cookie = session_cookie(settings, session.token, settings.contact.session_minutes * 60)
        return Redirect(path="/me", status_code=303, cookies=[cookie])

    @get("/me")
    async def status(
        self, conn: NamedDependency[Connection], contact: NamedDependency[ContactSession], texts: NamedDependency[Texts]
    ) -> Template:
        rules = await queries.rules_of(conn, contact.phone_key)
        in_force = [rule for rule in rules if rule.state == "active"]
        refused_all = any(r.kind == "refuse" and not r.agency_id and not r.borrower for r in in_force)
        checks = await queries.recent_checks(conn, contact.phone_key)
        return page(
            texts,
            "status.html",
            contact=contact,
            in_force=[(rule, describe_rule(rule, texts)) for rule in in_force],
            refused_all=refused_all,
            check_count=len(checks),
        )

    @get("/me/refuse")
    async def refuse_form(
        self, conn: NamedDependency[Connection], contact: NamedDependency[ContactSession], texts: NamedDependency[Texts]
    ) -> Template:
        return page(texts, "refuse.html", agencies=await public_agencies(conn), error=None)

    @post("/me/refuse")
    async def refuse(
        self,
        data: Form,
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        contact: NamedDependency[ContactSession],
        texts: NamedDependency[Texts],
    ) -> Template | Redirect:
        try:
            request = RuleRequest(kind="refuse", agency_id=_agency(data))
            change = await queries.add_rule(conn, settings, contact, request, texts)
        except DomainError as exc:
            agencies = await public_agencies(conn)
            return page(texts, "refuse.html", status=exc.status, agencies=agencies, error=explain(exc, texts))
        return Redirect(path=f"/me/receipts/{change.receipt.id}", status_code=303)

    @get("/me/consent")
    async def consent_form(
        self,
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        contact: NamedDependency[ContactSession],
        texts: NamedDependency[Texts],
    ) -> Template:
        return page(
            texts,
            "consent.html",
            agencies=await public_agencies(conn),
            form={"days": str(settings.limits.consent_default_days)},
            max_days=settings.limits.consent_max_days,
            error=None,
        )

    @post("/me/consent")
    async def consent(
        self,
        data: Form,
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        contact: NamedDependency[ContactSession],
        texts: NamedDependency[Texts],
    ) -> Template | Redirect:
        try:
            days = _days(data.get("days", ""), settings.limits.consent_max_days)
            request = RuleRequest(
                kind="consent",
                agency_id=_agency(data),
                borrower_phone=data.get("borrower_phone", "").strip() or None,
                expires_at=datetime.now(UTC) + timedelta(days=days),
            )
            change = await queries.add_rule(conn, settings, contact, request, texts)
        except DomainError as exc:
            return page(
                texts,
                "consent.html",
                status=exc.status,
                agencies=await public_agencies(conn),
                form=data,
                max_days=settings.limits.consent_max_days,
                error=explain(exc, texts, settings.limits.consent_max_days),
            )
        return Redirect(path=f"/me/receipts/{change.receipt.id}", status_code=303)

    @get("/me/rules/{rule_id:uuid}/withdraw")
    async def withdraw_form(
        self,
        rule_id: FromPath[UUID],
        conn: NamedDependency[Connection],
        contact: NamedDependency[ContactSession],
        texts: NamedDependency[Texts],
    ) -> Template:
        rule = next((r for r in await queries.rules_of(conn, contact.phone_key) if r.id == rule_id), None)
        if rule is None:
            raise NotFound("no such rule")
        return page(texts, "withdraw.html", rule=rule, words=describe_rule(rule, texts))

    @post("/me/rules/{rule_id:uuid}/withdraw")
    async def withdraw(
        self,
        rule_id: FromPath[UUID],
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        contact: NamedDependency[ContactSession],
        texts: NamedDependency[Texts],
    ) -> Redirect:
        change = await queries.withdraw_rule(conn, settings, contact, rule_id, texts)
        return Redirect(path=f"/me/receipts/{change.receipt.id}", status_code=303)

    @get("/me/checks")
    async def checks(
        self, conn: NamedDependency[Connection], contact: NamedDependency[ContactSession], texts: NamedDependency[Texts]
    ) -> Template:
        return page(texts, "checks.html", checks=await queries.recent_checks(conn, contact.phone_key))

    @get("/me/receipts/{receipt_id:uuid}")
    async def receipt(
        self,
        receipt_id: FromPath[UUID],
        conn: NamedDependency[Connection],
        contact: NamedDependency[ContactSession],
        texts: NamedDependency[Texts],
    ) -> Template:
        receipt = await queries.get_receipt(conn, contact, receipt_id, texts)
        in_force = [(rule, describe_rule(rule, texts)) for rule in receipt.rules_in_force]
        return page(texts, "receipt.html", receipt=receipt, in_force=in_force, contact=contact)

    @get("/me/erase")
    async def erase_form(self, contact: NamedDependency[ContactSession], texts: NamedDependency[Texts]) -> Template:
        return page(texts, "erase.html")

    @post("/me/erase")
    async def erase(
        self,
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        contact: NamedDependency[ContactSession],
        texts: NamedDependency[Texts],
    ) -> Template:
        await queries.erase(conn, settings, contact)
        response = page(texts, "erased.html")
        response.set_cookie(cleared_session_cookie(settings))
        return response

    @post("/logout")
    async def logout(
        self,
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        maybe_contact: NamedDependency[ContactSession | None],
    ) -> Redirect:
        if maybe_contact is not None:
            await queries.end_session(conn, maybe_contact)
        return Redirect(path="/", status_code=303, cookies=[cleared_session_cookie(settings)])


def _agency(data: dict[str, str]) -> UUID | None:
    raw = data.get("agency_id", "").strip()
    if not raw:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidInput("agency_id", "not an agency id") from None


def _days(raw: str, maximum: int) -> int:
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise InvalidInput("days", f"a whole number from 1 to {maximum}")
    return int(text)


ROUTES: list[ControllerRouterHandler] = [Pages]
