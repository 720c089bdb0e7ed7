"""The one page route that belongs to no feature: the language switch."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.datastructures import Cookie
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from registry.pages import i18n
from registry.pages.kit import safe_next


@get("/lang/{code:str}", include_in_schema=False)
async def switch_language(
    code: FromPath[str], next_path: Annotated[str | None, QueryParameter(name="next")] = None
) -> Redirect:
    """Remember the choice in a cookie for a year and go back to the page."""
    locale = code if code in i18n.LOCALES else i18n.DEFAULT_LOCALE
    cookie = Cookie(key=i18n.COOKIE, value=locale, max_age=365 * 24 * 3600, path="/", samesite="lax")
    return Redirect(path=safe_next(next_path), status_code=303, cookies=[cookie])


ROUTES: list[ControllerRouterHandler] = [switch_language]
