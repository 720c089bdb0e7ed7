"""The contact's journeys of issue 11 in a real Chromium: refuse, scoped consent and withdraw, a complaint
whose sign-in times out halfway, who looked me up, erase. Each is walked once, on a 360x740 phone;
`views` keeps screenshots of its pages in both languages (Chinese first) at 360x740 and 1280x800."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import httpx
from playwright.async_api import FilePayload, Page, expect

from registry.agencies.queries import IssuedKey
from registry.database import Connection
from registry.jurisdiction import CHINA, sms_segments
from tests.browser import SCREENSHOTS
from tests.conftest import LiveServer
from tests.disputes.support import wav_bytes
from tests.factories import add_rule, bearer, key_of, latest_code, make_agency_with_key
from tests.pages.conftest import shot, sign_in_on_page, views
from tests.sms import outbox

PHONE = "+8613800138000"
REFERENCE = re.compile(r"R-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}")


async def agency_check(live_server: LiveServer, key: IssuedKey) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post("/v1/checks", json={"phone": "13800138000"}, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()["decision"], response.json()["reason"]


class Effort:
    """What the refuse journey costs her: taps (a button, a link, or a field she taps to type in) and
    the characters she types."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.taps = 0
        self.typed = 0

    async def tap(self, selector: str) -> None:
        self.taps += 1
        await self.page.click(selector)

    async def type_in(self, selector: str, text: str) -> None:
        self.taps += 1  # the field, to bring up the keyboard
        self.typed += len(text)
        await self.page.fill(selector, text)


async def test_refuse_from_the_start_page_in_five_taps_and_17_characters(
    page: Page, live_server: LiveServer, conn: Connection
) -> None:
    _, key = await make_agency_with_key(conn, "示例催收有限公司")
    effort = Effort(page)

    await page.goto("/")
    await expect(page.locator("h1")).to_contain_text("催收")
    await expect(page.locator("#rights")).to_contain_text("“不帮他还就是包庇罪”是虚假恐吓")
    await expect(page.locator("#rights")).to_contain_text("110")
    await expect(page.locator("#trust")).to_contain_text("我们从不给您打电话，也从不向您索要验证码")
    await expect(page.locator("#operator")).to_contain_text("开发环境副本")
    await views(page, "j1-01-start")

    await effort.type_in("#phone", "13800138000")
    await effort.tap("#start-form button[type=submit]")
    await expect(page.locator("h1")).to_have_text("输入验证码")
    [code_sms] = await outbox(conn, PHONE, containing="验证码")
    assert "索要者即骗子" in code_sms and sms_segments(code_sms) <= 2
    await views(page, "j1-02-code", languages=False)
    await effort.type_in("#code", await latest_code(conn, PHONE))
    await effort.tap("form[action='/verify/code'] button[type=submit]")
    # One confirm screen: she said what she came for on the start page.
    await page.wait_for_url("**/me/refuse")
    await views(page, "j1-03-refuse")
    await effort.tap("#confirm-refuse-all")
    await page.wait_for_url("**/me/receipts/*")
    assert (effort.taps, effort.typed) == (5, 17)
    (SCREENSHOTS.parent / "refuse-journey-effort.txt").write_text(
        f"refuse journey: {effort.taps} taps, {effort.typed} typed characters (before issue 11: 7 taps, 17)\n"
    )

    await expect(page.locator("#receipt-text")).to_have_text(
        "已登记：任何机构都不得因任何人的欠款给您打电话。长期有效。"
    )
    reference = await page.inner_text("#receipt-ref")
    assert REFERENCE.fullmatch(reference), reference
    await expect(page.locator("#next-steps")).to_contain_text("立即生效")
    await expect(page.locator("#next-steps")).to_contain_text("记下号码和时间")
    await expect(page.locator("#owe-nothing")).to_contain_text("12321")
    await expect(page.locator("#keep-copy")).to_contain_text("截屏")
    await views(page, "j1-04-receipt")
    [texted] = await outbox(conn, PHONE, containing=reference)
    assert "立即生效" in texted and sms_segments(texted) <= 2
    assert await agency_check(live_server, key) == ("deny", "refused")

    await page.goto("/me")
    await expect(page.locator("#protection")).to_contain_text("您已拒绝所有催收来电")
    await expect(page.locator("#my-complaints")).to_have_text("我的投诉")
    await expect(page.locator("#rules a")).to_have_text("撤回这条拒绝")
    await views(page, "j1-05-status")


async def test_scoped_consent_is_an_exception_to_refusing_and_is_withdrawn_by_its_own_button(
    page: Page, live_server: LiveServer, conn: Connection
) -> None:
    agency, key = await make_agency_with_key(conn, "Example Lending Ltd")
    await page.goto("/lang/en?next=/")
    await sign_in_on_page(page, conn, PHONE, "+86 138 0013 8000")
    await page.click("text=Allow calls about one loan or from one agency")
    # Not refused yet: the page says other agencies may still call, with "refuse all" right there.
    await expect(page.locator("#others")).to_contain_text("once a month")
    await expect(page.locator("#refuse-all-too")).to_be_visible()
    await expect(page.locator("#until")).to_have_value("")
    await views(page, "j2-01-consent")
    await page.click("button[type=submit]")
    await expect(page.locator("#error")).to_have_text("Choose an agency, or give the borrower's number, or both.")
    await page.select_option("#agency_id", label="Example Lending Ltd")
    await page.click("button[type=submit]")
    await expect(page.locator("#error")).to_have_text("Choose how long: one call only, or until a day you choose.")
    await page.check("#how-until")
    await page.click("button[type=submit]")
    await expect(page.locator("#error")).to_contain_text("Choose the last day the calls are allowed")
    await views(page, "j2-02-consent-error", languages=False)
    assert await conn.fetchval("SELECT count(*) FROM rules") == 0

    # Refuse all first (the receipt), then allow this one agency until a day she picks.
    await page.click("#refuse-all-too")
    await page.click("#confirm-refuse-all")
    await page.wait_for_url("**/me/receipts/*")
    await page.goto("/me/consent")
    await expect(page.locator("#others")).to_have_count(0)
    last_day = (datetime.now(CHINA.display_zone) + timedelta(days=30)).date()
    await page.select_option("#agency_id", label="Example Lending Ltd")
    await page.check("#how-until")
    await page.fill("#until", last_day.isoformat())
    await page.click("button[type=submit]")
    await page.wait_for_url("**/me/receipts/*")
    await expect(page.locator("#receipt-text")).to_contain_text(
        "Recorded: Example Lending Ltd may call you about debts."
    )
    row = await conn.fetchrow("SELECT agency_id, expires_at FROM rules WHERE kind = 'consent'")
    assert row is not None and row["agency_id"] == agency.id
    # It ends when her chosen day ends, on Beijing time, and the pages show that day.
    assert row["expires_at"].astimezone(CHINA.display_zone).date() == last_day
    assert await agency_check(live_server, key) == ("allow", "consent")

    await page.goto("/me")
    await expect(page.locator("#protection")).to_contain_text("You refuse all debt-collection calls")
    await expect(page.locator("#exceptions")).to_contain_text("Example Lending Ltd may call you about debts.")
    await views(page, "j2-03-status-except")
    consent_row = page.locator("#rules li", has_text="may call you")
    await consent_row.locator("a", has_text="Withdraw this consent").click()
    await expect(page.locator("#confirm-withdraw")).to_have_text("Withdraw the consent: no more calls")
    await views(page, "j2-04-withdraw")
    await page.click("#confirm-withdraw")
    await page.wait_for_url("**/me/receipts/*")
    await expect(page.locator("#receipt-text")).to_contain_text("Withdrawn, no longer in force")
    assert await agency_check(live_server, key) == ("deny", "refused")

    # "They may call me once": the first check allows the one call, and the consent ends with it.
    await page.goto("/me/consent")
    await page.select_option("#agency_id", label="Example Lending Ltd")
    await page.check("#how-once")
    await views(page, "j2-05-consent-once", languages=False)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/me/receipts/*")
    await expect(page.locator("#receipt-text")).to_contain_text("One call only")
    assert await agency_check(live_server, key) == ("allow", "consent")
    assert await agency_check(live_server, key) == ("deny", "refused")
    await page.goto("/me")
    await expect(page.locator("#exceptions")).to_have_count(0)


async def test_a_complaint_survives_a_sign_in_that_times_out_while_she_writes_it(
    page: Page, api: httpx.AsyncClient, conn: Connection
) -> None:
    agency, key = await make_agency_with_key(conn, "雷霆资产管理有限公司")
    await sign_in_on_page(page, conn, PHONE, "13800138000")
    await page.click("#my-complaints")
    await page.click("text=投诉")
    await page.goto("/complaints/new")
    await page.select_option("#agency_id", str(agency.id))
    await page.check("input[value=impersonation]")
    occurred = (datetime.now(CHINA.display_zone) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    await page.fill("#occurred_at", occurred)
    words = "对方自称法院，说不帮他还就是包庇罪，要抓我。"
    await page.fill("#description", words)
    await page.set_input_files(
        "#file", files=[FilePayload(name="通话录音.wav", mimeType="audio/wav", buffer=wav_bytes())]
    )
    # Her 30 minutes run out while she writes.
    await conn.execute("UPDATE contact_sessions SET expires_at = now() - interval '1 second'")
    await page.click("#complaint button[type=submit]")
    await page.wait_for_url("**/verify?*")
    await expect(page.locator("#kept")).to_have_text("登录已超时，您填写的内容已保留。重新登录后即可继续。")
    await views(page, "j3-01-timed-out")
    assert await conn.fetchval("SELECT count(*) FROM disputes") == 0
    draft = await conn.fetchrow("SELECT phone_key, filename, length(file) AS size FROM complaint_drafts")
    assert draft is not None and draft["phone_key"] == key_of(PHONE) and draft["filename"] == "通话录音.wav"

    await page.fill("#phone", "138 0013 8000")
    await page.click("button[type=submit]")
    await page.fill("#code", await latest_code(conn, PHONE))
    await page.click("form[action='/verify/code'] button[type=submit]")
    # Back at the form, as she left it, the file too.
    await page.wait_for_url("**/complaints/new")
    await expect(page.locator("#description")).to_have_value(words)
    await expect(page.locator("#occurred_at")).to_have_value(occurred)
    await expect(page.locator("input[value=impersonation]")).to_be_checked()
    await expect(page.locator("#kept-file")).to_contain_text("通话录音.wav")
    await views(page, "j3-02-form-kept", languages=False)
    await page.click("#complaint button[type=submit]")
    await page.wait_for_url(re.compile(r".*/complaints/D-\d{4}-[0-9A-Z]{6}\?filed=1$"))
    ref = page.url.split("/complaints/")[1].split("?")[0]
    await expect(page.locator("main")).to_contain_text("通话录音.wav")
    assert await conn.fetchval("SELECT count(*) FROM complaint_drafts") == 0
    assert await conn.fetchval("SELECT count(*) FROM dispute_attachments") == 1

    # The agency's written answer is on her timeline.
    answered = await api.post(
        f"/v1/disputes/{ref}/responses", headers=bearer(key), json={"text": "我们核实后会停止联系。"}
    )
    assert answered.status_code == 201, answered.text
    await page.reload()
    await expect(page.locator("#agency-answer")).to_contain_text("我们核实后会停止联系。")
    await views(page, "j3-03-complaint-answered")
    await page.goto("/me")
    await page.click("#my-complaints")
    await expect(page.locator("main")).to_contain_text(ref)


async def test_who_looked_me_up_says_what_happened_and_links_a_complaint(
    page: Page, live_server: LiveServer, conn: Connection
) -> None:
    agency, key = await make_agency_with_key(conn, "安心资产管理有限公司")
    assert await agency_check(live_server, key) == ("allow", "no_record")
    assert await agency_check(live_server, key) == ("deny", "frequency_limit")
    await sign_in_on_page(page, conn, PHONE, "13800138000")
    await page.click("text=谁查询过我（2）")
    rows = page.locator("#checks li")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0)).to_contain_text("本月允许的一次联系已用过")
    await expect(rows.nth(1)).to_contain_text("允许本月来电一次")
    await views(page, "j4-01-checks")
    await rows.nth(0).locator("text=投诉这家机构").click()
    await page.wait_for_url(f"**/complaints/new?agency={agency.id}")
    await expect(page.locator("#agency_id")).to_have_value(str(agency.id))
    # A mistyped address is a page in her language with a way back, not JSON.
    missing = await page.goto("/me/nothing-here")
    assert missing is not None and missing.status == 404
    await expect(page.locator(".box.error")).to_have_text("没有这个页面。链接可能输错了或已过期。")
    await views(page, "j4-02-not-found")
    await page.click("#back")
    await page.wait_for_url("**/me")


async def test_erase_explains_first_then_ends_the_protection(page: Page, conn: Connection) -> None:
    await add_rule(conn, PHONE, "refuse")
    await sign_in_on_page(page, conn, PHONE, "13800138000")
    await page.click("text=删除我的数据")
    await expect(page.locator("#erase-warning")).to_contain_text("删除会结束对您的保护")
    await views(page, "j5-01-erase")
    await page.click("#confirm-erase")
    await expect(page.locator("h1")).to_have_text("您的数据已删除")
    await shot(page, "j5-02-erased-zh")
    assert await conn.fetchval("SELECT count(*) FROM rules") == 0
    assert await conn.fetchval("SELECT count(*) FROM contact_sessions") == 0
    await page.goto("/me")
    await expect(page.locator("h1")).to_have_text("您的手机号码")
