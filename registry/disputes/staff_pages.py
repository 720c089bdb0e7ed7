"""Staff pages of the review: the queue (the staff's home page), a case with its evidence, the decision."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from registry.agencies import queries as agencies
from registry.database import Connection
from registry.disputes import attachments, review
from registry.disputes.records import normalize_ref
from registry.disputes.schemas import PENDING, STATUSES, DecisionRequest
from registry.errors import InvalidInput
from registry.pages.i18n import Texts
from registry.pages.kit import TEXTS
from registry.pages.staff import STAFF_PAGE_HANDLERS, view
from registry.sessions.staff import PAGE_STAFF, Staff


class ReviewPages(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {**PAGE_STAFF, **TEXTS}  # noqa: RUF012
    exception_handlers = STAFF_PAGE_HANDLERS

    @get("/")
    async def queue(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        texts: NamedDependency[Texts],
    ) -> Template:
        """The review queue with its filters (plain GET parameters, so a filtered queue can be bookmarked)."""
        params = request.query_params
        status = params.get("status") or None
        if status is not None and status not in STATUSES:
            raise InvalidInput("status", "unknown status")
        agency_id = params.get("agency_id") or None
        overdue = {"yes": True, "no": False}.get(params.get("overdue") or "")
        items = await review.queue(
            conn,
            status=status,
            agency_id=agencies.as_uuid(agency_id, "agency_id") if agency_id else None,
            overdue=overdue,
            limit=200,
            offset=0,
        )
        return view(
            texts,
            "queue",
            staff,
            items=items,
            statuses=STATUSES,
            agencies=await agencies.list_agencies(conn),
            chosen={"status": status or "", "agency_id": agency_id or "", "overdue": params.get("overdue", "")},
        )

    @get("/disputes/{ref:str}")
    async def case(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        ref: FromPath[str],
        texts: NamedDependency[Texts],
    ) -> Template:
        case = await review.admin_view(conn, ref)
        return view(
            texts, "case", staff, d=case, pending=case.status in PENDING, notice=request.query_params.get("notice")
        )

    @post("/disputes/{ref:str}/decision", status_code=303)
    async def decide(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        ref: FromPath[str],
    ) -> Redirect:
        form = await request.form()
        try:
            decision = msgspec.convert(
                {
                    "outcome": form.get("outcome"),
                    "note": form.get("note") or "",
                    "sanction": form.get("sanction") or "none",
                },
                DecisionRequest,
            )
        except msgspec.ValidationError as exc:
            raise InvalidInput("decision", str(exc)) from None
        await review.decide(conn, ref, decision, staff)
        return Redirect(path=f"/admin/disputes/{normalize_ref(ref)}?notice=decided", status_code=303)

    @get("/disputes/{ref:str}/attachments/{attachment_id:uuid}")
    async def attachment(
        self,
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        ref: FromPath[str],
        attachment_id: FromPath[UUID],
    ) -> Response[bytes]:
        return attachments.download(await attachments.content(conn, ref, attachment_id))


ROUTES: list[ControllerRouterHandler] = [ReviewPages]
