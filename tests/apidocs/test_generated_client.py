"""A client generated from the live OpenAPI document, as an agency's developer would make one, round-trips.

`openapi-python-client` reads /schema/openapi.json from the running service (real HTTP), writes a
Python package into the test's directory, and that package, unchanged, makes a check, reports the
call and reads the changes feed. A document the generator cannot read whole fails here: it must
generate without a warning.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from registry.database import Connection
from tests.conftest import LiveServer
from tests.factories import auth, contact_session, make_agency_with_key

CONTACT = "+8613800138000"
PACKAGE = "registry_client"


async def generate(server: LiveServer, into: Path) -> None:
    # The generator formats its output with ruff and warns when it cannot find it: the venv's is on PATH.
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "openapi-python-client"),
        "generate",
        "--url",
        f"{server.url}/schema/openapi.json",
        "--output-path",
        str(into / PACKAGE),
        "--meta",
        "none",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    said = output.decode()
    assert process.returncode == 0, said
    assert "Warning" not in said and "Unable to parse" not in said, said


@pytest.fixture
def importable(tmp_path: Path) -> Iterator[Path]:
    """tmp_path on sys.path while the test runs, and the generated modules forgotten after it."""
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


async def test_a_generated_client_checks_reports_and_reads_the_feed(
    live_server: LiveServer, api: httpx.AsyncClient, conn: Connection, importable: Path
) -> None:
    _, key = await make_agency_with_key(conn)
    await generate(live_server, importable)
    client_module = module("client")
    models = module("models")
    check_call = module("api.agency.v1_checks_check")
    attempt_call = module("api.agency.v1_attempts_attempt")
    changes_call = module("api.agency.v1_changes_changes")

    client: Any = client_module.AuthenticatedClient(base_url=live_server.url, token=key.key)
    async with client as agency:
        checked = await check_call.asyncio(client=agency, body=models.CheckRequest(phone=CONTACT))
        assert isinstance(checked, models.CheckResult), checked
        assert (checked.decision.value, checked.phone) == ("allow", CONTACT)
        assert checked.receipt.count(".") == 2  # a compact JWS

        reported = await attempt_call.asyncio(
            client=agency,
            body=models.AttemptRequest(
                check_id=checked.check_id,
                occurred_at=datetime.now(UTC),
                channel=models.AttemptRequestChannel.CALL,
                outcome="no answer",
            ),
            idempotency_key="call-1",
        )
        assert isinstance(reported, models.AttemptResult), reported
        assert reported.compliant is True

        # The contact refuses afterwards: the permit's revocation is in the feed the client reads.
        token = await contact_session(conn, CONTACT)
        refused = await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(token))
        assert refused.status_code == 201, refused.text
        page = await changes_call.asyncio(client=agency)
        assert isinstance(page, models.ChangesPage), page
        assert [(item.check_id, item.reason) for item in page.items] == [(checked.check_id, "refused")]
        assert page.next_  # `next` is a Python builtin, so the generator names it `next_`

        # Errors come back as the document's Problem model, with the field named.
        bad = await check_call.asyncio(client=agency, body=models.CheckRequest(phone="not a number"))
        assert isinstance(bad, models.Problem), bad
        assert bad.status == 422 and [error.field for error in bad.errors] == ["phone"]
