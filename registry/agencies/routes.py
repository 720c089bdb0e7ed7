"""The public list of registered agencies (anyone may see who is registered and who is suspended)."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.types import ControllerRouterHandler

from registry.agencies.queries import PublicAgency, public_agencies
from registry.database import Connection


@get("/v1/agencies", tags=["public"])
async def list_agencies(conn: NamedDependency[Connection]) -> list[PublicAgency]:
    """Registered agencies and their status (active or suspended)."""
    return await public_agencies(conn)


ROUTES: list[ControllerRouterHandler] = [list_agencies]
