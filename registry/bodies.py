"""What a request may carry: no NUL character in any text, and JSON nested only as deep as JSON is.

PostgreSQL text cannot hold NUL, and msgspec gives up on JSON nested about a thousand deep
with a RecursionError: both reached the database or the decoder and came back as 500 with a
stack trace. They are refused here instead, before anything reads them: 400 problem+json
naming the field (the contact pages show their own error page for it).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import FormMultiDict, UploadFile
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from registry.errors import DomainError

NUL = "\x00"


def nul_refused(field: str) -> DomainError:
    return DomainError(
        f"{field}: contains a NUL character, which is not text",
        code="nul_character",
        errors=[{"field": field, "detail": "contains a NUL character"}],
    )


def nul_in_json(value: Any) -> str | None:
    """The path of the first string (or key) holding a NUL, or None. Iterative: the value may be ~1000 deep."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return path or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                name = f"{path}.{key}" if path else str(key)
                if NUL in str(key):
                    return name
                stack.append((name, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
    return None


class RegistryRequest(Request[Any, Any, Any]):
    """Litestar's request, refusing bodies that cannot be text or cannot be decoded without a stack overflow."""

    async def json(self) -> Any:
        try:
            value = await super().json()
        except RecursionError:
            raise DomainError(
                "the JSON body is nested too deeply",
                code="nested_too_deep",
                errors=[{"field": "body", "detail": "nested too deeply"}],
            ) from None
        # A NUL in JSON text is always escaped as \u0000, so bodies without one need no walk.
        if b"\\u0000" in await self.body():
            field = nul_in_json(value)
            if field is not None:
                raise nul_refused(field)
        return value

    async def form(self) -> FormMultiDict:
        form = await super().form()
        for name, value in form.multi_items():
            if NUL in name or (isinstance(value, str) and NUL in value):
                raise nul_refused(name.replace(NUL, "\\0"))
            if isinstance(value, UploadFile) and NUL in (value.filename or ""):
                raise nul_refused(name)
        return form


def refuse_nul_in_url(app: ASGIApp) -> ASGIApp:
    """A NUL in the path (as %00) or the query string is refused before any route parameter is used."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            if NUL in scope["path"]:
                raise nul_refused("path")
            query = scope.get("query_string", b"")
            if b"%00" in query or b"\x00" in query:
                raise nul_refused("query")
        await app(scope, receive, send)

    return middleware
