"""No raw JSON on a page: an error on a page route is an HTML page in her language, with a way back.

The JSON API keeps problem+json. Every handler the app has for errors (the problem-details
plugin's, `unexpected`) still runs first, so logging, status codes and Retry-After stay exactly
as they are; on a page route only its body is replaced by a page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, Response
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from litestar.response import Template

from registry.errors import DomainError
from registry.pages.explain import explain, explain_for_staff
from registry.pages.i18n import Texts
from registry.pages.kit import page, provide_texts

# Paths that answer machines: their errors stay problem+json.
API_PREFIXES = ("/v1/", "/.well-known/", "/healthz", "/readyz", "/metrics", "/schema", "/static/")

Handler = Callable[[Request[Any, Any, Any], Exception], Response[Any]]


def is_page(request: Request[Any, Any, Any]) -> bool:
    return not request.url.path.startswith(API_PREFIXES)


def way_back(path: str) -> str:
    """Where the page's one button goes: the staff home, the complaint she was adding to, or her status."""
    if path.startswith("/admin"):
        return "/admin/"
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "complaints" and parts[1] != "new":
        return f"/complaints/{parts[1]}"
    if parts[:1] == ["complaints"]:
        return "/complaints/new"
    return "/me" if parts[:1] == ["me"] else "/"


def words_for(status: int, exc: Exception, texts: Texts, retry_after: str | None, *, staff: bool = False) -> str:
    _ = texts.gettext
    if isinstance(exc, DomainError) and status < 500:
        return explain_for_staff(exc, texts) if staff else explain(exc, texts)
    if status == 404:
        return _("There is no such page. The link may be mistyped or out of date.")
    if status == 405:
        return _("This page cannot be opened that way. Go back and use the buttons on the page.")
    if status == 413:
        return _(
            "That file is larger than 10 MB, so it was not sent. Send the complaint without it, "
            "then add the recording in shorter pieces (each at most 10 MB) on the complaint's page."
        )
    if status == 429:
        seconds = int(retry_after) if retry_after and retry_after.isdigit() else 60
        at = datetime.now(UTC) + timedelta(seconds=seconds)
        return _("Too many tries from here. You can try again at %(time)s.", time=texts.clock(at))
    if status == 403:
        # Litestar's CSRF check: the form's hidden token did not match the cookie (an old tab, say).
        return _("This form was too old to accept, so nothing was saved. Go back, reload the page, and send it again.")
    if status == 503:
        return _("The service is busy just now. Nothing was lost; please try again in a minute.")
    if status >= 500:
        return _("Something went wrong on our side, not yours. Please try again in a minute.")
    return _("Something is not right. Please check and try again.")


def html_instead(handler: Handler) -> Handler:
    def respond(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        answer = handler(request, exc)
        if not is_page(request):
            return answer
        texts = provide_texts(request)
        retry_after = answer.headers.get("retry-after")
        status = answer.status_code or 500
        staff = request.url.path.startswith("/admin")
        rendered: Template = page(
            texts,
            "admin/error.html" if staff else "error.html",
            status=status,
            staff=None,
            message=words_for(status, exc, texts, retry_after, staff=staff),
            back=way_back(request.url.path),
        )
        if retry_after:
            rendered.headers["Retry-After"] = retry_after
        return rendered

    return respond


class PageErrors(InitPluginProtocol):
    """Wraps every app-level error handler (registered after the problem-details plugin)."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        for exc_type, handler in list(app_config.exception_handlers.items()):
            if isinstance(exc_type, type):
                app_config.exception_handlers[exc_type] = html_instead(handler)
        return app_config
