"""What the webhook routes take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from registry.webhooks.events import Event

Status = Literal["pending", "delivered", "failed", "dropped"]


class WebhookRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    url: Annotated[str, Meta(min_length=1, max_length=2000)]
    events: Annotated[list[Event], Meta(min_length=1, max_length=3)]


class SampleRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    event: Event


class Sample(msgspec.Struct, kw_only=True, frozen=True):
    """A sample event was queued for the sandbox webhook; its delivery shows in /v1/webhook/deliveries."""

    event: Event
    queued: bool


class Webhook(msgspec.Struct, kw_only=True, frozen=True):
    """The registered webhook; `secret` is shown here once (a new PUT makes a new one)."""

    url: str
    events: list[Event]
    secret: str


class Delivery(msgspec.Struct, kw_only=True, frozen=True):
    """One event for your webhook: `id` is the `webhook-id` header it is sent with."""

    id: UUID
    event: Event
    status: Status
    attempts: int
    last_error: str | None
    next_try_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


class Deliveries(msgspec.Struct, kw_only=True, frozen=True):
    items: list[Delivery]
