"""Evidence files a contact attaches: recordings, screenshots, PDFs, typed by their content."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import quote
from uuid import UUID

import msgspec
import puremagic
from litestar import Response
from litestar.datastructures import UploadFile

from registry import audit
from registry.database import Connection
from registry.disputes.intake import own_dispute
from registry.disputes.records import add_event, normalize_ref
from registry.disputes.schemas import PENDING, Attachment
from registry.errors import Conflict, InvalidInput
from registry.rows import as_struct, fetch_one
from registry.sessions.contact import ContactSession

MAX_BYTES = 10 * 1024 * 1024
# The route's body limit: the file plus the multipart envelope and the form's other fields.
UPLOAD_MAX_BODY = MAX_BYTES + 64 * 1024
MAX_PER_DISPUTE = 10
FIELD = "file"

# puremagic names what the bytes are by extension more reliably than by MIME type, so
# the extension it finds (never the uploaded name) picks the type we store and serve.
TYPES_BY_EXTENSION = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".jfif": "image/jpeg",
    ".jpe": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".f4a": "audio/mp4",
    ".wav": "audio/wav",
    ".amr": "audio/amr",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".aac": "audio/aac",
    ".3gp": "audio/3gpp",
}


def content_type_of(data: bytes) -> str | None:
    """The allowed type the bytes really are, or None."""
    try:
        matches = puremagic.magic_string(data[:65536])
    except puremagic.PureError:
        return None
    for match in sorted(matches, key=lambda m: -m.confidence):
        found = TYPES_BY_EXTENSION.get(match.extension.lower())
        if found is not None:
            return found
    return None


def clean_filename(name: str | None) -> str:
    """A display name only (never a path): no directories, no control characters, bounded."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name or ""))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return base[:200] or "attachment"


COUNT = "SELECT count(*) FROM dispute_attachments WHERE dispute_id = $1"
INSERT = """
    INSERT INTO dispute_attachments (phone_key, dispute_id, filename, content_type, size, sha256, content)
    VALUES ((SELECT phone_key FROM disputes WHERE id = $1), $1, $2, $3, $4, $5, $6)
    RETURNING id, filename, content_type, size, encode(sha256, 'hex') AS sha256, created_at
"""


async def attach(conn: Connection, contact: ContactSession, ref: str, filename: str | None, data: bytes) -> Attachment:
    if not data:
        raise InvalidInput(FIELD, "the file is empty")
    if len(data) > MAX_BYTES:
        raise InvalidInput(FIELD, "larger than 10 MB")
    content_type = content_type_of(data)
    if content_type is None:
        raise InvalidInput(FIELD, "only audio recordings, images and PDF files are accepted (checked by content)")
    name = clean_filename(filename)
    async with conn.transaction():
        dispute = await own_dispute(conn, contact, ref, lock=True)
        if dispute.status not in PENDING:
            raise Conflict(f"this dispute is {dispute.status}; it takes no more attachments", code="dispute_closed")
        if await conn.fetchval(COUNT, dispute.id) >= MAX_PER_DISPUTE:
            raise Conflict(f"at most {MAX_PER_DISPUTE} attachments per dispute", code="too_many_attachments")
        digest = hashlib.sha256(data).digest()
        row = await conn.fetchrow(INSERT, dispute.id, name, content_type, len(data), digest, data)
        assert row is not None
        attachment = as_struct(row, Attachment)
        await add_event(conn, dispute.id, "contact", "attachment_added", name)
        await audit.record(
            conn,
            contact.actor,
            "dispute.attach",
            f"dispute:{dispute.ref}",
            {
                "attachment_id": str(attachment.id),
                "content_type": content_type,
                "size": len(data),
                "sha256": attachment.sha256,
            },
        )
    return attachment


class StoredFile(msgspec.Struct, frozen=True, kw_only=True):
    filename: str
    content_type: str
    content: bytes


CONTENT = """
    SELECT x.filename, x.content_type, x.content FROM dispute_attachments x JOIN disputes d ON d.id = x.dispute_id
    WHERE d.ref = $1 AND x.id = $2
"""


async def content(conn: Connection, ref: str, attachment_id: UUID) -> StoredFile:
    return await fetch_one(
        conn,
        StoredFile,
        CONTENT,
        normalize_ref(ref),
        attachment_id,
        missing="no such attachment",
        code="unknown_attachment",
    )


def download(stored: StoredFile) -> Response[bytes]:
    """Always a download, named by what the bytes are: the stored type picks the extension (a GIF
    uploaded as `x.html` downloads as `x.gif`), and a Chinese name survives (RFC 6266 `filename*`)."""
    name = download_name(stored.filename, stored.content_type)
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return Response(
        stored.content,
        media_type=stored.content_type,
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


EXTENSION_BY_TYPE = {content_type: extension for extension, content_type in reversed(TYPES_BY_EXTENSION.items())}


def download_name(filename: str, content_type: str) -> str:
    """The uploaded name's stem with the extension of the type the content was found to be."""
    stem = filename.rsplit(".", 1)[0] if "." in filename.strip(".") else filename
    return (stem or "attachment") + EXTENSION_BY_TYPE.get(content_type, ".bin")


async def read_upload(upload: UploadFile) -> bytes:
    """At most one byte past the limit, so an oversized file is refused without reading it all."""
    data = await upload.read(MAX_BYTES + 1)
    await upload.close()
    return data
