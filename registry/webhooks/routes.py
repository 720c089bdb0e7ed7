"""The agency's webhook: register it (the secret is shown once), remove it, see its recent deliveries."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from registry.agencies.guard import AGENCY_DEPENDENCIES, AGENCY_GUARDS
from registry.agencies.queries import Caller
from registry.database import Connection
from registry.errors import Conflict, Forbidden, InvalidInput, problem_responses
from registry.settings import Settings
from registry.webhooks import addresses, events, queries, samples, sealing
from registry.webhooks.schemas import Deliveries, Sample, SampleRequest, Webhook, WebhookRequest


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
        """Register (or replace) your webhook; the answer holds its signing secret, shown this once.

        A sandbox key (rk_test_) registers the sandbox's own webhook, apart from the real one.
        """
        try:
            await addresses.check(data.url, production=settings.production)
        except addresses.RefusedUrl as exc:
            raise InvalidInput("url", str(exc), code="webhook_url_refused") from None
        events = list(dict.fromkeys(data.events))
        secret = sealing.new_secret()
        sealed = sealing.sealer_for(settings.session_key).seal(caller.agency_id, secret)
        await queries.set_webhook(
            conn, caller.agency_id, f"key:{caller.key_id}", data.url, events, sealed, sandbox=caller.sandbox
        )
        return Webhook(url=data.url, events=events, secret=sealing.shown(secret))

    @delete("/", status_code=204)
    async def delete_webhook(self, caller: NamedDependency[Caller], conn: NamedDependency[Connection]) -> None:
        """Stop webhooks (whether or not one was registered); deliveries still waiting are dropped."""
        await queries.delete_webhook(conn, caller.agency_id, f"key:{caller.key_id}", sandbox=caller.sandbox)

    @get("/deliveries")
    async def deliveries(
        self,
        caller: NamedDependency[Caller],
        conn: NamedDependency[Connection],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> Deliveries:
        """Your most recent deliveries, newest first: status, attempts, the last error and the next try."""
        return Deliveries(items=await queries.deliveries(conn, caller.agency_id, limit, sandbox=caller.sandbox))

    # 403: a real key (sample events exist only in the sandbox); 409: no sandbox webhook wants this event.
    @post("/test", status_code=202, responses=problem_responses(Forbidden, Conflict))
    async def send_sample(
        self, data: JSONBody[SampleRequest], caller: NamedDependency[Caller], conn: NamedDependency[Connection]
    ) -> Sample:
        """Sandbox keys only: queue a sample event for the sandbox webhook, signed and delivered like a real one."""
        if not caller.sandbox:
            raise Forbidden(
                "sample events are for sandbox keys (rk_test_): a real key's webhook gets only real events",
                code="sandbox_only",
            )
        async with conn.transaction():
            queued = await events.queue(
                conn, data.event, [(caller.agency_id, samples.sample(data.event))], sandbox=True
            )
        if not queued:
            raise Conflict(
                f"no sandbox webhook asks for {data.event}: PUT /v1/webhook with this key first",
                code="no_sandbox_webhook",
            )
        return Sample(event=data.event, queued=True)


ROUTES: list[ControllerRouterHandler] = [WebhookApi]
