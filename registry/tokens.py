"""Secrets handed to people (API keys, session tokens, codes): made random, kept only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token(prefix: str) -> str:
    """A 256-bit random token with a readable prefix such as `rk_live_`."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    """Tokens are 256-bit random, so SHA-256 is enough to store them; lookup is by this hash."""
    return hashlib.sha256(token.encode()).digest()


def keyed_hash(secret: bytes, value: str) -> bytes:
    """HMAC for low-entropy values (6-digit codes, client addresses) so a table dump cannot be brute-forced."""
    return hmac.new(secret, value.encode(), hashlib.sha256).digest()


def same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
