"""Request bodies of the admin API."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta


class StaffSessionRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    username: Annotated[str, Meta(min_length=1, max_length=64)]
    password: Annotated[str, Meta(min_length=1, max_length=1024)]


class AgencyRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    credit_code: Annotated[str, Meta(min_length=1, max_length=40)]


class StatusChange(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(max_length=1000)] = ""


class NoticeBudget(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """An agency's own daily notice budget; null returns it to REGISTRY_NOTICE_DAILY_PER_AGENCY."""

    daily: Annotated[int, Meta(ge=0, le=1_000_000)] | None
