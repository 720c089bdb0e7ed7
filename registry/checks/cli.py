"""`registry receipt verify FILE`: check a saved check answer's receipt offline (no database needed)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import httpx

from registry.commands import Output
from registry.receipts import ReceiptMismatch, verify_answer
from registry.settings import Settings
from registry.signing import SignatureInvalid

# Exit codes: 0 a genuine receipt about a real contact; 1 not genuine, or the answer was changed;
# 3 a genuine sandbox receipt (a script that tests `$? -eq 0` never takes it for real proof).
SANDBOX_EXIT = 3


def public_keys(where: str | None, settings: Settings) -> dict[str, Any]:
    """The JWK Set from a file, from a URL, or (by default) from this registry's REGISTRY_PUBLIC_URL."""
    source = where or f"{settings.public_url}/.well-known/jwks.json"
    if source.startswith(("https://", "http://")):
        response = httpx.get(source, timeout=10, follow_redirects=False)
        response.raise_for_status()
        keys: dict[str, Any] = response.json()
        return keys
    loaded: dict[str, Any] = json.loads(Path(source).read_text())
    return loaded


def receipt_verify(settings: Settings, args: argparse.Namespace) -> Output:
    answer = json.loads(Path(args.file).read_text())
    try:
        proof = verify_answer(answer, public_keys(args.keys, settings))
    except SignatureInvalid as exc:
        return Output({"ok": False, "reason": f"not a genuine receipt: {exc}"}, f"NOT VALID: {exc}", exit_code=1)
    except ReceiptMismatch as exc:
        return Output({"ok": False, "reason": str(exc)}, f"NOT VALID: the receipt is genuine, but {exc}", exit_code=1)
    data = {"ok": True, "kind": proof.kind, "kid": proof.kid, "sandbox": proof.sandbox, "claims": proof.claims}
    return Output(data, "VALID. " + proof.text, exit_code=SANDBOX_EXIT if proof.sandbox else 0)
