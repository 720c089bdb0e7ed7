"""The contact's pages: server-rendered, no JavaScript, CSRF-protected forms, Chinese first.

Every form that fails is shown again with a plain message in the page's language and
the values kept; the change behind it is one transaction, so nothing is half-saved.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from registry import notices
from registry.agencies.queries import public_agencies
from registry.clients import client_address
from registry.complaints import contact_disputes
from registry.contacts import codes, me, rules
from registry.contacts.schemas import RecentCheck, RuleRequest
from registry.contacts.words import describe_rule, worded
from registry.database import Connection
from registry.errors import DomainError, InvalidInput, NotFound
from registry.pages.explain import explain
from registry.pages.i18n import Texts
from registry.pages.kit import TEXTS, error_page, page, safe_next, sign_in_redirect
from registry.sessions.contact import (
    ContactSession,
    SignInRequired,
    cleared_session_cookie,
    cookie_contact,
    end_session,
    maybe_cookie_contact,
    session_cookie,
)
from registry.settings import Settings

Form = URLEncodedBody[dict[str, str]]
# A one-call consent whose call never comes ends by itself after this many days.
ONCE_DAYS = 30


class Pages(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {  # noqa: RUF012
        **TEXTS,
        "contact": Provide(cookie_contact),
        "maybe_contact": Provide(maybe_cookie_contact),
    }
    exception_handlers = {SignInRequired: sign_in_redirect, DomainError: error_page}  # noqa: RUF012

    @get("/")
    async def start(
        self, texts: NamedDependency[Texts], maybe_contact: NamedDependency[ContactSession | None]
    ) -> Template:
        return page(texts, "start.html", signed_in=maybe_contact is not None)

    @get("/verify")
    async def phone_form(
        self,
        texts: NamedDependency[Texts],
        next_path: Annotated[str | None, QueryParameter(name="next")] = None,
        expired: Annotated[str | None, QueryParameter(name="expired")] = None,
        kept: Annotated[str | None, QueryParameter(name="kept")] = None,
    ) -> Template:
        return page(
            texts,
            "verify_phone.html",
            phone="",
            error=None,
            next=safe_next(next_path),
            expired=expired == "1",
            kept=kept == "1",
        )

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
        # Where she was going (the start page's form: the refusal), carried through both steps.
        target = safe_next(data.get("next"))
        try:
            sent = await codes.send_code(conn, settings, phone, client_address(request))
        except DomainError as exc:
            return page(
                texts,
                "verify_phone.html",
                status=exc.status,
                phone=phone,
                error=explain(exc, texts),
                next=target,
                expired=False,
                kept=False,
            )
        # The number travels in the form, not in a URL, so it never lands in an access log.
        return page(texts, "verify_code.html", phone=phone, minutes=sent.expires_in // 60, error=None, next=target)

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
        target = safe_next(data.get("next"))
        try:
            session = await codes.open_session(conn, settings, phone, data.get("code", ""), client_address(request))
        except DomainError as exc:
            minutes = settings.contact.code_minutes
            return page(
                texts,
                "verify_code.html",
                status=exc.status,
                phone=phone,
                minutes=minutes,
                error=explain(exc, texts),
                next=target,
            )
        cookie = session_cookie(settings, session.token, settings.contact.session_minutes * 60)
        # Sign-in always goes back where she was going: the refusal, a complaint she was writing, ...
        return Redirect(path=target if target != "/" else "/me", status_code=303, cookies=[cookie])

    @get("/me")
    async def status(
        self, conn: NamedDependency[Connection], contact: NamedDependency[ContactSession], texts: NamedDependency[Texts]
    ) -> Template:
        in_force = [rule for rule in await rules.rules_of(conn, contact.phone_key) if rule.state == "active"]
        refused_all = any(r.kind == "refuse" and not r.agency_id and not r.borrower for r in in_force)
        checks = await me.recent_checks(conn, contact.phone_key)
        # A consent given after refusing everyone is an exception to the refusal: "refused, except ...".
        exceptions = [describe_rule(r, texts) for r in in_force if r.kind == "consent"] if refused_all else []
        return page(
            texts,
            "status.html",
            contact=contact,
            in_force=[(rule, describe_rule(rule, texts)) for rule in in_force],
            refused_all=refused_all,
            exceptions=exceptions,
            check_count=len(checks),
            complaint_count=len(await contact_disputes(conn, contact.phone_key)),
            notices=await notices.notices_of(conn, contact.phone_key),
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
            change = await rules.add_rule(conn, settings, contact, request)
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
        return await _consent_page(conn, settings, contact, texts, form={})

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
            agency_id, borrower = _agency(data), data.get("borrower_phone", "").strip() or None
            if agency_id is None and borrower is None:
                # Whom it is about comes first, then until when.
                raise InvalidInput("agency_id", "an agency, a borrower's phone, or both", code="consent_needs_scope")
            # A day picked without ticking "until a day" still says what she meant.
            how = data.get("how") or ("until" if data.get("until", "").strip() else "")
            if how not in ("once", "until"):
                raise InvalidInput("how", "once or until")
            once = how == "once"
            if once:
                # One call: it ends with that call, and by itself if the call never comes.
                until = datetime.now(UTC) + timedelta(days=min(ONCE_DAYS, settings.limits.consent_max_days))
            else:
                until = _until(data.get("until", ""), settings)
            request = RuleRequest(
                kind="consent", agency_id=agency_id, borrower_phone=borrower, expires_at=until, once=once
            )
            change = await rules.add_rule(conn, settings, contact, request)
        except DomainError as exc:
            return await _consent_page(conn, settings, contact, texts, form=data, status=exc.status, error=exc)
        return Redirect(path=f"/me/receipts/{change.receipt.id}", status_code=303)

    @get("/me/rules/{rule_id:uuid}/withdraw")
    async def withdraw_form(
        self,
        rule_id: FromPath[UUID],
        conn: NamedDependency[Connection],
        contact: NamedDependency[ContactSession],
        texts: NamedDependency[Texts],
    ) -> Template:
        rule = next((r for r in await rules.rules_of(conn, contact.phone_key) if r.id == rule_id), None)
        if rule is None:
            raise NotFound("no such rule", code="unknown_rule")
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
        change = await rules.withdraw_rule(conn, settings, contact, rule_id)
        return Redirect(path=f"/me/receipts/{change.receipt.id}", status_code=303)

    @get("/me/checks")
    async def checks(
        self, conn: NamedDependency[Connection], contact: NamedDependency[ContactSession], texts: NamedDependency[Texts]
    ) -> Template:
        checks = await me.recent_checks(conn, contact.phone_key)
        consents = [r for r in await rules.rules_of(conn, contact.phone_key) if r.kind == "consent"]

        def consented(check: RecentCheck) -> bool:
            """Whether a consent that could cover this agency was in force when it checked: its limit
            (calls she allowed) was reached, not the once-a-month limit of a contact without a rule."""
            at = check.checked_at
            return any(
                (r.agency_id is None or r.agency_id == check.agency_id)
                and r.created_at <= at
                and (r.expires_at is None or r.expires_at > at)
                and (r.withdrawn_at is None or r.withdrawn_at > at)
                for r in consents
            )

        under_consent = {i for i, c in enumerate(checks) if c.reason == "frequency_limit" and consented(c)}
        return page(texts, "checks.html", checks=checks, under_consent=under_consent)

    @get("/me/receipts/{receipt_id:uuid}")
    async def receipt(
        self,
        receipt_id: FromPath[UUID],
        conn: NamedDependency[Connection],
        contact: NamedDependency[ContactSession],
        texts: NamedDependency[Texts],
    ) -> Template:
        receipt = worded(await rules.get_receipt(conn, contact, receipt_id), texts)
        in_force = [(rule, describe_rule(rule, texts)) for rule in receipt.rules_in_force]
        return page(
            texts,
            "receipt.html",
            receipt=receipt,
            reference=rules.receipt_reference(receipt.id),
            in_force=in_force,
            contact=contact,
            texted=receipt.action == "rule_added" and receipt.rule.kind == "refuse" and not receipt.rule.borrower,
        )

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
        await me.erase(conn, settings, contact)
        response = page(texts, "erased.html")
        response.set_cookie(cleared_session_cookie(settings))
        return response

    # ---- a notice's link: refuse with one tap, no code --------------------------------------------

    @get("/n/{token:str}")
    async def notice_link(
        self,
        token: FromPath[str],
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        texts: NamedDependency[Texts],
    ) -> Template:
        """The page a notice SMS links to: who asked, when, and two buttons. Opening it changes nothing
        (link previews and scanners open links too); only a tap does."""
        return _link_page(texts, settings, token, await notices.find_link(conn, token))

    @post("/n/{token:str}")
    async def refuse_from_link(
        self,
        token: FromPath[str],
        data: Form,
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        texts: NamedDependency[Texts],
    ) -> Template:
        """Refuse all agencies, or the one that asked: as far as the link signs anyone in. Once."""
        action = data.get("action", "")
        if action not in ("refuse_all", "refuse_agency"):
            raise InvalidInput("action", "refuse_all or refuse_agency")
        async with conn.transaction():
            link = await notices.find_link(conn, token)
            if link is None or link.used_at is not None or link.expired:
                return _link_page(texts, settings, token, link)
            used = await notices.use_link(conn, link, "refuse_all" if action == "refuse_all" else "refuse_agency")
            if not used:  # a second tap that lost the race to the first
                return _link_page(texts, settings, token, await notices.find_link(conn, token))
            agency = link.agency_id if action == "refuse_agency" else None
            recorded = await rules.refuse(conn, settings, link.phone_key, "link", agency)
        receipt = worded(recorded.receipt, texts)
        in_force = [describe_rule(rule, texts) for rule in receipt.rules_in_force]
        reference = rules.receipt_reference(receipt.id)
        return page(texts, "notice_done.html", receipt=receipt, in_force=in_force, reference=reference)

    @post("/logout")
    async def logout(
        self,
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        maybe_contact: NamedDependency[ContactSession | None],
    ) -> Redirect:
        if maybe_contact is not None:
            await end_session(conn, maybe_contact)
        return Redirect(path="/", status_code=303, cookies=[cleared_session_cookie(settings)])


def _link_page(texts: Texts, settings: Settings, token: str, link: notices.Link | None) -> Template:
    """The link's page in its state: open (the two buttons), used, expired, or not one of ours."""
    if link is None:
        return page(texts, "notice.html", status=404, state="unknown", link=None, hold_ends=None, token="")
    state = "used" if link.used_at is not None else "expired" if link.expired else "open"
    hold_ends = link.asked_at + timedelta(hours=settings.notice.hours)
    status = 200 if state == "open" else 410
    return page(texts, "notice.html", status=status, state=state, link=link, hold_ends=hold_ends, token=token)


def _agency(data: dict[str, str]) -> UUID | None:
    raw = data.get("agency_id", "").strip()
    if not raw:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidInput("agency_id", "not an agency id", code="unknown_agency") from None


def _until(raw: str, settings: Settings) -> datetime:
    """The consent's last day, from the date picker (`2026-06-30`): it ends when that day ends, on the
    jurisdiction's clock. No default: she chooses the day (issue 11: nothing prefilled for her)."""
    zone = settings.jurisdiction.display_zone
    # Bounded before NFKC; full-width digits (a Chinese keyboard's) read as digits.
    text = unicodedata.normalize("NFKC", raw.strip()) if len(raw) <= 40 else ""
    try:
        last_day = date.fromisoformat(text) if len(text) == 10 and text.isascii() else None
    except ValueError:
        last_day = None
    today = datetime.now(zone).date()
    if last_day is None or not today <= last_day < today + timedelta(days=settings.limits.consent_max_days):
        raise InvalidInput("until", f"a day from today to {settings.limits.consent_max_days - 1} days ahead")
    # The last second of that day, so every page shows the day she picked as the last one.
    return datetime.combine(last_day, time(23, 59, 59), tzinfo=zone)


async def _consent_page(
    conn: Connection,
    settings: Settings,
    contact: ContactSession,
    texts: Texts,
    *,
    form: dict[str, str],
    status: int = 200,
    error: DomainError | None = None,
) -> Template:
    in_force = [rule for rule in await rules.rules_of(conn, contact.phone_key) if rule.state == "active"]
    zone = settings.jurisdiction.display_zone
    today = datetime.now(zone).date()
    return page(
        texts,
        "consent.html",
        status=status,
        agencies=await public_agencies(conn),
        form=form,
        first_day=today.isoformat(),
        last_day=(today + timedelta(days=settings.limits.consent_max_days - 1)).isoformat(),
        refused_all=any(r.kind == "refuse" and not r.agency_id and not r.borrower for r in in_force),
        once_days=min(ONCE_DAYS, settings.limits.consent_max_days),
        error=explain(error, texts, max_days=settings.limits.consent_max_days) if error else None,
    )


ROUTES: list[ControllerRouterHandler] = [Pages]
