"""What every page needs: its language, rendering a template with it, and the way back on trouble.

Feature pages (contacts/pages.py, disputes/pages.py, admin/pages.py) declare `texts`
and their audience's session as dependencies and render with `page()`; see I18N.md.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from litestar import Request
from litestar.di import Provide
from litestar.response import Redirect, Template

from registry.errors import DomainError
from registry.pages import i18n
from registry.pages.explain import explain
from registry.pages.i18n import Texts
from registry.sessions.contact import COOKIE, SignInRequired
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


def going_to(request: Request[Any, Any, Any]) -> str:
    """The page she was on her way to, for after signing in: the page itself, or for a form she sent,
    the page that shows that form."""
    path = request.url.path
    if request.method == "GET":
        return safe_next(path + (f"?{request.url.query}" if request.url.query else ""))
    parts = [p for p in path.split("/") if p]
    if parts == ["complaints"]:
        return "/complaints/new"
    if parts[:1] == ["complaints"] and len(parts) >= 3:
        return f"/complaints/{parts[1]}"
    if parts[:1] == ["me"]:
        return safe_next(path)
    return "/me"


def sign_in_redirect(request: Request[Any, Any, Any], exc: SignInRequired) -> Redirect:
    """Sign in, then back where she was going (`next`, checked by safe_next when it is used)."""
    query: dict[str, str] = {}
    target = going_to(request)
    if target not in ("/", "/me"):
        query["next"] = target
    # A cookie that no longer opens a session: her sign-in timed out, and the page says so.
    if request.cookies.get(COOKIE):
        query["expired"] = "1"
    return Redirect(path="/verify" + ("?" + urlencode(query) if query else ""), status_code=303)


def error_page(request: Request[Any, Any, Any], exc: DomainError) -> Template:
    """A refused request on a contact page: say why in her language, with a way back."""
    texts = provide_texts(request)
    back = "/me" if request.url.path.startswith("/me") else "/"
    return page(texts, "error.html", status=exc.status, message=explain(exc, texts), back=back)


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
