"""What every page needs: its language, rendering a template with it, and the way back on trouble.

Feature pages (contacts/pages.py, disputes/pages.py, admin/pages.py) declare `texts`
and their audience's session as dependencies and render with `page()`; see I18N.md.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar import Request
from litestar.di import Provide
from litestar.response import Redirect, Template

from registry.errors import DomainError
from registry.pages import i18n
from registry.pages.explain import explain
from registry.pages.i18n import Texts
from registry.sessions.contact import SignInRequired
from registry.settings import Settings


def provide_texts(request: Request[Any, Any, Any]) -> Texts:
    """The page's language (the switch's cookie, else Accept-Language, else Chinese), times in the local zone."""
    settings: Settings = request.app.state.settings
    locale = i18n.choose(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))
    return Texts(locale, settings.jurisdiction.display_zone)


TEXTS = {"texts": Provide(provide_texts, sync_to_thread=False)}


def page(texts: Texts, name: str, *, status: int = 200, **context: Any) -> Template:
    """Render a template with `_` (translate), `t` (dates, times, language) and the given values."""
    return Template(template_name=name, context={"_": texts.gettext, "t": texts, **context}, status_code=status)


def sign_in_redirect(request: Request[Any, Any, Any], exc: SignInRequired) -> Redirect:
    return Redirect(path="/verify", status_code=303)


def error_page(request: Request[Any, Any, Any], exc: DomainError) -> Template:
    """A refused request on a contact page: say why in her language, with a way back."""
    texts = provide_texts(request)
    return page(texts, "error.html", status=exc.status, message=explain(exc, texts))


def safe_next(value: str | None) -> str:
    """Only our own paths, so a `next` parameter cannot send anyone elsewhere.

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
