"""Disputes over HTTP: the contact files and follows, the agency answers, reviewers queue and decide."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, RequestBody, Schema
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from registry.agencies.guard import AGENCY_DEPENDENCIES, AGENCY_GUARDS
from registry.agencies.queries import Caller
from registry.complaints import DisputeSummary, contact_disputes
from registry.database import Connection
from registry.disputes import answers, attachments, intake, review
from registry.disputes.pages import ROUTES as pages
from registry.disputes.schemas import (
    AdminDispute,
    AgencyDispute,
    Attachment,
    ContactDispute,
    DecisionRequest,
    DisputeRequest,
    Filed,
    QueueItem,
    ResponseRequest,
    Status,
)
from registry.disputes.staff_pages import ROUTES as staff_pages
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests, problem_responses
from registry.sessions.contact import ContactSession, bearer_contact
from registry.sessions.staff import API_STAFF, Staff
from registry.settings import Settings

UPLOAD_FORM = RequestBody(
    required=True,
    content={
        "multipart/form-data": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                properties={
                    attachments.FIELD: Schema(
                        type=OpenAPIType.STRING,
                        format=OpenAPIFormat.BINARY,
                        description="An audio recording, an image or a PDF (typed by its content), 10 MB at most.",
                    )
                },
                required=[attachments.FIELD],
            )
        )
    },
)


class ContactDisputes(Controller):
    path = "/v1/contact/disputes"
    tags = ["contact"]  # noqa: RUF012
    dependencies = {"contact": Provide(bearer_contact)}  # noqa: RUF012

    @post("/", responses=problem_responses(TooManyRequests))
    async def file(
        self,
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        contact: NamedDependency[ContactSession],
        data: JSONBody[DisputeRequest],
    ) -> Filed:
        """File a complaint; it gets a reference like D-2026-7KQ3M9 to follow it by."""
        return await intake.file_dispute(conn, contact, data, settings)

    @get("/")
    async def mine(
        self, conn: NamedDependency[Connection], contact: NamedDependency[ContactSession]
    ) -> dict[str, list[DisputeSummary]]:
        """The complaints this contact has filed, newest first."""
        return {"items": await contact_disputes(conn, contact.phone_key)}

    @get("/{ref:str}")
    async def show(
        self, conn: NamedDependency[Connection], contact: NamedDependency[ContactSession], ref: FromPath[str]
    ) -> ContactDispute:
        """Status and the contact-visible timeline."""
        return await intake.contact_view(conn, contact, ref)

    @delete("/{ref:str}", status_code=200, responses=problem_responses(Conflict))
    async def withdraw(
        self, conn: NamedDependency[Connection], contact: NamedDependency[ContactSession], ref: FromPath[str]
    ) -> ContactDispute:
        """Withdraw a complaint that is not decided yet."""
        await intake.withdraw(conn, contact, ref)
        return await intake.contact_view(conn, contact, ref)

    @post(
        "/{ref:str}/attachments",
        request_max_body_size=attachments.UPLOAD_MAX_BODY,
        responses=problem_responses(Conflict),
        # The form is read by hand (after the connection dependency has read the whole body), so
        # the document is told its shape (registry/apidocs/document.py reads `request_body`).
        opt={"request_body": UPLOAD_FORM},
    )
    async def attach(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        contact: NamedDependency[ContactSession],
        ref: FromPath[str],
    ) -> Attachment:
        """Multipart field `file`: an audio recording, an image or a PDF, 10 MB at most."""
        form = await request.form()
        upload = form.get(attachments.FIELD)
        if not isinstance(upload, UploadFile):
            raise InvalidInput(attachments.FIELD, "send the file as multipart/form-data field 'file'")
        data = await attachments.read_upload(upload)
        return await attachments.attach(conn, contact, ref, upload.filename, data)


class AgencyDisputes(Controller):
    path = "/v1/disputes"
    tags = ["agency"]  # noqa: RUF012
    guards = AGENCY_GUARDS
    dependencies = AGENCY_DEPENDENCIES

    @get("/")
    async def list_own(
        self,
        conn: NamedDependency[Connection],
        caller: NamedDependency[Caller],
        status: FromQuery[Status | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> dict[str, list[AgencyDispute]]:
        """Complaints against this agency (the contact only as a masked hint)."""
        if caller.sandbox:
            return {"items": []}  # complaints are about real calls; a sandbox key sees none
        return {"items": await answers.agency_disputes(conn, caller.agency_id, status, limit)}

    @get("/{ref:str}")
    async def show(
        self, conn: NamedDependency[Connection], caller: NamedDependency[Caller], ref: FromPath[str]
    ) -> AgencyDispute:
        _no_sandbox(caller)
        return await answers.agency_view(conn, caller.agency_id, ref)

    @post("/{ref:str}/responses", responses=problem_responses(Conflict))
    async def respond(
        self,
        conn: NamedDependency[Connection],
        caller: NamedDependency[Caller],
        ref: FromPath[str],
        data: JSONBody[ResponseRequest],
    ) -> AgencyDispute:
        """The agency's answer, due within 7 days; the first one sends the case to review.

        The contact who complained reads this text on her complaint's timeline: she is a party to it.
        """
        _no_sandbox(caller)
        return await answers.respond(conn, caller.agency_id, caller.key_id, ref, data.text)


def _no_sandbox(caller: Caller) -> None:
    """A sandbox key neither reads nor answers a real complaint: to it, none exists."""
    if caller.sandbox:
        raise NotFound("no such dispute", code="unknown_dispute")


class AdminDisputes(Controller):
    path = "/v1/admin/disputes"
    tags = ["admin"]  # noqa: RUF012
    dependencies = API_STAFF

    @get("/")
    async def queue(
        self,
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        status: FromQuery[Status | None] = None,
        agency_id: FromQuery[UUID | None] = None,
        overdue: FromQuery[bool | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        # Bounded: past PostgreSQL's bigint an offset was a 500 (schemathesis found it); no queue is this long.
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
    ) -> dict[str, list[QueueItem]]:
        """The review queue: pending first, soonest decision deadline first."""
        items = await review.queue(
            conn, status=status, agency_id=agency_id, overdue=overdue, limit=limit, offset=offset
        )
        return {"items": items}

    @get("/{ref:str}")
    async def case(
        self, conn: NamedDependency[Connection], staff: NamedDependency[Staff], ref: FromPath[str]
    ) -> AdminDispute:
        """The case with its evidence (checks, permits, attempts, rule history) and full timeline."""
        return await review.admin_view(conn, ref)

    # 403: a reviewer may decide, but not suspend the agency with it (direct suspension is admin-only).
    @post("/{ref:str}/decision", status_code=200, responses=problem_responses(Conflict, Forbidden))
    async def decide(
        self,
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        ref: FromPath[str],
        data: JSONBody[DecisionRequest],
    ) -> AdminDispute:
        """Uphold or dismiss, with a note; an upheld case may warn or suspend the agency."""
        await review.decide(conn, ref, data, staff)
        return await review.admin_view(conn, ref)

    @get("/{ref:str}/attachments/{attachment_id:uuid}")
    async def attachment(
        self,
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        ref: FromPath[str],
        attachment_id: FromPath[UUID],
    ) -> Response[bytes]:
        return attachments.download(await attachments.content(conn, ref, attachment_id))


ROUTES: list[ControllerRouterHandler] = [ContactDisputes, AgencyDisputes, AdminDisputes, *pages, *staff_pages]
