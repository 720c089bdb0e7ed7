"""What every page needs: its language, the contact's cookie session, and rendering a template with both.

Other feature pages (complaints) use these three dependencies and `page()`; see I18N.md.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from registry.contacts import queries
from registry.contacts.schemas import ContactSession
from registry.database import Connection
from registry.errors import Unauthorized
from registry.settings import Settings
from registry.web import i18n
from registry.web.i18n import Texts

SESSION_COOKIE = "contact_session"


class SignInRequired(Exception):
    """A page that needs a contact was opened without a live session: the pages answer with the sign-in page."""


def provide_texts(request: Request[Any, Any, Any]) -> Texts:
    """The page's language: the switch's cookie, else Accept-Language, else Chinese."""
    return Texts(i18n.choose(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language")))


async def provide_contact(request: Request[Any, Any, Any], conn: NamedDependency[Connection]) -> ContactSession:
    """The signed-in contact (from the HttpOnly session cookie), or SignInRequired."""
    contact = await provide_maybe_contact(request, conn)
    if contact is None:
        raise SignInRequired()
    return contact


async def provide_maybe_contact(
    request: Request[Any, Any, Any], conn: NamedDependency[Connection]
) -> ContactSession | None:
    try:
        return await queries.session_from_token(conn, request.cookies.get(SESSION_COOKIE))
    except Unauthorized:
        return None


def session_cookie(settings: Settings, token: str, max_age: int) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
    )


def cleared_session_cookie(settings: Settings) -> Cookie:
    return session_cookie(settings, "", 0)


def page(texts: Texts, name: str, *, status: int = 200, **context: Any) -> Template:
    """Render a template with `_` (translate), `t` (dates, times, language) and the given values."""
    return Template(template_name=name, context={"_": texts.gettext, "t": texts, **context}, status_code=status)


def sign_in_redirect(request: Request[Any, Any, Any], exc: SignInRequired) -> Redirect:
    return Redirect(path="/verify", status_code=303)
