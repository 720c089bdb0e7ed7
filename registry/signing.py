"""The registry's signature: an Ed25519 key that signs what others must be able to check offline.

Today it signs the audit chain's head (so a deleted tail shows against a saved head); the
agency receipts use the same key. JWS compact serialization through joserfc, with the
fully specified algorithm name `Ed25519` (RFC 9864; the older name for the same thing is
`EdDSA` with an Ed25519 key) and the key's RFC 7638 thumbprint as `kid`. The public keys
are published as a JWK Set at /.well-known/jwks.json.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from joserfc import jws
from joserfc.jwk import OKPKey

from registry.settings import Settings

ALGORITHM = "Ed25519"
KEY_FILE = "receipt-key.hex"


class SignatureInvalid(Exception):
    """A token that this key did not sign, or that was changed after signing."""


def _seed(settings: Settings) -> bytes:
    """REGISTRY_RECEIPT_KEY in production; in development a seed generated once into the data dir."""
    if settings.receipt_key:
        return settings.receipt_key[:32]
    path = settings.data_dir / KEY_FILE
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
def _key_from_seed(seed: bytes) -> OKPKey:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    return OKPKey.import_key(pem)


def signing_key(settings: Settings) -> OKPKey:
    return _key_from_seed(_seed(settings))


def key_id(settings: Settings) -> str:
    return signing_key(settings).thumbprint()


def sign(settings: Settings, payload: dict[str, Any]) -> str:
    """A compact JWS over the payload's JSON (keys sorted, so the bytes are reproducible)."""
    key = signing_key(settings)
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    return jws.serialize_compact({"alg": ALGORITHM, "kid": key.thumbprint()}, body, key, algorithms=[ALGORITHM])


def jwks(settings: Settings) -> dict[str, Any]:
    """The public keys, as a JWK Set (rotation will list the old ones beside the current)."""
    public = signing_key(settings).as_dict(private=False)
    return {"keys": [{**public, "kid": key_id(settings), "alg": ALGORITHM, "use": "sig"}]}


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
    raise SignatureInvalid("no key with this kid")
