"""No lockout: nobody's wrong guesses make the owner's fresh code fail; sends back off instead of an hour of 429."""

from __future__ import annotations

import httpx

from registry.contacts.codes import RESEND_WAITS
from registry.database import Connection
from registry.errors import TooManyRequests
from registry.pages.explain import explain
from registry.pages.i18n import Texts
from tests.sms import CODE, outbox

PHONE = "+8613800138000"


async def newest_code(conn: Connection, count: int) -> str:
    """The code of the `count`-th code SMS to PHONE, once the worker has sent it."""
    bodies = await outbox(conn, PHONE, containing=CODE, count=count)
    return bodies[-1].split("验证码 ")[1][:6]


async def later(conn: Connection, seconds: int) -> None:
    """Move the codes sent so far `seconds` into the past (the clock, as the waits see it)."""
    await conn.execute("UPDATE contact_codes SET created_at = created_at - make_interval(secs => $1)", seconds)


async def test_ten_wrong_codes_from_many_addresses_leave_the_owner_a_fresh_code_that_works(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    owner = {"X-Forwarded-For": "10.7.0.1"}
    assert (await api.post("/v1/contact/codes", json={"phone": PHONE}, headers=owner)).status_code == 202
    first = await newest_code(conn, 1)
    wrong = f"{(int(first) + 1) % 1_000_000:06d}"
    for n in range(10):
        guess = await api.post(
            "/v1/contact/sessions", json={"phone": PHONE, "code": wrong}, headers={"X-Forwarded-For": f"10.8.0.{n}"}
        )
        assert guess.status_code == 401
    # The guesses voided the code they were made against...
    assert (
        await api.post("/v1/contact/sessions", json={"phone": PHONE, "code": first}, headers=owner)
    ).status_code == 401
    # ...but the owner's next code, after the resend wait, signs her in: nothing counts against her number.
    await later(conn, RESEND_WAITS[0])
    assert (await api.post("/v1/contact/codes", json={"phone": PHONE}, headers=owner)).status_code == 202
    fresh = await newest_code(conn, 2)
    opened = await api.post("/v1/contact/sessions", json={"phone": PHONE, "code": fresh}, headers=owner)
    assert opened.status_code == 201, opened.text


async def test_sends_to_one_number_back_off_the_first_at_once(api: httpx.AsyncClient, conn: Connection) -> None:
    waits = []
    for n, wait in enumerate(RESEND_WAITS[:4]):
        # Each from another address: the wait belongs to the number, not to whoever asks.
        sent = await api.post("/v1/contact/codes", json={"phone": PHONE}, headers={"X-Forwarded-For": f"10.6.0.{n}"})
        assert sent.status_code == 202, sent.text
        # Each code's SMS out before the next is asked for: the worker may send two queued jobs in
        # either order, and then the outbox's last code would not be the newest (CI saw a 401 so).
        await newest_code(conn, n + 1)
        blocked = await api.post("/v1/contact/codes", json={"phone": PHONE}, headers={"X-Forwarded-For": "10.6.1.1"})
        assert blocked.status_code == 429 and blocked.json()["code"] == "code_resend_wait"
        waits.append(int(blocked.headers["retry-after"]))
        assert wait - 5 <= waits[-1] <= wait + 1
        await later(conn, wait)
    assert waits == sorted(waits) and waits[-1] < 3600
    # Once the owner signs in, the next code goes at once again.
    code = await newest_code(conn, 4)
    assert (await api.post("/v1/contact/sessions", json={"phone": PHONE, "code": code})).status_code == 201
    assert (await api.post("/v1/contact/codes", json={"phone": PHONE})).status_code == 202


async def test_the_page_says_until_when_to_wait(api: httpx.AsyncClient, conn: Connection) -> None:
    await api.get("/verify")
    csrf = {"x-csrftoken": api.cookies["csrftoken"]}
    await api.post("/verify", data={"phone": PHONE}, headers=csrf)
    again = await api.post("/verify", data={"phone": PHONE}, headers={**csrf, "Accept-Language": "en"})
    assert again.status_code == 429
    assert "You can ask for another at" in again.text and "Beijing time" in again.text
    # A clock time on the page, not a count of minutes.
    words = explain(TooManyRequests("x", 90, code="code_resend_wait"), Texts("zh_CN"))
    assert "北京时间" in words and ":" in words


async def test_wrong_tries_are_limited_per_client_address_not_per_number(
    api: httpx.AsyncClient, conn: Connection
) -> None:
    guesser = {"X-Forwarded-For": "10.5.0.1"}
    for n in range(30):
        response = await api.post(
            "/v1/contact/sessions", json={"phone": f"+861380015{n:04d}", "code": "000000"}, headers=guesser
        )
        assert response.status_code == 401
    blocked = await api.post("/v1/contact/sessions", json={"phone": PHONE, "code": "000000"}, headers=guesser)
    assert blocked.status_code == 429
    # The owner, from her own address, is not slowed by it.
    await api.post("/v1/contact/codes", json={"phone": PHONE})
    code = await newest_code(conn, 1)
    assert (await api.post("/v1/contact/sessions", json={"phone": PHONE, "code": code})).status_code == 201


async def test_codes_go_only_to_mobiles_of_the_sms_regions(api: httpx.AsyncClient, conn: Connection) -> None:
    # A Beijing landline, an international freephone, a satellite phone, a US mobile.
    for number in ("+861058501234", "+80012345678", "+881612345678", "+14155550123"):
        refused = await api.post("/v1/contact/codes", json={"phone": number})
        assert refused.status_code == 422 and refused.json()["code"] == "not_textable", number
    assert await conn.fetchval("SELECT count(*) FROM pgqueuer") == 0
    assert await conn.fetchval("SELECT count(*) FROM contact_codes") == 0
