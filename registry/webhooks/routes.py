"""The agency's webhook: register it (the secret is shown once), remove it, see its recent deliveries."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from registry.agencies.guard import AGENCY_DEPENDENCIES, AGENCY_GUARDS
from registry.agencies.queries import Caller
from registry.database import Connection
from registry.errors import Forbidden, InvalidInput
from registry.settings import Settings
from registry.webhooks import addresses, queries, sealing
from registry.webhooks.schemas import Deliveries, Webhook, WebhookRequest


class WebhookApi(Controller):
    path = "/v1/webhook"
    tags = ["agency"]  # noqa: RUF012
    guards = AGENCY_GUARDS
    dependencies = AGENCY_DEPENDENCIES

    @put("/", status_code=200)
    async def set_webhook(
        self,
        data: JSONBody[WebhookRequest],
        caller: NamedDependency[Caller],
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
    ) -> Webhook:
        """Register (or replace) your webhook; the answer holds its signing secret, shown this once."""
        _real_key_only(caller)
        try:
            await addresses.check(data.url, production=settings.production)
        except addresses.RefusedUrl as exc:
            raise InvalidInput("url", str(exc), code="webhook_url_refused") from None
        events = list(dict.fromkeys(data.events))
        secret = sealing.new_secret()
        sealed = sealing.sealer_for(settings.session_key).seal(caller.agency_id, secret)
        await queries.set_webhook(conn, caller.agency_id, f"key:{caller.key_id}", data.url, events, sealed)
        return Webhook(url=data.url, events=events, secret=sealing.shown(secret))

    @delete("/", status_code=204)
    async def delete_webhook(self, caller: NamedDependency[Caller], conn: NamedDependency[Connection]) -> None:
        """Stop webhooks (whether or not one was registered); deliveries still waiting are dropped."""
        _real_key_only(caller)
        await queries.delete_webhook(conn, caller.agency_id, f"key:{caller.key_id}")

    @get("/deliveries")
    async def deliveries(
        self,
        caller: NamedDependency[Caller],
        conn: NamedDependency[Connection],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> Deliveries:
        """Your most recent deliveries, newest first: status, attempts, the last error and the next try."""
        _real_key_only(caller)
        return Deliveries(items=await queries.deliveries(conn, caller.agency_id, limit))


def _real_key_only(caller: Caller) -> None:
    """A sandbox key may not see or change the agency's real webhook (no real event ever concerns it)."""
    if caller.sandbox:
        raise Forbidden("a sandbox key (rk_test_) has no webhook; use a real key", code="sandbox_key")


ROUTES: list[ControllerRouterHandler] = [WebhookApi]
