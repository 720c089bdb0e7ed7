"""Every refusal carries a stable machine-readable `code` in its problem+json, and pages choose their words by it."""

from __future__ import annotations

import httpx

from registry.database import Connection
from registry.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from registry.jurisdiction import with_check_character
from registry.pages.explain import CONTACT_BY_CODE, STAFF_BY_CODE, explain, explain_for_staff
from registry.pages.i18n import Texts
from tests.factories import bearer, make_agency_with_key, staff_token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_problems_name_their_case_by_code(api: httpx.AsyncClient, conn: Connection) -> None:
    admin = await staff_token(api, conn, "admin")
    reviewer = await staff_token(api, conn, "reviewer")
    code = with_check_character("91110000MA0000YY1")
    body = {"name": "安心资产管理有限公司", "credit_code": code}
    assert (await api.post("/v1/admin/agencies", json=body, headers=auth(admin))).status_code == 201
    taken = await api.post("/v1/admin/agencies", json=body, headers=auth(admin))
    assert taken.status_code == 409
    assert taken.headers["content-type"].startswith("application/problem+json")
    assert taken.json()["code"] == "credit_code_taken"

    for bad, expected in (("123", "credit_code_length"), (code[:-1] + "I", "credit_code_alphabet")):
        answer = await api.post("/v1/admin/agencies", json={"name": "X", "credit_code": bad}, headers=auth(admin))
        assert answer.status_code == 422
        assert answer.json()["code"] == expected
        assert answer.json()["errors"][0]["field"] == "credit_code"
    wrong_check = code[:-1] + ("0" if code[-1] != "0" else "1")
    answer = await api.post("/v1/admin/agencies", json={"name": "X", "credit_code": wrong_check}, headers=auth(admin))
    assert answer.json()["code"] == "credit_code_check"

    refused = await api.post("/v1/admin/agencies", json={"name": "Y", "credit_code": code}, headers=auth(reviewer))
    assert refused.status_code == 403
    assert refused.json()["code"] == "admin_only"

    _, key = await make_agency_with_key(conn)
    missing = await api.get("/v1/disputes/D-2026-AAAAAA", headers=bearer(key))
    assert missing.status_code == 404
    assert missing.json()["code"] == "unknown_dispute"
    # A generic problem still has a code: its kind.
    assert (await api.get("/v1/changes", headers=bearer("rk_nope"))).json()["code"] == "unauthorized"


def test_pages_choose_their_words_by_code_not_by_detail() -> None:
    chinese = Texts("zh_CN")
    # The same English detail, two codes, two explanations: the detail plays no part.
    taken = Conflict("whatever the detail says", code="credit_code_taken")
    closed = Conflict("whatever the detail says", code="dispute_closed")
    assert explain_for_staff(taken, chinese) != explain_for_staff(closed, chinese)
    assert explain_for_staff(taken, chinese) == chinese.gettext(
        "An agency with this credit code is already registered."
    )
    assert explain(NotFound("x", code="unknown_dispute"), chinese) == chinese.gettext(
        "We could not find that complaint."
    )
    assert "60" in explain(TooManyRequests("x", 3600), Texts("en"))  # the wait, in minutes
    assert explain(InvalidInput("phone", "x"), chinese) != explain(InvalidInput("code", "x"), chinese)


def test_every_explained_code_is_translated() -> None:
    chinese, english = Texts("zh_CN"), Texts("en")
    for table in (CONTACT_BY_CODE, STAFF_BY_CODE):
        for code, words in table.items():
            # A message missing from the catalog comes back as its English msgid.
            assert words(chinese) != words(english), code
