"""The contact's complaint pages (filled in once the contacts' base template and i18n exist)."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

ROUTES: list[ControllerRouterHandler] = []
