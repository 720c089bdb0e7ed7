"""Phone numbers: parse any common written form to E.164, phone keys, masked hints."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Collection
from typing import NamedTuple

import phonenumbers
from phonenumbers import PhoneNumberType

from registry.errors import InvalidInput

# The longest raw text taken as a possible number (`+86 (0) 138-0013-8000 ext. 1234`, padded with spaces).
MAX_RAW_LENGTH = 64


# What can receive an SMS. FIXED_LINE_OR_MOBILE is a region (the US, say) whose plans do not tell them apart.
TEXTABLE = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})


class Number(NamedTuple):
    e164: str
    region: str  # phonenumbers' region of the number ("CN"; "001" for satellite, freephone and other global ones)
    mobile: bool  # a mobile number (or one its region's plan cannot tell from one)

    def can_text(self, regions: Collection[str]) -> bool:
        """Whether we send this number an SMS: a mobile of one of `regions` (REGISTRY_SMS_REGIONS).

        Not satellite, international freephone, premium or landline numbers, nor other countries':
        an SMS to those costs the most and is what SMS pumping abuses.
        """
        return self.mobile and self.region in regions


def normalize(raw: str, region: str = "CN", *, field: str = "phone") -> str:
    """Parse to E.164, or raise InvalidInput naming the field (see `parse`)."""
    return parse(raw, region, field=field).e164


def parse(raw: str, region: str = "CN", *, field: str = "phone") -> Number:
    """Parse to E.164 with the number's region and kind, or raise InvalidInput naming the field.

    Full-width digits and the international prefix 00 are folded first, so
    `１３８…`, `0086 138…` and `+86-138-…` are one number.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput(field, "a phone number is required")
    # Measured before NFKC: its cost grows with the input, for some characters with its square
    # (85,000 x U+0F73 takes 20 s), and no way of writing a number comes near this length.
    if len(raw) > MAX_RAW_LENGTH:
        raise InvalidInput(field, "too long to be a phone number")
    text = unicodedata.normalize("NFKC", raw).strip()
    if len(text) > 40:
        raise InvalidInput(field, "too long to be a phone number")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(field, "not a phone number") from None
    # number_type is what is_valid_number computes (UNKNOWN: not valid), so the kind costs nothing more.
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        raise InvalidInput(field, "not a valid phone number")
    return Number(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(number) or "",
        mobile=kind in TEXTABLE,
    )


def textable(e164: str, regions: Collection[str]) -> bool:
    """`Number.can_text` for a number already in E.164."""
    return parse(e164).can_text(regions)


def phone_key(e164: str, pepper: bytes) -> bytes:
    """HMAC-SHA256 of the E.164 number under the pepper: what tables hold instead of the number."""
    return hmac.new(pepper, e164.encode(), hashlib.sha256).digest()


def mask(e164: str) -> str:
    """A hint for display: `+86 138****8000` (country code, first three, last four)."""
    number = phonenumbers.parse(e164)
    national = phonenumbers.national_significant_number(number)
    keep_head = 3 if len(national) >= 10 else min(2, max(len(national) - 4, 0))
    hidden = max(len(national) - keep_head - 4, 1)
    return f"+{number.country_code} {national[:keep_head]}{'*' * hidden}{national[-4:]}"
