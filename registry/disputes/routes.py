"""Disputes over HTTP: the contact files and follows, the agency answers, reviewers queue and decide."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from registry import tokens
from registry.admin import agencies
from registry.admin.accounts import Staff, provide_staff
from registry.admin.agencies import Caller
from registry.contacts.routes import bearer_contact
from registry.contacts.schemas import ContactSession, DisputeSummary
from registry.database import Connection
from registry.disputes import attachments, queries
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
from registry.errors import InvalidInput
from registry.settings import Settings

# Ten megabytes of file plus the multipart envelope around it.


async def provide_agency(request: Request[Any, Any, Any], conn: NamedDependency[Connection]) -> Caller:
    return await agencies.authenticate(conn, tokens.bearer(request.headers.get("authorization")))


class ContactDisputes(Controller):
    path = "/v1/contact/disputes"
    tags = ["contact"]  # noqa: RUF012
    dependencies = {"contact": Provide(bearer_contact)}  # noqa: RUF012

    @post("/")
    async def file(
        self,
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        contact: NamedDependency[ContactSession],
        data: JSONBody[DisputeRequest],
    ) -> Filed:
        """File a complaint; it gets a reference like D-2026-7KQ3M9 to follow it by."""
        return await queries.file_dispute(conn, contact, data, pepper=settings.pepper, region=settings.default_region)

    @get("/")
    async def mine(
        self, conn: NamedDependency[Connection], contact: NamedDependency[ContactSession]
    ) -> dict[str, list[DisputeSummary]]:
        """The complaints this contact has filed, newest first."""
        return {"items": await queries.contact_disputes(conn, contact.phone_key)}

    @get("/{ref:str}")
    async def show(
        self, conn: NamedDependency[Connection], contact: NamedDependency[ContactSession], ref: FromPath[str]
    ) -> ContactDispute:
        """Status and the contact-visible timeline."""
        return await queries.contact_view(conn, contact, ref)

    @delete("/{ref:str}", status_code=200)
    async def withdraw(
        self, conn: NamedDependency[Connection], contact: NamedDependency[ContactSession], ref: FromPath[str]
    ) -> ContactDispute:
        """Withdraw a complaint that is not decided yet."""
        await queries.withdraw(conn, contact, ref)
        return await queries.contact_view(conn, contact, ref)

    @post("/{ref:str}/attachments", request_max_body_size=attachments.UPLOAD_MAX_BODY)
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
    dependencies = {"caller": Provide(provide_agency)}  # noqa: RUF012

    @get("/")
    async def list_own(
        self,
        conn: NamedDependency[Connection],
        caller: NamedDependency[Caller],
        status: FromQuery[Status | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> dict[str, list[AgencyDispute]]:
        """Complaints against this agency (the contact only as a masked hint)."""
        return {"items": await queries.agency_disputes(conn, caller.agency_id, status, limit)}

    @get("/{ref:str}")
    async def show(
        self, conn: NamedDependency[Connection], caller: NamedDependency[Caller], ref: FromPath[str]
    ) -> AgencyDispute:
        return await queries.agency_view(conn, caller.agency_id, ref)

    @post("/{ref:str}/responses")
    async def respond(
        self,
        conn: NamedDependency[Connection],
        caller: NamedDependency[Caller],
        ref: FromPath[str],
        data: JSONBody[ResponseRequest],
    ) -> AgencyDispute:
        """The agency's answer, due within 7 days; the first one sends the case to review."""
        return await queries.respond(conn, caller.agency_id, caller.key_id, ref, data.text)


class AdminDisputes(Controller):
    path = "/v1/admin/disputes"
    tags = ["admin"]  # noqa: RUF012
    dependencies = {"staff": Provide(provide_staff)}  # noqa: RUF012

    @get("/")
    async def queue(
        self,
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        status: FromQuery[Status | None] = None,
        agency_id: FromQuery[UUID | None] = None,
        overdue: FromQuery[bool | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> dict[str, list[QueueItem]]:
        """The review queue: pending first, soonest decision deadline first."""
        items = await queries.queue(
            conn, status=status, agency_id=agency_id, overdue=overdue, limit=limit, offset=offset
        )
        return {"items": items}

    @get("/{ref:str}")
    async def case(
        self, conn: NamedDependency[Connection], staff: NamedDependency[Staff], ref: FromPath[str]
    ) -> AdminDispute:
        """The case with its evidence (checks, permits, attempts, rule history) and full timeline."""
        return await queries.admin_view(conn, ref)

    @post("/{ref:str}/decision", status_code=200)
    async def decide(
        self,
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        ref: FromPath[str],
        data: JSONBody[DecisionRequest],
    ) -> AdminDispute:
        """Uphold or dismiss, with a note; an upheld case may warn or suspend the agency."""
        await queries.decide(conn, ref, data, staff.admin_id, staff.actor)
        return await queries.admin_view(conn, ref)

    @get("/{ref:str}/attachments/{attachment_id:uuid}")
    async def attachment(
        self,
        conn: NamedDependency[Connection],
        staff: NamedDependency[Staff],
        ref: FromPath[str],
        attachment_id: FromPath[UUID],
    ) -> Response[bytes]:
        stored = await attachments.content(conn, ref, attachment_id)
        return attachment_response(stored)


def attachment_response(stored: attachments.StoredFile) -> Response[bytes]:
    # Always a download, with the type found by content; the uploaded name is only a hint.
    quoted = stored.filename.encode("ascii", "replace").decode().replace('"', "'")
    return Response(
        stored.content,
        media_type=stored.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{quoted}"',
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


def _pages() -> list[ControllerRouterHandler]:
    from registry.disputes.pages import ROUTES as pages

    return pages


ROUTES: list[ControllerRouterHandler] = [ContactDisputes, AgencyDisputes, AdminDisputes, *_pages()]
