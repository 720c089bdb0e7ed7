"""The contact JSON API: codes, sessions, rules, me, erasure."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from litestar import Controller, Request, delete, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler

from registry.clients import client_address
from registry.contacts import codes, inbound, me, rules
from registry.contacts.inbound import InboundResult, InboundSms
from registry.contacts.pages import ROUTES as pages
from registry.contacts.schemas import CodeRequest, CodeSent, ContactSessionRequest, Me, RuleChange, RuleRequest
from registry.contacts.words import worded_change
from registry.database import Connection
from registry.errors import InvalidInput, TooManyRequests, Unauthorized, problem_responses
from registry.pages.i18n import Texts, negotiate
from registry.sessions.contact import ContactSession, SessionToken, bearer_contact, end_session
from registry.settings import Settings
from registry.sms import signed_by


def texts_for(request: Request[Any, Any, Any]) -> Texts:
    """Receipts are worded in the caller's Accept-Language (Chinese by default)."""
    settings: Settings = request.app.state.settings
    return Texts(negotiate(request.headers.get("accept-language")), settings.jurisdiction.display_zone)


class ContactController(Controller):
    """Every route but the first two (ask for a code, trade it for a session) asks for `contact`."""

    path = "/v1/contact"
    tags = ["contact"]  # noqa: RUF012
    dependencies = {"contact": Provide(bearer_contact)}  # noqa: RUF012

    @post("/codes", status_code=202, responses=problem_responses(TooManyRequests))
    async def request_code(
        self,
        data: JSONBody[CodeRequest],
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
    ) -> CodeSent:
        """Send a 6-digit code by SMS, valid 10 minutes; the same answer for every valid number."""
        return await codes.send_code(conn, settings, data.phone, client_address(request))

    @post("/sessions", status_code=201, responses=problem_responses(Unauthorized, TooManyRequests))
    async def open_session(
        self,
        data: JSONBody[ContactSessionRequest],
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
    ) -> SessionToken:
        """Trade the code for a session token; 401 when wrong, and the fifth wrong try voids the code."""
        return await codes.open_session(conn, settings, data.phone, data.code, client_address(request))

    @delete("/sessions", status_code=204)
    async def close_session(self, conn: NamedDependency[Connection], contact: NamedDependency[ContactSession]) -> None:
        """Log out: the token stops working."""
        await end_session(conn, contact)

    @get("/me")
    async def show_me(self, conn: NamedDependency[Connection], contact: NamedDependency[ContactSession]) -> Me:
        """The masked number, rules with their state, the last 90 days of checks, and complaints."""
        return await me.me(conn, contact)

    @delete("/me", status_code=204)
    async def erase_me(
        self,
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        contact: NamedDependency[ContactSession],
    ) -> None:
        """Erase rules and sessions, which also ends the protection; logs and complaints stay."""
        await me.erase(conn, settings, contact)

    @post("/rules", status_code=201)
    async def add_rule(
        self,
        data: JSONBody[RuleRequest],
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        contact: NamedDependency[ContactSession],
    ) -> RuleChange:
        """Refuse (all agencies or one) or consent (an agency and/or a borrower, until a date); with a receipt."""
        return worded_change(await rules.add_rule(conn, settings, contact, data), texts_for(request))

    @delete("/rules/{rule_id:uuid}", status_code=200)
    async def withdraw_rule(
        self,
        rule_id: FromPath[UUID],
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        contact: NamedDependency[ContactSession],
    ) -> RuleChange:
        """Withdraw a rule; with a receipt."""
        return worded_change(await rules.withdraw_rule(conn, settings, contact, rule_id), texts_for(request))


async def signed_by_gateway(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The body must carry the gateway's signature (`X-Registry-Signature: sha256=<hex HMAC>` under
    REGISTRY_SMS_WEBHOOK_SECRET), checked on the raw bytes before anything reads them."""
    settings: Settings = connection.app.state.settings
    body = await cast("Request[Any, Any, Any]", connection).body()
    if not signed_by(settings.sms_webhook_secret, body, connection.headers.get("x-registry-signature")):
        raise Unauthorized("missing or bad X-Registry-Signature", code="bad_signature")


class SmsInbound(Controller):
    """For the SMS gateway: what contacts text back to us."""

    path = "/v1/sms"
    tags = ["sms"]  # noqa: RUF012
    guards = [signed_by_gateway]  # noqa: RUF012
    # The API document's name for the signature (registry/apidocs/document.py), so it documents the 401.
    security = [{"GatewaySignature": []}]  # noqa: RUF012

    @post("/inbound", status_code=200)
    async def inbound(
        self, data: JSONBody[InboundSms], conn: NamedDependency[Connection], settings: NamedDependency[Settings]
    ) -> InboundResult:
        """A reply from a contact, posted by the gateway and signed like our webhook (HMAC-SHA256 of the raw
        body, `X-Registry-Signature: sha256=<hex>`; 401 otherwise). `TD`, `拒绝`, `R` or `N` (any case, full
        width too, other text around it) refuses all agencies and sends a confirmation SMS with the
        receipt's reference; anything else gets a help reply, at most one a day per number. The same `id`
        posted again answers the same and does nothing more."""
        if data.received_at.tzinfo is None:
            raise InvalidInput("received_at", "needs a UTC offset, e.g. 2026-06-01T09:30:00Z")
        return await inbound.receive(conn, settings, data)


ROUTES: list[ControllerRouterHandler] = [ContactController, SmsInbound, *pages]
