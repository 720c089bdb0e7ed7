"""SMS replies: the gateway posts what contacts text back; `TD` (or 拒绝, R, N) refuses all agencies.

Replying to any SMS of ours refuses every agency, with no code and no site: nothing a collector
does to the code limits can stop it. The contact gets a confirmation with the receipt's
reference; any other text gets a short help reply, at most one per number a day. The gateway's
message id makes a repeated post answer the same and do nothing twice. The text is not kept.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from registry import phones
from registry.contacts import rules
from registry.contacts.codes import LOCK, lock_id
from registry.database import Connection
from registry.settings import Settings
from registry.sms import queue_sms

InboundAction = Literal["refused", "help", "quiet"]


class InboundSms(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A message a contact sent us, as the gateway posts it."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    sender: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = msgspec.field(name="from")
    text: Annotated[str, msgspec.Meta(max_length=2000)]
    received_at: datetime


class InboundResult(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """What the registry did: `refused` (receipt_id says which receipt), `help` (help reply queued),
    `quiet` (no reply: one help reply a day is enough, or the number cannot get our SMS)."""

    id: str
    action: InboundAction
    receipt_id: UUID | None = None


# Latin words stand alone (`TD`, `td.`, `回复TD`), so "No" or "Robert" refuse nothing; Chinese ones
# count anywhere in the text. 退订 ("unsubscribe") is what Chinese SMS conventionally ask for.
LATIN_WORDS = frozenset({"TD", "R", "N"})
CHINESE_WORDS = ("拒绝", "退订")
NOT_LATIN = re.compile(r"[^0-9A-Z]+")


def refuses(text: str) -> bool:
    """Whether a reply refuses all agencies: TD, 拒绝, R or N, any case, full-width too, around other text."""
    folded = unicodedata.normalize("NFKC", text).upper()
    if any(word in folded for word in CHINESE_WORDS):
        return True
    return any(word in LATIN_WORDS for word in NOT_LATIN.split(folded))


def reference(receipt_id: UUID) -> str:
    """A receipt's reference in an SMS, as the receipt page shows it."""
    return rules.receipt_reference(receipt_id)


SEEN = "SELECT action, receipt_id FROM sms_inbound WHERE phone_key = $1 AND gateway_id = $2"
HELPED_TODAY = """
    SELECT EXISTS (SELECT 1 FROM sms_inbound
                   WHERE phone_key = $1 AND action = 'help' AND recorded_at > now() - interval '1 day')
"""
RECORD = """
    INSERT INTO sms_inbound (phone_key, gateway_id, received_at, action, receipt_id) VALUES ($1, $2, $3, $4, $5)
"""


async def receive(conn: Connection, settings: Settings, message: InboundSms) -> InboundResult:
    """Act on one reply, once (by the gateway's id), in one transaction with the SMS it queues."""
    number = phones.parse(message.sender, settings.default_region, field="from")
    key = phones.phone_key(number.e164, settings.pepper)
    textable = number.can_text(settings.sms_regions)
    async with conn.transaction():
        await conn.execute(LOCK, lock_id(key))
        seen = await conn.fetchrow(SEEN, key, message.id)
        if seen is not None:
            return InboundResult(id=message.id, action=seen["action"], receipt_id=seen["receipt_id"])
        receipt_id = None
        action: InboundAction
        if refuses(message.text):
            recorded = await rules.refuse(conn, settings, key, "sms")
            action, receipt_id = "refused", recorded.receipt.id
            if textable:
                text = settings.jurisdiction.confirmation_sms(reference(receipt_id))
                await queue_sms(conn, settings, "confirmation", number.e164, text)
        elif textable and not await conn.fetchval(HELPED_TODAY, key):
            action = "help"
            await queue_sms(conn, settings, "help", number.e164, settings.jurisdiction.help_sms(settings.public_url))
        else:
            action = "quiet"
        await conn.execute(RECORD, key, message.id, message.received_at, action, receipt_id)
    return InboundResult(id=message.id, action=action, receipt_id=receipt_id)
