"""Phone numbers: parse any common written form to E.164, phone keys, masked hints."""

from __future__ import annotations

import hashlib
import hmac
import re
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


def _plan_patterns(region: str) -> tuple[re.Pattern[str], re.Pattern[str], tuple[re.Pattern[str], ...]]:
    """The region's whole plan, its mobile pattern, and every other kind's, from phonenumbers' own metadata."""
    plan = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert plan is not None and plan.general_desc is not None and plan.mobile is not None
    others = (
        plan.fixed_line, plan.toll_free, plan.premium_rate, plan.shared_cost, plan.personal_number,
        plan.voip, plan.pager, plan.uan, plan.voicemail,
    )  # fmt: skip
    return (
        re.compile(plan.general_desc.national_number_pattern or "(?!)"),
        re.compile(plan.mobile.national_number_pattern or "(?!)"),
        tuple(re.compile(d.national_number_pattern) for d in others if d is not None and d.national_number_pattern),
    )


_CN_PLAN, _CN_MOBILE, _CN_OTHER_KINDS = _plan_patterns("CN")


def _plain_cn_mobile(raw: str, region: str) -> Number | None:
    """The common case without phonenumbers' general parser: `13800138000` or `+8613800138000`.

    A dialer's batch is mostly plain 11-digit mainland mobiles, and phonenumbers.parse spends most
    of its time on forms they never take (letters, extensions, punctuation, national prefixes).
    This answers only when phonenumbers would say the same: the number fits the plan and its
    mobile pattern and no other kind's (phonenumbers types a number in that order). Anything else
    returns None and takes the general path; tests/test_phones.py proves the two agree.
    """
    if len(raw) == 14 and raw.startswith("+86"):
        national = raw[3:]
    elif len(raw) == 11 and region == "CN":
        national = raw
    else:
        return None
    if not (national.isascii() and national.isdigit() and national[0] == "1"):
        return None
    if not (_CN_PLAN.fullmatch(national) and _CN_MOBILE.fullmatch(national)):
        return None
    if any(kind.fullmatch(national) for kind in _CN_OTHER_KINDS):
        return None
    return Number(e164="+86" + national, region="CN", mobile=True)


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
    return _plain_cn_mobile(raw, region) or parse_any_form(raw, region, field=field)


def parse_any_form(raw: str, region: str = "CN", *, field: str = "phone") -> Number:
    """`parse` through phonenumbers' general parser, whatever the form."""
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
