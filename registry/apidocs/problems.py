"""Each kind of problem the API answers, in plain words: what it means and what to do.

A problem's `type` is `/problems/{kind}`; these are the words of that page. The kinds are the
ones registry.errors can emit (`problem_kinds()`); a test fails when one has no words here.
The words are for the developers of agencies' systems and contacts' apps, in both languages.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Words:
    statuses: tuple[int, ...]
    en: tuple[str, str]  # what it means, what to do
    zh: tuple[str, str]


PROBLEMS: dict[str, Words] = {
    "bad_request": Words(
        (400,),
        (
            "The request could not be read: it is not well-formed (broken JSON, a NUL character, a body nested "
            "too deeply) or a header or parameter is malformed.",
            "Fix the request; sending it again unchanged will get the same answer.",
        ),
        (
            "请求无法解析：格式不正确（JSON 损坏、含有 NUL 字符、嵌套过深），或某个请求头、参数格式错误。",
            "请修正请求后再发送；原样重发会得到同样的答复。",
        ),
    ),
    "invalid_input": Words(
        (400, 422),
        (
            "A value in the request is not acceptable: a field of the wrong type or a missing or unknown field "
            "(400), or a value the registry refuses, such as a phone number that is not one or a time in the "
            "future (422). `errors` names each bad field and says what is wrong with it.",
            "Correct the fields named in `errors`. Decide by `code` and `errors[].field`, not by the English text.",
        ),
        (
            "请求中的某个值不被接受：字段类型错误、缺少字段或有未定义的字段（400），或登记处拒绝的值，"
            "例如不是电话号码的号码、未来的时间（422）。`errors` 逐一列出出错的字段及原因。",
            "请更正 `errors` 中列出的字段。请依据 `code` 和 `errors[].field` 处理，不要依据英文说明。",
        ),
    ),
    "unauthorized": Words(
        (401,),
        (
            "The request carries no credentials, or ones the registry does not accept: an unknown or revoked API "
            "key, an ended or expired session, or a wrong SMS code.",
            "Send `Authorization: Bearer <token>` with a live token of the right kind: an agency's API key "
            "(`rk_...`), a contact's session token, or a staff session token (`ra_...`). Sessions expire; sign "
            "in again.",
        ),
        (
            "请求没有携带凭证，或凭证不被接受：API 密钥未知或已吊销、会话已结束或过期、短信验证码错误。",
            "请发送 `Authorization: Bearer <令牌>`，使用正确种类的有效令牌：机构的 API 密钥（`rk_...`）、"
            "联系人的会话令牌，或工作人员的会话令牌（`ra_...`）。会话会过期，过期后请重新登录。",
        ),
    ),
    "forbidden": Words(
        (403,),
        (
            "The caller is known but may not do this: a reviewer asked for work that needs the admin role, for "
            "example suspending an agency.",
            "Ask someone with the admin role.",
        ),
        (
            "调用者身份已确认，但无权进行此操作：例如审核员请求了需要管理员角色的操作（如暂停某机构）。",
            "请由具有管理员角色的人员操作。",
        ),
    ),
    "agency_suspended": Words(
        (403,),
        (
            "The agency is suspended by the registry (after upheld complaints, for example). A suspended agency "
            "gets no answers to its checks, so it has no permit to call anyone.",
            "Contact the registry. The public list `GET /v1/agencies` shows each agency's status.",
        ),
        (
            "该机构已被登记处暂停（例如投诉被认定成立之后）。被暂停的机构查询不会得到答复，因此无权拨打任何联系人。",
            "请联系登记处。公开列表 `GET /v1/agencies` 显示每个机构的状态。",
        ),
    ),
    "not_found": Words(
        (404,),
        (
            "There is no such resource, or it belongs to another agency: one agency never sees another's checks, "
            "attempts or complaints, and cannot tell them from ones that do not exist.",
            "Check the identifier or reference; use the ones the registry gave you.",
        ),
        (
            "没有该资源，或它属于另一个机构：一个机构永远看不到其他机构的查询、拨打记录或投诉，也无法把它们与不存在的资源区分开。",
            "请核对标识或编号，使用登记处给出的那些。",
        ),
    ),
    "method_not_allowed": Words(
        (405,),
        (
            "The path exists, but not with this HTTP method.",
            "See the API document at /schema for the methods each path takes.",
        ),
        ("该路径存在，但不支持此 HTTP 方法。", "各路径支持的方法见 /schema 的 API 文档。"),
    ),
    "conflict": Words(
        (409,),
        (
            "The request contradicts what the registry already holds: an `Idempotency-Key` used before with a "
            "different body, a complaint already decided, or a name or credit code already registered.",
            "A retry must send the same body with the same `Idempotency-Key`; new work needs a new key. "
            "Otherwise read the current state and decide again.",
        ),
        (
            "请求与登记处已有的记录冲突：同一个 `Idempotency-Key` 之前用于不同的请求内容、投诉已经裁定，或名称、"
            "统一社会信用代码已登记。",
            "重试时必须以同一个 `Idempotency-Key` 发送相同的内容；新的请求需要新的键。否则请读取当前状态后再决定。",
        ),
    ),
    "too_large": Words(
        (413,),
        (
            "The request body is larger than this operation takes: 256 KB for most, 4 MB for a batch of checks, "
            "10 MB for an attachment.",
            "Send less: split a batch, or compress the recording or image.",
        ),
        (
            "请求内容超过该操作允许的大小：多数操作为 256 KB，批量查询为 4 MB，附件为 10 MB。",
            "请减少内容：拆分批量查询，或压缩录音、图片。",
        ),
    ),
    "unsupported_media_type": Words(
        (415,),
        (
            "The body is in a format this operation does not take.",
            "Send JSON (`Content-Type: application/json`), or multipart/form-data for attachments.",
        ),
        (
            "请求内容的格式不被该操作接受。",
            "请发送 JSON（`Content-Type: application/json`），附件使用 multipart/form-data。",
        ),
    ),
    "too_many_requests": Words(
        (429,),
        (
            "A limit was reached: an API key's requests per minute, SMS codes per number or per hour, wrong "
            "codes, sign-in tries, or complaints per day. The limits protect contacts and the service.",
            "Wait the number of seconds in the `Retry-After` header, then try again.",
        ),
        (
            "达到了某项限制：API 密钥每分钟的请求数、每个号码或每小时的验证码条数、错误验证码次数、登录尝试次数，"
            "或每天的投诉数。这些限制保护联系人和服务。",
            "请等待 `Retry-After` 响应头中的秒数后再试。",
        ),
    ),
    "unavailable": Words(
        (503,),
        (
            "The registry cannot reach its database just now, or every connection is busy, or the SMS could not "
            "be sent. Nothing was decided or recorded by this request.",
            "Wait the number of seconds in `Retry-After`, then send the same request again (with the same "
            "`Idempotency-Key`, if it had one).",
        ),
        (
            "登记处暂时无法连接数据库、所有连接都在忙，或短信未能发出。此次请求没有做出任何决定，也没有记录任何内容。",
            "请等待 `Retry-After` 中的秒数后，再次发送同样的请求（如有 `Idempotency-Key`，请使用同一个）。",
        ),
    ),
    "request_timeout": Words(
        (408,),
        (
            "The request's headers or body did not arrive in time, so the connection was closed.",
            "Send the request again, whole and without pauses.",
        ),
        ("请求头或请求内容未能及时送达，连接已关闭。", "请重新完整、连续地发送请求。"),
    ),
    "internal": Words(
        (500,),
        (
            "Something failed inside the registry. It is logged and will be looked into.",
            "Try again later; if it keeps happening, tell the registry the time and the operation.",
        ),
        ("登记处内部出错，已记录并将调查。", "请稍后再试；如果反复出现，请把时间和操作告知登记处。"),
    ),
    "error": Words(
        (),
        (
            "An error the other kinds do not describe; `status` and `detail` say what happened.",
            "Read `status` and `detail`; retry only if the status is 5xx.",
        ),
        (
            "其他种类未涵盖的错误；`status` 和 `detail` 说明了发生的情况。",
            "请查看 `status` 和 `detail`；仅在状态码为 5xx 时重试。",
        ),
    ),
}
