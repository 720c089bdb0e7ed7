"""Every refusal carries a stable machine-readable `code` in its problem+json, and pages choose their words by it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from babel.messages.pofile import read_po

from registry.database import Connection
from registry.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, TooManyRequests, Unauthorized
from registry.jurisdiction import with_check_character
from registry.pages.explain import (
    CONTACT_BY_CODE,
    CONTACT_BY_FIELD,
    STAFF_BY_CODE,
    STAFF_BY_FIELD,
    Words,
    explain,
    explain_for_staff,
)
from registry.pages.i18n import LOCALE_DIR, Texts
from tests.factories import auth, bearer, make_agency_with_key, staff_token
from tests.problems import fields, problem

CREDIT_CODE_CASES = ("credit_code_length", "credit_code_alphabet", "credit_code_check")


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
    assert await conn.fetchval("SELECT count(*) FROM agencies WHERE credit_code = $1", code) == 1

    wrong_check = code[:-1] + ("0" if code[-1] != "0" else "1")
    for bad, expected in (
        ("123", "credit_code_length"),
        (code[:-1] + "I", "credit_code_alphabet"),
        (wrong_check, "credit_code_check"),
    ):
        answer = await api.post("/v1/admin/agencies", json={"name": "X", "credit_code": bad}, headers=auth(admin))
        refusal = problem(answer, 422)
        assert refusal["code"] == expected and expected in CREDIT_CODE_CASES, bad
        assert answer.json()["errors"][0]["field"] == "credit_code"
        assert fields(refusal) == ["credit_code"]
    assert await conn.fetchval("SELECT count(*) FROM agencies WHERE name = 'X'") == 0

    refused = await api.post("/v1/admin/agencies", json={"name": "Y", "credit_code": code}, headers=auth(reviewer))
    assert refused.status_code == 403
    assert problem(refused, 403)["code"] == "admin_only"
    assert await conn.fetchval("SELECT count(*) FROM agencies WHERE name = 'Y'") == 0

    _, key = await make_agency_with_key(conn)
    missing = await api.get("/v1/disputes/D-2026-AAAAAA", headers=bearer(key))
    assert missing.status_code == 404
    assert problem(missing, 404)["code"] == "unknown_dispute"
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
    # The wait as a time on the clock (Beijing time), never as "60 minutes".
    later = datetime.now(UTC) + timedelta(seconds=3600)
    words = explain(TooManyRequests("x", 3600), Texts("en"))
    assert Texts("en").clock(later) in words or Texts("en").clock(later + timedelta(minutes=1)) in words
    assert "minutes" not in words
    assert explain(InvalidInput("phone", "x"), chinese) != explain(InvalidInput("code", "x"), chinese)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (Conflict("x", code="credit_code_taken"), "该统一社会信用代码的机构已登记。"),
        (Conflict("x", code="dispute_closed"), "该投诉已作出审核决定。"),
        (InvalidInput("credit_code", "x", code="credit_code_check"), "信用代码的校验位不符（是否输错？）。"),
        (Forbidden("x", code="admin_only"), "此操作需要管理员角色；审核员只能查看和审核投诉。"),
        # A code it does not know: the general words, never the English detail.
        (Conflict("the English detail", code="no_such_code"), "操作被拒绝。请检查后重试。"),
    ],
)
def test_staff_pages_explain_in_chinese_by_code(error: DomainError, words: str) -> None:
    assert explain_for_staff(error, Texts("zh_CN")) == words


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (NotFound("x", code="unknown_dispute"), "找不到这条投诉。"),
        (Unauthorized("x", code="wrong_code"), "验证码不对。请核对最新一条短信里的数字，重新输入。"),
        (Unauthorized("x", code="code_expired"), "该验证码已过期或已使用过。请点下方“重新获取验证码”。"),
        (
            Unauthorized("x", code="code_voided"),
            "该验证码输错次数过多，已经作废。请点下方“重新获取验证码”获取新的验证码。",
        ),
        # An ended session is not a wrong code (issue 11): she is asked to sign in again.
        (Unauthorized("unknown, ended or expired contact session"), "您的登录已结束。请用新的短信验证码重新登录。"),
        (
            TooManyRequests("x", 3600, code="daily_filings"),
            "您今天提交的投诉较多。请在已有的投诉中补充材料，或明天再试。",
        ),
        # A generic invalid_input is explained by the field it names.
        (InvalidInput("phone", "x"), "这不是有效的手机号码，请核对后重试。"),
        (InvalidInput("nothing_we_know", "the English detail"), "有些内容不对，请检查后重试。"),
    ],
)
def test_contact_pages_explain_in_chinese_by_code(error: DomainError, words: str) -> None:
    assert explain(error, Texts("zh_CN")) == words


class Asked(Texts):
    """English words that also note which messages were asked for (the catalog's msgids)."""

    def __init__(self) -> None:
        super().__init__("en")
        self.messages: list[str] = []

    def gettext(self, message: str, **values: Any) -> str:
        self.messages.append(message)
        return super().gettext(message, **values)


def msgids(words: Words) -> list[str]:
    asked = Asked()
    words(asked)
    assert asked.messages, "explained without a message from the catalog"
    return asked.messages


def test_every_explained_code_is_translated() -> None:
    chinese, english = Texts("zh_CN"), Texts("en")
    for table in (CONTACT_BY_CODE, STAFF_BY_CODE):
        for code, words in table.items():
            # A message missing from the catalog comes back as its English msgid.
            assert words(chinese) != words(english), code


def test_every_code_and_field_the_explainer_knows_has_a_chinese_msgstr() -> None:
    with (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as file:
        catalog = read_po(file, locale="zh_CN")
    tables: dict[str, dict[str, Words]] = {
        "contact code": CONTACT_BY_CODE,
        "contact field": CONTACT_BY_FIELD,
        "staff code": STAFF_BY_CODE,
        "staff field": STAFF_BY_FIELD,
    }
    untranslated = []
    for table_name, table in tables.items():
        assert table, table_name
        for name, words in table.items():
            for message in msgids(words):
                entry = catalog.get(message)
                if entry is None or not entry.string or entry.fuzzy:
                    untranslated.append((table_name, name, message))
    assert untranslated == []
    # The general words and the wait, which are not in the tables, too.
    for error in (InvalidInput("nothing_we_know", "x"), TooManyRequests("x", 60)):
        asked = Asked()
        explain(error, asked)
        explain_for_staff(error, asked)
        for message in asked.messages:
            entry = catalog.get(message)
            assert entry is not None and entry.string and not entry.fuzzy, message
