"""A downloaded file is named by what its bytes are, and keeps a Chinese name (RFC 6266 filename*)."""

from __future__ import annotations

from urllib.parse import unquote

import httpx

from registry.database import Connection
from registry.settings import Settings
from tests.factories import auth, contact_session, file_dispute, make_agency, staff_token

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
    b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


async def test_a_gif_named_html_downloads_as_gif_with_its_chinese_name(
    api: httpx.AsyncClient,
    conn: Connection,
    settings: Settings,
) -> None:
    agency = await make_agency(conn)
    contact = await contact_session(conn, "13800138000")
    ref = await file_dispute(conn, settings, contact, agency.id)
    for name in ("x.html", "催收短信截图.html"):
        sent = await api.post(
            f"/v1/contact/disputes/{ref}/attachments", files={"file": (name, GIF, "text/html")}, headers=auth(contact)
        )
        assert sent.status_code == 201, sent.text
    reviewer = await staff_token(api, conn)
    case = (await api.get(f"/v1/admin/disputes/{ref}", headers=auth(reviewer))).json()
    names = []
    for attachment in case["attachments"]:
        download = await api.get(f"/v1/admin/disputes/{ref}/attachments/{attachment['id']}", headers=auth(reviewer))
        assert download.headers["content-type"] == "image/gif"
        disposition = download.headers["content-disposition"]
        assert ".html" not in disposition
        names.append(unquote(disposition.split("filename*=UTF-8''", 1)[1]))
    assert sorted(names) == sorted(["x.gif", "催收短信截图.gif"])
