"""Helpers for dispute and admin tests: sample evidence files, and a browser signed in as a contact or staff."""

from __future__ import annotations

import io
import re
import wave

import httpx
from playwright.async_api import Browser, Page

from registry.database import Connection
from tests.factories import PASSWORD


def wav_bytes(seconds: float = 0.2) -> bytes:
    """A real (silent) WAV recording."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * int(8000 * seconds))
    return buffer.getvalue()


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"


async def sign_in_contact(api: httpx.AsyncClient, conn: Connection, e164: str) -> str:
    """The contact's real way in: ask for a code, read it from the development outbox, trade it for a token."""
    sent = await api.post("/v1/contact/codes", json={"phone": e164})
    assert sent.status_code == 202, sent.text
    body = await conn.fetchval("SELECT body FROM sms_outbox WHERE phone = $1 ORDER BY id DESC LIMIT 1", e164)
    match = re.search(r"(\d{6})", body or "")
    assert match is not None, body
    opened = await api.post("/v1/contact/sessions", json={"phone": e164, "code": match.group(1)})
    assert opened.status_code == 201, opened.text
    token: str = opened.json()["token"]
    return token


async def browser_as_contact(browser: Browser, base_url: str, token: str, locale: str = "zh-CN") -> Page:
    context = await browser.new_context(base_url=base_url, locale=locale, viewport={"width": 412, "height": 915})
    await context.add_cookies([{"name": "contact_session", "value": token, "url": base_url}])
    return await context.new_page()


async def browser_as_staff(browser: Browser, base_url: str, username: str, password: str = PASSWORD) -> Page:
    # English explicitly: the helpers below read the English labels of the staff pages (Chinese is the default).
    context = await browser.new_context(base_url=base_url, locale="en-US", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto("/admin/")
    assert page.url.endswith("/admin/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/admin/")
    return page
