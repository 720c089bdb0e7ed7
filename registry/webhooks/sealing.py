"""Webhook signing secrets: made once, shown once, kept sealed so the worker can sign with them later.

A secret that signs must be readable again, so unlike API keys it cannot be stored as a hash.
It is sealed with AES-GCM under a key derived from the session key (REGISTRY_SESSION_KEY in
production, the generated development secrets file otherwise), with the agency's id as
associated data: a sealed secret copied onto another agency's row does not open.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "whsec_"
NONCE = 12


class UnreadableSecret(Exception):
    """The sealed secret does not open under this key (the session key changed)."""


def new_secret() -> bytes:
    """32 random bytes, as the Standard Webhooks spec asks."""
    return secrets.token_bytes(32)


def shown(secret: bytes) -> str:
    """The form an agency is given and its Standard Webhooks library takes: `whsec_` + base64."""
    return PREFIX + base64.b64encode(secret).decode()


class SecretSealer:
    def __init__(self, session_key: bytes) -> None:
        self._aead = AESGCM(hmac.new(session_key, b"registry webhook secrets", hashlib.sha256).digest())

    def seal(self, agency_id: UUID, secret: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, secret, agency_id.bytes)

    def open(self, agency_id: UUID, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], agency_id.bytes)
        except (InvalidTag, ValueError):
            raise UnreadableSecret("the webhook secret does not open under this session key") from None


@functools.lru_cache(maxsize=4)
def sealer_for(session_key: bytes) -> SecretSealer:
    return SecretSealer(session_key)
