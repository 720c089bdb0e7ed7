"""What one country decides, in one object: numbers, clock, words of the SMS, record term, agency ids.

Everything else in the service is the same everywhere. A second country is one more
`Jurisdiction` in JURISDICTIONS (chosen with REGISTRY_JURISDICTION), not edits across
the features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from registry.errors import InvalidInput


@dataclass(frozen=True, kw_only=True)
class Jurisdiction:
    code: str
    # Numbers written without a country code are read in this region (phonenumbers' region code).
    default_region: str
    # Pages show times in this zone; the API stays UTC.
    display_zone: ZoneInfo
    # How long call records (checks, permits, attempts) are kept.
    record_retention_days: int
    # The registration number an agency is known by, its name in the API, and its check.
    agency_id_field: str
    check_agency_id: Callable[[str], str]
    # The registry's name at the start of every SMS it sends.
    sms_signature: str

    # Legal-form endings an agency's name may lose in an SMS that would not fit otherwise.
    agency_suffixes: tuple[str, ...] = ()

    def code_sms(self, code: str, minutes: int) -> str:
        """The one-time code SMS. Both languages: it goes out before we know which one the person reads.

        It warns that anyone who asks for the code is a fraudster: a caller posing as the registry
        (or a court) asking her to "read out the code" is how a collector would take over her refusal.
        At most two segments (tests/contacts/test_sms.py).
        """
        return (
            f"{self.sms_signature}验证码 {code}，{minutes} 分钟内有效。勿告诉任何人，我们从不索要，索要者即骗子。"
            f"Code {code}, valid {minutes} min. Anyone asking you for it is a fraudster."
        )

    def notice_sms(self, agency: str, link: str) -> str:
        """The notice before the first call: who will call about someone else's debt, that the contact owes
        nothing and "harbouring" (包庇) is a false threat, reply TD, the link. At most two segments.

        The English line says the essentials only: two segments hold no more. The agency's name gives
        way first (its legal form, then its end) when the link is long.
        """

        def text(name: str) -> str:
            return (
                f"{self.sms_signature}{name}将为他人欠款致电您。您不欠款，“包庇”之说不实。拒绝点链接或回TD。"
                f"You owe nothing. Reply TD to refuse all. {link}"
            )

        name = agency.strip()
        room = MAX_SMS_UNITS - utf16_units(text(""))
        if utf16_units(name) > room:
            for suffix in self.agency_suffixes:
                if name.endswith(suffix) and len(name) > len(suffix):
                    name = name[: -len(suffix)]
                    break
        cut = max(room - 1, 4)  # a long link leaves the name at least its first four characters
        if utf16_units(name) > room and len(name) > cut + 1:
            name = name[:cut] + "…"
        return text(name)

    def confirmation_sms(self, reference: str) -> str:
        """The answer to a refusal of all agencies (by SMS reply or on the pages), with the receipt's reference."""
        return (
            f"{self.sms_signature}已登记：拒绝所有催收来电，立即生效。回执号 {reference}。"
            f"Recorded: no collection calls. Receipt {reference}."
        )

    def agency_refusal_sms(self, reference: str, agency: str) -> str:
        """The receipt SMS of a refusal of one agency. The name is cut, never the reference."""
        fixed = (
            f"{self.sms_signature}已登记：拒绝的催收来电，立即生效。回执号 {reference}。"
            f"Recorded: this agency may not call. Receipt {reference}."
        )
        room = MAX_SMS_UNITS - utf16_units(fixed)
        name = agency.strip()
        if utf16_units(name) > room:
            name = name[: max(room - 1, 1)] + "…"
        return (
            f"{self.sms_signature}已登记：拒绝{name}的催收来电，立即生效。回执号 {reference}。"
            f"Recorded: this agency may not call. Receipt {reference}."
        )

    def help_sms(self, link: str) -> str:
        """The answer to any other reply (at most one a day per number)."""
        return (
            f"{self.sms_signature}回复TD拒绝所有催收来电。查看与管理：{link} "
            f"Reply TD to refuse all collection calls. More: {link}"
        )


# Two concatenated SMS in UCS-2 (any Chinese character makes a message UCS-2): 2 x 67 code units.
MAX_SMS_UNITS = 134


def utf16_units(text: str) -> int:
    """What an SMS in UCS-2 counts: UTF-16 code units (a character outside the BMP is two)."""
    return len(text.encode("utf-16-le")) // 2


def sms_segments(text: str) -> int:
    """How many SMS a text takes: GSM 7-bit when plain ASCII (160, or 153 per part), else UCS-2 (70, or 67)."""
    if text.isascii():
        single, part, units = 160, 153, len(text)
    else:
        single, part, units = 70, 67, utf16_units(text)
    return 1 if units <= single else -(-units // part)


# ---- China --------------------------------------------------------------------------------------

# GB 32100-2015: the unified social credit code's alphabet and check-character weights.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _check_character(first17: str) -> str:
    total = sum(CREDIT_CODE_ALPHABET.index(ch) * w for ch, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def check_credit_code(raw: str) -> str:
    """The code in capitals, or InvalidInput naming `credit_code` and what is wrong with it."""
    code = raw.strip().upper()
    if len(code) != 18:
        raise InvalidInput("credit_code", "a unified social credit code has 18 characters", code="credit_code_length")
    if any(ch not in CREDIT_CODE_ALPHABET for ch in code):
        raise InvalidInput(
            "credit_code",
            "only digits and the letters A-Y without I, O, S, V and Z are allowed",
            code="credit_code_alphabet",
        )
    if code[17] != _check_character(code[:17]):
        raise InvalidInput("credit_code", "the check character does not match (typo?)", code="credit_code_check")
    return code


def with_check_character(first17: str) -> str:
    """Complete 17 characters into a valid code (for tests, fixtures and benchmarks)."""
    return first17 + _check_character(first17)


CHINA = Jurisdiction(
    code="cn",
    default_region="CN",
    display_zone=ZoneInfo("Asia/Shanghai"),
    # US Regulation F 1006.100 keeps call records 3 years; we follow it (3 years and a day of slack).
    record_retention_days=1096,
    agency_id_field="credit_code",
    check_agency_id=check_credit_code,
    # The public name says whom it protects: "催收免扰" (no collection calls), not a "contact register"
    # that a reader could take for a list kept for collectors (issue 11).
    sms_signature="【催收免扰登记】",
    agency_suffixes=("股份有限公司", "有限责任公司", "有限公司"),
)

JURISDICTIONS = {CHINA.code: CHINA}
