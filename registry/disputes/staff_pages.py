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
from registry.disputes.pages import category_words
from registry.disputes.records import normalize_ref
from registry.disputes.schemas import PENDING, STATUSES, DecisionRequest
from registry.errors import Forbidden, InvalidInput
from registry.pages.explain import explain_for_staff
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
        notice = request.query_params.get("notice")
        return await case_page(conn, texts, staff, ref, notice=notice)

    @post("/disputes/{ref:str}/decision", status_code=303)
    async def decide(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        ref: FromPath[str],
        texts: NamedDependency[Texts],
    ) -> Redirect | Template:
        form = await request.form()
        chosen = {
            "outcome": form.get("outcome") or "",
            "note": form.get("note") or "",
            "sanction": form.get("sanction") or "none",
        }
        try:
            try:
                decision = msgspec.convert(chosen, DecisionRequest)
            except msgspec.ValidationError as exc:
                raise InvalidInput("decision", str(exc)) from None
            await review.decide(conn, ref, decision, staff)
        except (InvalidInput, Forbidden) as exc:
            # The reviewer's note may be long and careful: the form comes back with it, and says what to change.
            return await case_page(
                conn, texts, staff, ref, status=exc.status, chosen=chosen, error=explain_for_staff(exc, texts)
            )
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


async def case_page(
    conn: Connection,
    texts: Texts,
    staff: Staff,
    ref: str,
    *,
    status: int = 200,
    notice: str | None = None,
    chosen: dict[str, str] | None = None,
    error: str | None = None,
) -> Template:
    """A case with its evidence, its files in the page, the categories in the contact's own words,
    and the decision form (filled with what was sent, when it comes back with an error)."""
    case = await review.admin_view(conn, ref)
    return view(
        texts,
        "case",
        staff,
        status=status,
        d=case,
        pending=case.status in PENDING,
        notice=notice,
        her_words=category_words(texts),
        chosen=chosen or {"outcome": "", "note": "", "sanction": "none"},
        error=error,
    )


ROUTES: list[ControllerRouterHandler] = [ReviewPages]
