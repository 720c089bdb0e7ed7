"""Helpers for dispute and admin tests: contacts signed in, staff signed in, sample evidence files."""

from __future__ import annotations

import io
import itertools
import re
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import httpx
from playwright.async_api import Browser, Page, async_playwright

from registry import phones, tokens
from registry.database import Connection
from registry.sessions import staff as accounts
from tests.conftest import TEST_PEPPER

PASSWORD = "correct horse battery staple"
_names = itertools.count()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def key_of(phone: str) -> bytes:
    return phones.phone_key(phones.normalize(phone), TEST_PEPPER)


INSERT_SESSION = """
    INSERT INTO contact_sessions (phone_key, phone_hint, token_hash, expires_at)
    VALUES ($1, $2, $3, now() + interval '1 hour')
"""


async def contact_token(conn: Connection, phone: str) -> str:
    """A signed-in contact, made the way the contacts feature stores sessions (by token hash)."""
    e164 = phones.normalize(phone)
    token = tokens.new_token("rc_")
    await conn.execute(INSERT_SESSION, phones.phone_key(e164, TEST_PEPPER), phones.mask(e164), tokens.token_hash(token))
    return token


async def staff_token(api: httpx.AsyncClient, conn: Connection, role: str = "reviewer") -> str:
    username = f"{role}{next(_names)}"
    await accounts.create_admin(conn, username, role, PASSWORD, "test")
    response = await api.post("/v1/admin/sessions", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def complaint(agency_id: UUID | None = None, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "categories": ["called_after_refusal", "impersonation"],
        "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        "call_count": 5,
        "description": "They said they were the court and would arrest my mother.",
    }
    if agency_id is not None:
        body["agency_id"] = str(agency_id)
    body.update(overrides)
    return body


async def file_complaint(api: httpx.AsyncClient, token: str, agency_id: UUID | None = None, **overrides: object) -> str:
    response = await api.post("/v1/contact/disputes", json=complaint(agency_id, **overrides), headers=auth(token))
    assert response.status_code == 201, response.text
    ref: str = response.json()["ref"]
    return ref


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


SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """The machine's Chromium (never a downloaded one), driven by Playwright."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


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


async def make_staff(conn: Connection, role: str) -> str:
    username = f"{role}{next(_names)}"
    await accounts.create_admin(conn, username, role, PASSWORD, "test")
    return username
