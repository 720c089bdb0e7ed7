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

    def code_sms(self, code: str, minutes: int) -> str:
        """The one-time code SMS. Both languages: it goes out before we know which one the person reads."""
        return (
            f"{self.sms_signature}验证码 {code}，{minutes} 分钟内有效。"
            f"Contact registry code: {code}, valid {minutes} minutes."
        )


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
    sms_signature="【催收联系人登记】",
)

JURISDICTIONS = {CHINA.code: CHINA}
