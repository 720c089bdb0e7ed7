"""schemathesis against the running service: no server error, and every answer as the document says.

The live server is the real uvicorn app on a socket (as `registry serve`); schemathesis runs as
its own process (its CLI) so the server keeps this test's event loop to itself. It signs each
operation with the credential the document names for it (an agency key, a contact token, a staff
token), so it reaches past the 401s.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import httpx
import msgspec

from registry.database import Connection
from registry.settings import Settings
from registry.tokens import token_hash
from tests.conftest import LiveServer
from tests.factories import add_rule, auth, complaint, contact_session, credit_code, make_agency_with_key, staff_token

# Test cases per operation and phase; about 40 operations. Kept so the whole run stays within about
# a minute on two shared cores (the CI machine's).
MAX_EXAMPLES = 10
SEED = 20260601
# What counts as a failure: a 5xx, or an answer the document does not describe (status, content
# type, body, headers), or bad input accepted, or an operation's credential ignored. Left out:
# positive_data_acceptance, because "valid by the schema" is not valid here (a string is a phone
# number only if it parses as one; 422 is the documented answer), and the checks that need the
# stateful phase (use_after_free, ensure_resource_availability), which is off to bound the run.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "ignored_auth",
]
# Operations that end the credential they are signed with get credentials of their own (another
# contact's session, another staff session), or every case after them would only see 401.
ENDING = {
    "DELETE /v1/contact/sessions": "leaving_contact",
    "DELETE /v1/contact/me": "erased_contact",
    "DELETE /v1/admin/sessions": "leaving_staff",
}


class Seeds(msgspec.Struct, frozen=True, kw_only=True):
    """Credentials to sign with, and real values for schemathesis to mix into what it makes up."""

    agency_key: str
    contact: str
    staff: str
    leaving_contact: str
    erased_contact: str
    leaving_staff: str
    refs: list[str]
    agency_ids: list[str]
    key_ids: list[str]
    rule_ids: list[str]
    credit_codes: list[str]
    username: str


# Numbers in the forms people type them; made-up strings are (rightly) 422, so these reach the decisions.
PHONES = ["13800138000", "+86 139 0013 9000", "+86-137-0013-7000", "008613600136000", "１３５００１３５０００"]


def config(seeds: Seeds, checks: list[str]) -> str:
    enabled = "\n".join(f"{name}.enabled = true" for name in checks)

    def values(items: list[str]) -> str:
        return json.dumps(items, ensure_ascii=False)

    def bind(location: str, dictionary: str, probability: float = 0.5) -> str:
        return f'[parameters."{location}"]\ndictionary = "{dictionary}"\nprobability = {probability}\n'

    return f"""
seed = {SEED}
workers = 2
request-timeout = 20
suppress-health-check = ["all"]

[generation]
max-examples = {MAX_EXAMPLES}
# A database of failing examples would make runs depend on earlier ones.
database = "none"

[phases.stateful]
enabled = false
[phases.coverage]
# Methods a path does not have are 405 by the router alone; no check here looks at them.
unexpected-methods = []

[checks]
enabled = false
{enabled}

[auth.openapi.AgencyKey]
bearer = "{seeds.agency_key}"
[auth.openapi.ContactSession]
bearer = "{seeds.contact}"
[auth.openapi.StaffSession]
bearer = "{seeds.staff}"
[auth.openapi.GatewaySignature]
# Not a valid signature (it signs each body): the gateway's route is exercised as far as its 401.
api_key = "sha256=00"

[dictionaries.phones]
values = {values(PHONES)}
[dictionaries.refs]
values = {values(seeds.refs)}
[dictionaries.agencies]
values = {values(seeds.agency_ids)}
[dictionaries.keys]
values = {values(seeds.key_ids)}
[dictionaries.rules]
values = {values(seeds.rule_ids)}
[dictionaries.credit_codes]
values = {values(seeds.credit_codes)}
[dictionaries.usernames]
values = {values([seeds.username])}

{bind("body.phone", "phones", 0.7)}
{bind("body.borrower_phone", "phones")}
{bind("body.caller_numbers[*]", "phones")}
{bind("body.agency_id", "agencies")}
{bind("query.agency_id", "agencies")}
{bind("path.agency_id", "agencies", 0.7)}
{bind("path.key_id", "keys", 0.7)}
{bind("path.rule_id", "rules", 0.7)}
{bind("path.ref", "refs", 0.7)}
{bind("body.credit_code", "credit_codes", 0.7)}
{bind("body.username", "usernames")}
""" + "".join(
        f'[[operations]]\ninclude-name = "{name}"\nheaders = {{ Authorization = "Bearer {getattr(seeds, token)}" }}\n'
        for name, token in ENDING.items()
    )


async def schemathesis(workdir: Path, url: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(workdir / "schemathesis.toml"),
        "--no-color",
        "run",
        f"{url}/schema/openapi.json",
        cwd=workdir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


async def seed(api: httpx.AsyncClient, conn: Connection) -> Seeds:
    """The run's agency (whose key signs), a second agency for the admin's suspensions and keys (so
    the first is not suspended under the run), a contact with a rule and two complaints, an admin."""
    agency, key = await make_agency_with_key(conn)
    other, other_key = await make_agency_with_key(conn)
    contact = await contact_session(conn, "13800138000", minutes=30)
    rule = await add_rule(conn, "13800138000", "consent", agency_id=other.id)
    refs = []
    for against in (agency, other):
        filed = await api.post("/v1/contact/disputes", json=complaint(against.id), headers=auth(contact))
        assert filed.status_code == 201, filed.text
        refs.append(filed.json()["ref"])
    staff = await staff_token(api, conn, role="admin")
    return Seeds(
        agency_key=key.key,
        contact=contact,
        staff=staff,
        leaving_contact=await contact_session(conn, "13900139000", minutes=30),
        erased_contact=await contact_session(conn, "13700137000", minutes=30),
        leaving_staff=await staff_token(api, conn, role="reviewer"),
        refs=refs,
        agency_ids=[str(other.id)],
        key_ids=[str(other_key.key_id)],
        rule_ids=[str(rule)],
        credit_codes=[credit_code(), credit_code()],
        username=await conn.fetchval("SELECT username FROM admins WHERE role = 'admin'"),
    )


async def test_schemathesis_finds_no_server_error_and_no_contract_mismatch(
    settings: Settings, conn: Connection, tmp_path: Path
) -> None:
    # A key's per-minute limit would turn most agency cases into 429s (documented, but testing nothing).
    settings = msgspec.structs.replace(settings, api_rate_limit_per_minute=1_000_000)
    server = LiveServer(settings)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as api:
            seeds = await seed(api, conn)
        (tmp_path / "schemathesis.toml").write_text(config(seeds, CHECKS))
        started = time.monotonic()
        code, output = await schemathesis(tmp_path, server.url)
        took = time.monotonic() - started
        # The run's own credentials lasted to the end (the ending operations had theirs).
        live = "SELECT count(*) FROM contact_sessions WHERE token_hash = $1 AND ended_at IS NULL"
        assert await conn.fetchval(live, token_hash(seeds.contact)) == 1
    finally:
        await server.stop()
    # schemathesis' summary (operations, phases, test cases) and the time, for the log (`pytest -s`, or -rA).
    print(output[output.rfind("SUMMARY") :].strip(), f"schemathesis took {took:.1f} s", sep="\n")
    assert code == 0, output
