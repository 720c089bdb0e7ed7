"""No raw JSON on a page (issue 11): 404, 405, 413, CSRF failures and faults on page routes are pages
in her language with a way back; the API keeps problem+json for the same statuses."""

from __future__ import annotations

import httpx
import pytest

from registry.contacts import me
from registry.database import Connection
from tests.factories import contact_session

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


def is_page(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("text/html"), response.headers["content-type"]
    assert 'id="back"' in response.text or 'href="/admin/"' in response.text
    return response.text


async def test_unknown_page_and_wrong_method_are_pages_the_api_stays_json(api: httpx.AsyncClient) -> None:
    missing = is_page(await api.get("/no-such-page", headers=ZH), 404)
    assert "没有这个页面" in missing and 'lang="zh-CN"' in missing
    assert "There is no such page" in is_page(await api.get("/no-such-page", headers=EN), 404)
    # The staff pages' own error page, with the way back to the queue.
    staff = is_page(await api.get("/admin/no-such-page", headers=EN), 404)
    assert "There is no such page" in staff and 'href="/admin/"' in staff
    # /logout answers POST only.
    assert "不能这样打开这个页面" in is_page(await api.get("/logout", headers=ZH), 405)
    for path in ("/v1/no-such-thing", "/v1/contact/me"):
        answer = await api.get(path, headers=ZH)
        assert answer.headers["content-type"].startswith("application/problem+json"), path


async def test_a_form_without_its_csrf_token_gets_a_page_saying_nothing_was_saved(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    text = is_page(await api.post("/verify", data={"phone": "13800138000"}, headers=ZH), 403)
    assert "没有保存任何内容" in text
    assert await conn.fetchval("SELECT count(*) FROM contact_codes") == 0


async def test_a_file_over_the_limit_is_a_page_that_says_how_to_send_it(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    api.cookies.set("contact_session", await contact_session(conn, "13800138000"))
    form = await api.get("/complaints/new")
    assert form.status_code == 200
    big = b"\0" * (11 * 1024 * 1024)
    answer = await api.post(
        "/complaints/D-2026-AAAAAA/attachments",
        files={"file": ("录音.m4a", big, "audio/mp4")},
        headers={**ZH, "x-csrftoken": api.cookies["csrftoken"]},
    )
    text = is_page(answer, 413)
    assert "超过 10 MB" in text and 'href="/complaints/D-2026-AAAAAA"' in text


async def test_a_fault_on_a_page_is_a_calm_page_not_a_stack_or_json(
    api: httpx.AsyncClient, conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("a fault in the service")

    monkeypatch.setattr(me, "recent_checks", broken)
    api.cookies.set("contact_session", await contact_session(conn, "13800138000"))
    text = is_page(await api.get("/me/checks", headers=ZH), 500)
    assert "是我们这边出了问题" in text and "RuntimeError" not in text
