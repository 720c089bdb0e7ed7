"""Public: the registry's public keys, and the audit chain's head signed with them.

Save a signed head now and then; `registry audit verify --head FILE` (or anyone holding
the keys) can later show that rows up to it were not deleted or rewritten.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.types import ControllerRouterHandler

from registry import audit, signing
from registry.database import Connection
from registry.settings import Settings


class SignedHead(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    hash: str
    at: datetime
    signed_at: datetime
    # A compact JWS over {seq, hash, at, signed_at}; keys at /.well-known/jwks.json.
    signature: str


@get("/v1/audit/head", tags=["public"])
async def audit_head(conn: NamedDependency[Connection], settings: NamedDependency[Settings]) -> SignedHead:
    """The newest row of the hash-chained audit log (its sequence number and hash), signed."""
    head = await audit.head(conn)
    signed_at = datetime.now(UTC)
    payload = {"seq": head.seq, "hash": head.hash, "at": head.at.isoformat(), "signed_at": signed_at.isoformat()}
    return SignedHead(
        seq=head.seq, hash=head.hash, at=head.at, signed_at=signed_at, signature=signing.sign(settings, payload)
    )


@get("/.well-known/jwks.json", tags=["public"], sync_to_thread=False)
def public_keys(settings: NamedDependency[Settings]) -> dict[str, Any]:
    """The public keys that sign the audit head and receipts (a JWK Set)."""
    return signing.jwks(settings)


ROUTES: list[ControllerRouterHandler] = [audit_head, public_keys]
