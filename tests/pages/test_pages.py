"""The pages in a real Chromium on a 360x740 screen: refuse in two taps, who looked me up, withdraw,
consent, erase, both languages; every wrong input gets a plain message in the page's language."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Browser, Page, expect

from registry.agencies.queries import IssuedKey
from registry.database import Connection
from registry.jurisdiction import sms_segments
from tests.conftest import LiveServer
from tests.factories import auth, bearer, contact_session, latest_code, make_agency_with_key
from tests.pages.conftest import phone_context, shot, sign_in_on_page
from tests.sms import outbox

PHONE = "+8613800138000"


async def agency_check(live_server: LiveServer, key: IssuedKey) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post("/v1/checks", json={"phone": "13800138000"}, headers=bearer(key))
    assert response.status_code == 200, response.text
    body = response.json()
    return body["decision"], body["reason"]


async def test_refuse_from_the_start_page_with_one_confirm_screen_then_withdraw(
    page: Page, live_server: LiveServer, conn: Connection
) -> None:
    _, key = await make_agency_with_key(conn, "示例催收有限公司")

    await page.goto("/")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(page.locator("h1")).to_contain_text("催收")
    await expect(page.locator("#rights")).to_contain_text("“不帮他还就是包庇罪”是虚假恐吓")
    await expect(page.locator("#rights")).to_contain_text("12321")
    await expect(page.locator("#trust")).to_contain_text("我们从不给您打电话，也从不向您索要验证码")
    await shot(page, "01-start-zh")

    # The number is asked for on the start page itself.
    await page.fill("#phone", "12345")
    await page.click("#start-form button[type=submit]")
    await expect(page.locator("#error")).to_have_text("这不是有效的手机号码，请核对后重试。")
    await expect(page.locator("#phone")).to_have_value("12345")
    await shot(page, "02-verify-phone-error-zh")
    await page.fill("#phone", "138 0013 8000")
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_have_text("输入验证码")
    await shot(page, "03-verify-code-zh")

    code = await latest_code(conn, PHONE)
    await page.fill("#code", f"{(int(code) + 1) % 1_000_000:06d}")
    await page.click("form[action='/verify/code'] button[type=submit]")
    await expect(page.locator("#error")).to_have_text("验证码不对。请核对最新一条短信里的数字，重新输入。")
    await shot(page, "04-verify-code-error-zh")
    await page.fill("#code", "12a")
    await page.click("form[action='/verify/code'] button[type=submit]")
    await expect(page.locator("#error")).to_have_text("验证码是 6 位数字，请照短信填写。")
    await page.fill("#code", code)
    await page.click("form[action='/verify/code'] button[type=submit]")
    # Straight to the one confirm screen: she came to refuse.
    await page.wait_for_url("**/me/refuse")
    await shot(page, "06-refuse-zh")
    await page.click("#confirm-refuse-all")
    await page.wait_for_url("**/me/receipts/*")
    await expect(page.locator("#receipt-text")).to_have_text(
        "已登记：任何机构都不得因任何人的欠款给您打电话。长期有效。"
    )
    reference = await page.inner_text("#receipt-ref")
    assert re.fullmatch(r"R-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}", reference), reference
    await expect(page.locator("#next-steps")).to_contain_text("立即生效")
    await expect(page.locator("#next-steps")).to_contain_text("记下号码和时间")
    await expect(page.locator("#keep-copy")).to_contain_text("截屏")
    await shot(page, "07-receipt-zh")
    # The reference came by SMS too, to the number she signed in with.
    [texted] = await outbox(conn, PHONE, containing=reference)
    assert "立即生效" in texted and sms_segments(texted) <= 2

    assert await agency_check(live_server, key) == ("deny", "refused")

    await page.goto("/me")
    await expect(page.locator("#protection")).to_contain_text("您已拒绝所有催收来电")
    await expect(page.locator("#refuse-all")).to_have_count(0)
    await shot(page, "08-status-refused-zh")
    await page.click("text=谁查询过我（1）")
    await expect(page.locator("#checks li")).to_have_count(1)
    await expect(page.locator("#checks li")).to_contain_text("示例催收有限公司")
    await expect(page.locator("#checks li")).to_contain_text("已告知不得来电：您已拒绝")
    await shot(page, "09-checks-zh")

    await page.goto("/me")
    await page.click("#rules a")
    await expect(page.locator("h1")).to_have_text("撤回这条登记？")
    await shot(page, "10-withdraw-zh")
    await page.click("#confirm-withdraw")
    await page.wait_for_url("**/me/receipts/*")
    await expect(page.locator("#receipt-text")).to_contain_text("已撤回，不再生效")
    await expect(page.locator("#in-force")).to_contain_text("无")
    await shot(page, "11-receipt-withdrawn-zh")

    assert await agency_check(live_server, key) == ("allow", "no_record")
    assert await conn.fetchval("SELECT count(*) FROM rules WHERE withdrawn_at IS NOT NULL") == 1


async def test_language_follows_the_browser_and_the_session_cookie_is_http_only(
    browser: Browser, live_server: LiveServer, conn: Connection
) -> None:
    context = await phone_context(browser, live_server.url, locale="en-US")
    try:
        page = await context.new_page()
        await page.goto("/")
        await expect(page.locator("h1")).to_have_text("Stop debt collectors calling you about someone else's loan")
        await sign_in_on_page(page, conn, PHONE, "138-0013-8000")
        cookies = {c["name"]: c for c in await context.cookies()}
        session = cookies["contact_session"]
        assert session["httpOnly"] and session["sameSite"] == "Lax"
        assert session["value"].startswith("ct_")
        await page.click("text=Log out")
        await page.wait_for_url(live_server.url + "/")
        assert await conn.fetchval("SELECT count(*) FROM contact_sessions WHERE ended_at IS NULL") == 0
        await page.goto("/me")
        await expect(page.locator("h1")).to_have_text("Your mobile number")
    finally:
        await context.close()


async def test_forms_without_the_csrf_token_are_refused(live_server: LiveServer, conn: Connection) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post("/verify", data={"phone": "13800138000"})
    assert response.status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM sms_outbox") == 0


async def test_too_many_codes_gets_a_plain_message(page: Page, live_server: LiveServer, conn: Connection) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        sent = await client.post("/v1/contact/codes", json={"phone": PHONE}, headers={"X-Forwarded-For": "10.9.0.1"})
        assert sent.status_code == 202
    # A second code so soon waits (30 s after the first); the page says until what time, on the clock.
    await page.goto("/verify")
    await page.fill("#phone", "138 0013 8000")
    await page.click("button[type=submit]")
    await expect(page.locator("#error")).to_contain_text("我们刚刚向该号码发送了验证码")
    await expect(page.locator("#error")).to_have_text(re.compile(r"您可以在 \d{1,2}:\d{2}（北京时间） 后再次获取"))
    await shot(page, "12-verify-too-many-zh")
    await latest_code(conn, PHONE)
    assert await conn.fetchval("SELECT count(*) FROM sms_outbox") == 1


async def test_another_persons_receipt_is_a_plain_not_found_page(
    api: httpx.AsyncClient, live_server: LiveServer, conn: Connection
) -> None:
    owner = await contact_session(conn, PHONE)
    other = await contact_session(conn, "+8613900139000")
    added = await api.post("/v1/contact/rules", json={"kind": "refuse"}, headers=auth(owner))
    receipt_id = added.json()["receipt"]["id"]
    pages = {}
    for who, cookies in (("owner", {"contact_session": owner}), ("other", {"contact_session": other}), ("none", {})):
        async with httpx.AsyncClient(base_url=live_server.url, cookies=cookies) as client:
            pages[who] = await client.get(f"/me/receipts/{receipt_id}")
    own, foreign, signed_out = pages["owner"], pages["other"], pages["none"]
    assert own.status_code == 200 and "已登记" in own.text
    assert foreign.status_code == 404 and "没有找到该内容" in foreign.text and "已登记" not in foreign.text
    # Signing in leads back to the receipt.
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == f"/verify?next=%2Fme%2Freceipts%2F{receipt_id}"
