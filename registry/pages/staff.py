"""The staff pages' kit: their words for the codes they show, `view()`, and the way back on trouble.

Staff pages (admin/pages.py, disputes/staff_pages.py) are in Simplified Chinese first and
English second like the contact pages (same catalogs, switch and negotiation, see I18N.md);
their forms are CSRF protected by the app's CSRFConfig.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from litestar import Request
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandlersMap
from markupsafe import Markup

from registry.errors import DomainError
from registry.pages.explain import explain_for_staff
from registry.pages.i18n import Texts
from registry.pages.kit import page, provide_texts
from registry.sessions.staff import Staff, StaffSignInRequired


def to_sign_in(request: Request[Any, Any, Any], exc: StaffSignInRequired) -> Redirect:
    return Redirect(path="/admin/login", status_code=303)


def problem_page(request: Request[Any, Any, Any], exc: DomainError) -> Template:
    """A refused action on a page: say why, in the page's language, with a way back."""
    texts = provide_texts(request)
    return page(
        texts,
        "admin/error.html",
        status=exc.status,
        staff=None,
        label=labeler(texts),
        message=explain_for_staff(exc, texts),
        back=request.headers.get("referer") or "/admin/",
    )


# Declared on every staff page controller.
STAFF_PAGE_HANDLERS: ExceptionHandlersMap = {StaffSignInRequired: to_sign_in, DomainError: problem_page}


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
            "notice_pending": _("contact notified first, wait"),
            "notice_budget": _("daily notice budget spent"),
        },
        "notice": {"queued": _("queued"), "sent": _("sent"), "failed": _("not delivered")},
        "channel": {"call": _("call"), "sms": _("SMS"), "visit": _("visit")},
        "violation": {
            "no_permit": _("no permit"),
            "permit_denied": _("check was denied"),
            "permit_expired": _("permit expired"),
            "permit_revoked": _("permit revoked"),
            "permit_used": _("permit already used"),
        },
        "rule": {"refuse": _("refuse"), "consent": _("consent")},
        "revoke": {
            "refused": _("the contact refused"),
            "consent_withdrawn": _("consent withdrawn"),
            "erased": _("the contact erased her data"),
        },
        "link": {"refuse_all": _("refused all agencies"), "refuse_agency": _("refused this agency")},
        # By the first half of the stored MIME type: attachments are recordings, images or PDFs.
        "file": {"audio": _("recording"), "image": _("image"), "video": _("video"), "application": _("PDF")},
    }


def labeler(texts: Texts) -> Callable[[str, str | None], str]:
    """`label(group, code)` for the templates: the words for a code, or the code itself when it has none."""
    table = words(texts)

    def label(group: str, code: str | None) -> str:
        if code is None:
            return ""
        return table.get(group, {}).get(code, code)

    return label


def stamper(texts: Texts) -> Callable[..., Markup | str]:
    """`when(dt)` for the templates: the time in Beijing time (the display zone), and with `utc=True`
    the UTC time beneath it, as agencies' own records and the API write it, so the two compare at a glance.
    `plain=True` gives the Beijing time as text, for a sentence."""

    def when(value: datetime | None, *, utc: bool = False, seconds: bool = False, plain: bool = False) -> Markup | str:
        if value is None:
            return ""
        shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
        local = value.astimezone(texts.zone).strftime(shape)
        if plain:  # inside a translated sentence, which escapes what it is given
            return local
        stamp = Markup('<time datetime="{}">{}</time>').format(value.astimezone(UTC).isoformat(), local)
        if utc:
            stamp += Markup('<span class="utc">UTC {}</span>').format(value.astimezone(UTC).strftime(shape))
        return stamp

    return when


def view(texts: Texts, name: str, staff: Staff | None, *, status: int = 200, **context: Any) -> Template:
    return page(
        texts, f"admin/{name}.html", status=status, staff=staff, label=labeler(texts), when=stamper(texts), **context
    )
