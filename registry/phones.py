"""Phone numbers: parse any common written form to E.164, phone keys, masked hints."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

import phonenumbers

from registry.errors import InvalidInput

# The longest raw text taken as a possible number (`+86 (0) 138-0013-8000 ext. 1234`, padded with spaces).
MAX_RAW_LENGTH = 64


def normalize(raw: str, region: str = "CN", *, field: str = "phone") -> str:
    """Parse to E.164, or raise InvalidInput naming the field.

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
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(field, "not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


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
