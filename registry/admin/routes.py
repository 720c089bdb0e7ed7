"""The admin API: staff sign-in, agencies and keys, figures. Disputes' admin routes live in disputes/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from registry.admin import stats
from registry.admin.pages import ROUTES as pages
from registry.admin.schemas import AgencyRequest, NoticeBudget, StaffSessionRequest, StatusChange
from registry.agencies import queries as agencies
from registry.agencies.queries import Agency, ApiKey, IssuedKey
from registry.clients import client_address
from registry.database import Connection
from registry.errors import Conflict, TooManyRequests, Unauthorized, problem_responses
from registry.sessions import staff as accounts
from registry.sessions.staff import API_ADMIN, API_STAFF, Staff, StaffSession
from registry.settings import Settings


class AgencyWithKeys(msgspec.Struct, frozen=True, kw_only=True):
    agency: Agency
    keys: list[ApiKey]


class AdminSessions(Controller):
    path = "/v1/admin/sessions"
    tags = ["admin"]  # noqa: RUF012

    @post("/", responses=problem_responses(Unauthorized, TooManyRequests))
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        state: State,
        settings: NamedDependency[Settings],
        data: JSONBody[StaffSessionRequest],
    ) -> StaffSession:
        """Username and password -> a session token (12 hours); every sign-in is audited."""
        # No `conn` here: the password hash is checked holding no pooled connection (login takes short ones).
        return await accounts.login(
            state.pool, state.limiter, settings, data.username, data.password, client_address(request)
        )

    @delete("/", dependencies=API_STAFF)
    async def sign_out(self, conn: NamedDependency[Connection], staff: NamedDependency[Staff]) -> None:
        """End this session."""
        await accounts.logout(conn, staff)


class AdminApi(Controller):
    path = "/v1/admin"
    tags = ["admin"]  # noqa: RUF012
    dependencies = API_STAFF

    @get("/agencies")
    async def list_agencies(
        self, conn: NamedDependency[Connection], staff: NamedDependency[Staff]
    ) -> dict[str, list[Agency]]:
        return {"items": await agencies.list_agencies(conn)}

    @post("/agencies", dependencies=API_ADMIN, responses=problem_responses(Conflict))
    async def create_agency(
        self,
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        staff: NamedDependency[Staff],
        data: JSONBody[AgencyRequest],
    ) -> Agency:
        """Register an agency (role admin)."""
        return await agencies.create_agency(conn, data.name, data.credit_code, staff.actor, settings.jurisdiction)

    @get("/agencies/{agency_id:uuid}")
    async def show_agency(
        self, conn: NamedDependency[Connection], staff: NamedDependency[Staff], agency_id: FromPath[UUID]
    ) -> AgencyWithKeys:
        agency = await agencies.get_agency(conn, agency_id)
        return AgencyWithKeys(agency=agency, keys=await agencies.list_keys(conn, agency.id))

    @post("/agencies/{agency_id:uuid}/suspend", status_code=200, dependencies=API_ADMIN)
    async def suspend(
        self,
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        agency_id: FromPath[UUID],
        data: JSONBody[StatusChange | None] = None,
    ) -> Agency:
        """Suspend at once: the agency's next request is 403 (role admin)."""
        return await agencies.set_status(conn, agency_id, "suspended", staff.actor, data.reason if data else "")

    @post("/agencies/{agency_id:uuid}/reinstate", status_code=200, dependencies=API_ADMIN)
    async def reinstate(
        self,
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        agency_id: FromPath[UUID],
        data: JSONBody[StatusChange | None] = None,
    ) -> Agency:
        return await agencies.set_status(conn, agency_id, "active", staff.actor, data.reason if data else "")

    @put("/agencies/{agency_id:uuid}/notice-budget", dependencies=API_ADMIN)
    async def notice_budget(
        self,
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        agency_id: FromPath[UUID],
        data: JSONBody[NoticeBudget],
    ) -> Agency:
        """How many notices this agency's checks may cause in 24 hours (null: the default); beyond it, checks
        that would send one answer deny / notice_budget (role admin)."""
        return await agencies.set_notice_budget(conn, agency_id, data.daily, staff.actor)

    @post("/agencies/{agency_id:uuid}/keys", dependencies=API_ADMIN)
    async def issue_key(
        self, conn: NamedDependency[Connection], staff: NamedDependency[Staff], agency_id: FromPath[UUID]
    ) -> IssuedKey:
        """A new API key, shown in this response only (role admin)."""
        return await agencies.issue_key(conn, agency_id, staff.actor)

    @delete("/keys/{key_id:uuid}", status_code=200, dependencies=API_ADMIN)
    async def revoke_key(
        self, conn: NamedDependency[Connection], staff: NamedDependency[Staff], key_id: FromPath[UUID]
    ) -> ApiKey:
        return await agencies.revoke_key(conn, key_id, staff.actor)

    @get("/stats")
    async def figures(
        self,
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        staff: NamedDependency[Staff],
        days: Annotated[int, QueryParameter(ge=1, le=3660)] = 30,
    ) -> stats.Figures:
        """Per agency over the last `days`: checks, deny rate, non-compliant attempts, upheld per 10,000 checks,
        notices; and notices per agency per day (days in the jurisdiction's zone)."""
        return await stats.figures(conn, datetime.now(UTC) - timedelta(days=days), settings.jurisdiction.display_zone)


ROUTES: list[ControllerRouterHandler] = [AdminSessions, AdminApi, *pages]
