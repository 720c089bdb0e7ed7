"""Cheap CPU burns and 500s are refused cheaply (issue 9, item 6).

NFKC costs the square of the input for some characters (85,000 x U+0F73 took 20 s on one
core, blocking the event loop), so raw lengths are checked first. NUL characters (which
PostgreSQL text cannot hold), JSON nested 50,000 deep (msgspec's RecursionError) and
`days=²` (a digit int() refuses) answered 500 with a stack trace; now 400/422.
"""

from __future__ import annotations

import logging
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from registry import phones
from registry.contacts.codes import clean_code
from registry.database import Connection
from registry.disputes.records import normalize_ref
from registry.errors import InvalidInput, NotFound
from registry.jurisdiction import CHINA
from tests.factories import auth, bearer, complaint, contact_session, make_agency, make_agency_with_key
from tests.problems import problem

SLOW_FOR_NFKC = "\u0f73"  # TIBETAN VOWEL SIGN II: canonical reordering makes a long run quadratic


@pytest.fixture
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Any:
    """The refusals are answers, not faults: nothing is logged at ERROR (no stack trace)."""
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def test_raw_text_is_measured_before_nfkc(monkeypatch: pytest.MonkeyPatch) -> None:
    original = unicodedata.normalize

    def refuse(form: Any, text: str) -> str:
        if len(text) > 1000:
            raise AssertionError(f"{form} of {len(text)} characters")
        return original(form, text)

    monkeypatch.setattr(unicodedata, "normalize", refuse)
    with pytest.raises(InvalidInput) as phone:
        phones.normalize(SLOW_FOR_NFKC * 85_000, field="borrower_phone")
    assert phone.value.field == "borrower_phone"
    with pytest.raises(InvalidInput) as code:
        clean_code(SLOW_FOR_NFKC * 85_000)
    assert code.value.field == "code"
    with pytest.raises(NotFound):
        normalize_ref(SLOW_FOR_NFKC * 20_000)


@pytest.mark.usefixtures("no_server_errors")
async def test_an_85000_character_phone_is_refused_naming_the_field(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    body = problem(await api.post("/v1/checks", json={"phone": SLOW_FOR_NFKC * 85_000}, headers=bearer(key)), 422)
    assert [e["field"] for e in body["errors"]] == ["phone"]
    long_borrower = {"phone": "13800138000", "borrower_phone": SLOW_FOR_NFKC * 85_000}
    body = problem(await api.post("/v1/checks", json=long_borrower, headers=bearer(key)), 422)
    assert [e["field"] for e in body["errors"]] == ["borrower_phone"]


@pytest.mark.usefixtures("no_server_errors")
async def test_a_39_mb_batch_item_is_an_error_in_its_place(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    items = [{"phone": SLOW_FOR_NFKC * 1_300_000}, {"phone": "13800138000"}]  # 3.9 MB of UTF-8
    response = await api.post("/v1/checks/batch", json={"items": items}, headers=bearer(key))
    assert response.status_code == 200, response.text
    bad, good = response.json()["results"]
    assert bad["index"] == 0 and bad["error"]["code"] == "invalid_input" and bad["error"]["field"] == "phone"
    assert good["decision"] in ("allow", "deny")


@pytest.mark.usefixtures("no_server_errors")
async def test_nul_characters_are_refused_in_json_path_and_query(api: httpx.AsyncClient, conn: Connection) -> None:
    token = await contact_session(conn, "13800138000")
    agency = await make_agency(conn)
    filed = complaint(agency.id, description="They called\x00 my mother.")
    body = problem(await api.post("/v1/contact/disputes", json=filed, headers=auth(token)), 400)
    assert body["code"] == "nul_character" and [e["field"] for e in body["errors"]] == ["description"]
    assert await conn.fetchval("SELECT count(*) FROM disputes") == 0

    body = problem(await api.get("/v1/contact/disputes/D-2026-%00ABCDE", headers=auth(token)), 400)
    assert body["code"] == "nul_character" and body["errors"][0]["field"] == "path"
    _, key = await make_agency_with_key(conn)
    body = problem(await api.get("/v1/disputes?status=open%00", headers=bearer(key)), 400)
    assert body["code"] == "nul_character" and body["errors"][0]["field"] == "query"


@pytest.mark.usefixtures("no_server_errors")
async def test_nul_characters_are_refused_in_a_page_form(api: httpx.AsyncClient, conn: Connection) -> None:
    api.cookies.set("contact_session", await contact_session(conn, "13800138000"))
    await api.get("/complaints/new")
    occurred = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    form = {"caller_name": "Legal\x00 dept", "categories": "threats", "occurred_at": occurred, "description": "x"}
    headers = {"x-csrftoken": api.cookies["csrftoken"], "Accept-Language": "zh-CN"}
    response = await api.post("/complaints/", data=form, headers=headers)
    # A page route answers with a page in her language (issue 11), not problem+json.
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/html")
    assert "看不见的控制字符" in response.text
    assert await conn.fetchval("SELECT count(*) FROM disputes") == 0


@pytest.mark.usefixtures("no_server_errors")
async def test_json_nested_50000_deep_is_refused(api: httpx.AsyncClient, conn: Connection) -> None:
    _, key = await make_agency_with_key(conn)
    deep = '{"phone": ' + "[" * 50_000 + "]" * 50_000 + "}"
    headers = {**bearer(key), "Content-Type": "application/json"}
    body = problem(await api.post("/v1/checks", content=deep, headers=headers), 400)
    assert body["code"] == "nested_too_deep"


@pytest.mark.usefixtures("no_server_errors")
async def test_a_strange_last_day_is_the_forms_error(api: httpx.AsyncClient, conn: Connection) -> None:
    agency = await make_agency(conn)
    api.cookies.set("contact_session", await contact_session(conn, "13800138000"))
    await api.get("/me/consent")
    headers = {"x-csrftoken": api.cookies["csrftoken"], "Accept-Language": "en"}
    for until in ("²", "9" * 5000, "2026-02-30", "1999-01-01"):
        data = {"agency_id": str(agency.id), "how": "until", "until": until}
        response = await api.post("/me/consent", data=data, headers=headers)
        assert response.status_code == 422, response.text
        assert "Choose the last day the calls are allowed: from today to 365 days ahead." in response.text
    # Full-width digits, as a Chinese keyboard may type them, still count.
    day = (datetime.now(CHINA.display_zone) + timedelta(days=30)).date().isoformat()
    wide = day.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})
    response = await api.post("/me/consent", data={"agency_id": str(agency.id), "until": wide}, headers=headers)
    assert response.status_code == 303, response.text
    assert await conn.fetchval("SELECT count(*) FROM rules WHERE kind = 'consent'") == 1
