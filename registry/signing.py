"""The registry's signature: an Ed25519 key that signs what others must be able to check offline.

It signs the audit chain's head (so a deleted tail shows against a saved head) and every
check answer's receipt. JWS compact serialization (RFC 7515) with the fully specified algorithm
name `Ed25519` (RFC 9864; older libraries call the same signature `EdDSA` with an Ed25519 key,
which joserfc now warns is deprecated) and the key's RFC 7638 thumbprint as `kid`. The public keys are published as a
JWK Set at /.well-known/jwks.json: the current one and, after a rotation, the retired ones
named in REGISTRY_RECEIPT_RETIRED_KEYS, so receipts signed before the rotation still verify.

Signing is on the check's hot path, so it is done with `cryptography` directly: the key object
is made once per seed, the protected header is encoded once, and each signature is one Ed25519
operation (deterministic: the same payload always gives the same token). joserfc verifies.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jws
from joserfc.jwk import OKPKey

from registry.settings import Settings

ALGORITHM = "Ed25519"
KEY_FILE = "receipt-key.hex"


class SignatureInvalid(Exception):
    """A token that none of the keys signed, or that was changed after signing."""


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(public: bytes) -> dict[str, Any]:
    """The JWK of a 32-byte Ed25519 public key, with its RFC 7638 thumbprint as `kid`."""
    x = b64url(public)
    # RFC 7638: the required members, sorted, no whitespace; for an OKP key crv, kty, x.
    members = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":")).encode()
    kid = b64url(hashlib.sha256(members).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": ALGORITHM, "use": "sig"}


class Signer:
    """One Ed25519 key, ready to sign: the key object and the encoded header are made once."""

    def __init__(self, seed: bytes) -> None:
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        public = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.jwk = public_jwk(public)
        self.kid: str = self.jwk["kid"]
        header = json.dumps({"alg": ALGORITHM, "kid": self.kid}, separators=(",", ":")).encode()
        self._header = base64.urlsafe_b64encode(header).rstrip(b"=")

    def sign(self, payload: dict[str, Any]) -> str:
        """A compact JWS over the payload's JSON: keys sorted and no whitespace, so the bytes are reproducible
        (datetimes and ids written as the API writes them)."""
        body = base64.urlsafe_b64encode(msgspec.json.encode(payload, order="sorted")).rstrip(b"=")
        signing_input = self._header + b"." + body
        signature = base64.urlsafe_b64encode(self._private.sign(signing_input)).rstrip(b"=")
        return (signing_input + b"." + signature).decode()


def _seed(settings: Settings) -> bytes:
    """REGISTRY_RECEIPT_KEY in production; in development a seed generated once into the data dir."""
    if settings.receipt_key:
        return settings.receipt_key[:32]
    return _development_seed(settings.data_dir)


@functools.cache
def _development_seed(data_dir: Path) -> bytes:
    """Read once per process: every check signs, and a file read per check is a cost on its path."""
    path = data_dir / KEY_FILE
    if not path.exists():
        _write_private(path, os.urandom(32).hex())
    return bytes.fromhex(path.read_text().strip())


def _write_private(path: Path, text: str) -> None:
    """Mode 0600, linked into place so two processes starting at once agree on one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    try:
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        temp.unlink()


@functools.cache
def _signer_for(seed: bytes) -> Signer:
    return Signer(seed)


def signer(settings: Settings) -> Signer:
    return _signer_for(_seed(settings))


def key_id(settings: Settings) -> str:
    return signer(settings).kid


def sign(settings: Settings, payload: dict[str, Any]) -> str:
    """A compact JWS over the payload with the current key (see Signer.sign)."""
    return signer(settings).sign(payload)


def jwks(settings: Settings) -> dict[str, Any]:
    """The public keys as a JWK Set: the current key first, then the retired ones (still valid for old receipts)."""
    current = signer(settings).jwk
    retired = [public_jwk(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))) for x in settings.receipt_retired_keys]
    return {"keys": [current, *(k for k in retired if k["kid"] != current["kid"])]}


def verify(token: str, key_set: dict[str, Any]) -> dict[str, Any]:
    """The payload of a token signed by one of the keys in `key_set`; SignatureInvalid otherwise."""
    try:
        header = jws.extract_compact(token.encode()).headers()
        for jwk in key_set.get("keys", []):
            if jwk.get("kid") == header.get("kid"):
                public = OKPKey.import_key({k: v for k, v in jwk.items() if k in ("kty", "crv", "x")})
                payload: dict[str, Any] = json.loads(
                    jws.deserialize_compact(token, public, algorithms=[ALGORITHM]).payload
                )
                return payload
    except Exception as exc:  # joserfc raises several kinds for a bad token; all mean the same here
        raise SignatureInvalid(str(exc)) from exc
    raise SignatureInvalid("no published key has this token's kid")
