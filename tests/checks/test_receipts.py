"""Signed receipts: every check answer carries one, it verifies with the published keys, and one changed
byte (in the receipt or in the answer beside it) makes it fail; old keys stay published after a rotation."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import KeySet

from registry import receipts, signing
from registry.database import Connection
from registry.settings import Settings, SettingsError
from tests.factories import add_rule, bearer, make_agency_with_key

CONTACT = "13800138000"


def flip(text: str, at: int) -> str:
    """The text with the character at `at` replaced by another base64url character."""
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def changed_receipt(token: str) -> list[str]:
    """One character changed in the middle of the payload, and one in the middle of the signature."""
    header, payload, signature = token.split(".")
    return [
        ".".join([header, flip(payload, len(payload) // 2), signature]),
        ".".join([header, payload, flip(signature, len(signature) // 2)]),
    ]


async def test_a_check_receipt_verifies_with_the_published_key_and_fails_after_one_changed_byte(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    agency, key = await make_agency_with_key(conn)
    await add_rule(conn, "13900139000", "refuse")
    allowed = (await api.post("/v1/checks", json={"phone": CONTACT}, headers=bearer(key))).json()
    refused = (await api.post("/v1/checks", json={"phone": "13900139000"}, headers=bearer(key))).json()
    keys = (await api.get("/.well-known/jwks.json")).json()

    for answer in (allowed, refused):
        proof = receipts.verify_answer(answer, keys)
        claims = proof.claims
        assert claims["agency_id"] == str(agency.id)
        assert {k: claims[k] for k in receipts.CHECK_FIELDS if k in claims} == {
            k: answer[k] for k in receipts.CHECK_FIELDS if k in answer
        }
        assert proof.sandbox is False and "sandbox" not in claims
        for forged in changed_receipt(answer["receipt"]):
            with pytest.raises(signing.SignatureInvalid):
                receipts.verify_answer(answer | {"receipt": forged}, keys)
    assert "valid_until" in allowed and "valid_until" in allowed_claims(allowed, keys)
    assert "valid_until" not in refused and "valid_until" not in allowed_claims(refused, keys)

    # The answer changed beside a genuine receipt: "deny" made "allow", one digit of the number.
    for field, value in (("decision", "allow"), ("phone", refused["phone"][:-1] + "1")):
        with pytest.raises(receipts.ReceiptMismatch, match=field):
            receipts.verify_answer(refused | {field: value}, keys)

    # Any standard JOSE library verifies it: joserfc with the JWK Set, kid in the header.
    token = jws.deserialize_compact(allowed["receipt"], KeySet.import_key_set(keys), algorithms=["Ed25519"])
    assert token.headers()["kid"] == keys["keys"][0]["kid"]
    assert json.loads(token.payload)["check_id"] == allowed["check_id"]


def allowed_claims(answer: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    return receipts.verify_answer(answer, keys).claims


async def test_a_batch_receipt_covers_every_answer_in_order_and_no_error(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    agency, key = await make_agency_with_key(conn)
    items = [{"phone": CONTACT}, {"phone": "not a number"}, {"phone": "13900139000"}, {"phone": CONTACT}]
    answer = (await api.post("/v1/checks/batch", json={"items": items}, headers=bearer(key))).json()
    keys = (await api.get("/.well-known/jwks.json")).json()
    proof = receipts.verify_answer(answer, keys)
    answered = [r for r in answer["results"] if r["status"] == "answered"]
    lines = "".join(f"{r['check_id']},{r['phone']},{r['decision']},{r['reason']}\n" for r in answered)
    assert proof.claims == {
        "batch_id": answer["batch_id"],
        "agency_id": str(agency.id),
        "checked_at": answer["checked_at"],
        "count": 3,
        "results_sha256": hashlib.sha256(lines.encode()).hexdigest(),
    }
    assert proof.kind == "batch" and "receipt" not in answered[0]

    for forged in changed_receipt(answer["receipt"]):
        with pytest.raises(signing.SignatureInvalid):
            receipts.verify_answer(answer | {"receipt": forged}, keys)
    # One byte of one answer, the order of two answers, a dropped answer: each breaks the digest.
    one_byte = copy.deepcopy(answer)
    one_byte["results"][2]["phone"] = one_byte["results"][2]["phone"].replace("9000", "9001")
    swapped = copy.deepcopy(answer)
    swapped["results"][0], swapped["results"][2] = swapped["results"][2], swapped["results"][0]
    dropped = copy.deepcopy(answer)
    del dropped["results"][3]
    for changed in (one_byte, swapped, dropped):
        with pytest.raises(receipts.ReceiptMismatch):
            receipts.verify_answer(changed, keys)


async def test_registry_receipt_verify_says_what_a_saved_answer_proves(
    api: httpx.AsyncClient, conn: Connection, tmp_path: Path
) -> None:
    _, key = await make_agency_with_key(conn)
    answer = (await api.post("/v1/checks", json={"phone": CONTACT}, headers=bearer(key))).json()
    saved, keys = tmp_path / "answer.json", tmp_path / "jwks.json"
    saved.write_text(json.dumps(answer))
    keys.write_text((await api.get("/.well-known/jwks.json")).text)

    async def verify(*args: str) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        environment["REGISTRY_DATA_DIR"] = str(tmp_path / "cli-data")
        # In a thread: the live server answering the URL runs in this test's event loop.
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "registry", "receipt", "verify", str(saved), *args],
            capture_output=True,
            text=True,
            env=environment,
            timeout=60,
            check=False,
        )

    ok = await verify("--keys", str(keys))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("VALID.") and answer["check_id"] in ok.stdout and "+8613800138000" in ok.stdout
    assert "does not prove a call was made" in ok.stdout
    # Straight from the service's URL too.
    assert (await verify("--keys", str(api.base_url.join("/.well-known/jwks.json")))).returncode == 0

    saved.write_text(json.dumps(answer).replace('"allow"', '"deny"'))
    changed = await verify("--keys", str(keys))
    assert changed.returncode == 1 and "NOT VALID" in changed.stdout and "decision" in changed.stdout


def test_after_a_rotation_the_old_key_is_still_published_and_old_receipts_verify(tmp_path: Path) -> None:
    old = Settings(data_dir=tmp_path, receipt_key=bytes.fromhex("aa" * 32))
    receipt = signing.sign(old, {"check_id": "x", "decision": "allow"})
    old_x = signing.jwks(old)["keys"][0]["x"]
    rotated = Settings.from_env(
        {
            "REGISTRY_DATA_DIR": str(tmp_path),
            "REGISTRY_RECEIPT_KEY": "bb" * 32,
            "REGISTRY_RECEIPT_RETIRED_KEYS": old_x,
        }
    )
    published = signing.jwks(rotated)
    assert [k["x"] for k in published["keys"]][1:] == [old_x]
    assert published["keys"][0]["kid"] == signing.key_id(rotated) != signing.key_id(old)
    assert signing.verify(receipt, published) == {"check_id": "x", "decision": "allow"}
    # New receipts are signed with the new key; without the retired key listed the old receipt fails.
    assert signing.verify(signing.sign(rotated, {"n": 1}), published) == {"n": 1}
    with pytest.raises(signing.SignatureInvalid):
        signing.verify(receipt, signing.jwks(Settings(data_dir=tmp_path, receipt_key=bytes.fromhex("bb" * 32))))
    with pytest.raises(SettingsError, match="REGISTRY_RECEIPT_RETIRED_KEYS"):
        Settings.from_env({"REGISTRY_DATA_DIR": str(tmp_path), "REGISTRY_RECEIPT_RETIRED_KEYS": "not-a-key"})
