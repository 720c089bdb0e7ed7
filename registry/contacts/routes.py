"""The contact JSON API: codes, sessions, rules, me, erasure."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler

from registry.clients import client_address
from registry.contacts import codes, me, rules
from registry.contacts.pages import ROUTES as pages
from registry.contacts.schemas import CodeRequest, CodeSent, Me, RuleChange, RuleRequest, SessionRequest
from registry.contacts.words import worded_change
from registry.database import Connection
from registry.errors import TooManyRequests, Unauthorized, problem_responses
from registry.pages.i18n import Texts, negotiate
from registry.sessions.contact import ContactSession, SessionToken, bearer_contact, end_session
from registry.settings import Settings
from registry.sms import sender_for


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
        return await codes.send_code(conn, settings, sender_for(settings), data.phone, client_address(request))

    @post("/sessions", status_code=201, responses=problem_responses(Unauthorized, TooManyRequests))
    async def open_session(
        self,
        data: JSONBody[SessionRequest],
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


ROUTES: list[ControllerRouterHandler] = [ContactController, *pages]
