"""Phone numbers: every written form of one number is one key; a key never reveals the digits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry import phones
from registry.errors import InvalidInput
from registry.phones import mask, normalize, phone_key

PEPPER = bytes.fromhex("33" * 32)
FULL_WIDTH = str.maketrans("0123456789+-", "０１２３４５６７８９＋－")

# Mobile prefixes in use in mainland China; 8 more digits follow.
mobiles = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(["130", "138", "139", "150", "158", "177", "186", "188", "199"]),
    st.text(alphabet="0123456789", min_size=8, max_size=8),
)


def written_forms(national: str) -> list[str]:
    """Ways people write one Chinese mobile number."""
    a, b, c = national[:3], national[3:7], national[7:]
    return [
        national,
        f"{a} {b} {c}",
        f"{a}-{b}-{c}",
        f"+86{national}",
        f"+86 {a} {b} {c}",
        f"+86-{a}-{b}-{c}",
        f"0086{national}",
        f"0086 {national}",
        f"(+86) {national}",
        national.translate(FULL_WIDTH),
        f"+86-{a}-{b}-{c}".translate(FULL_WIDTH),
        f"  {national}  ",
    ]


@given(mobiles)
def test_every_written_form_has_one_key(national: str) -> None:
    keys = {phone_key(normalize(form), PEPPER) for form in written_forms(national)}
    assert len(keys) == 1
    assert {normalize(form) for form in written_forms(national)} == {"+86" + national}


@given(mobiles)
def test_key_never_equals_or_contains_the_digits(national: str) -> None:
    e164 = normalize(national)
    key = phone_key(e164, PEPPER)
    assert len(key) == 32
    for needle in (e164.encode(), national.encode(), national[-8:].encode(), bytes.fromhex(national[:10])):
        assert needle not in key
    assert national not in key.hex()


@given(mobiles)
def test_mask_keeps_only_head_and_tail(national: str) -> None:
    hint = mask(normalize(national))
    assert hint == f"+86 {national[:3]}****{national[-4:]}"
    assert national not in hint


def test_another_pepper_gives_another_key() -> None:
    e164 = normalize("13800138000")
    assert phone_key(e164, PEPPER) != phone_key(e164, bytes.fromhex("44" * 32))


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("138 0013 8000", "+8613800138000"),
        ("+86-138-0013-8000", "+8613800138000"),
        ("008613800138000", "+8613800138000"),
        ("１３８００１３８０００", "+8613800138000"),
        ("010-6552 9988", "+861065529988"),
        ("(021) 6321 1234", "+862163211234"),
        ("+1 650-253-0000", "+16502530000"),
    ],
)
def test_known_forms(written: str, e164: str) -> None:
    assert normalize(written) == e164


@pytest.mark.parametrize(
    "bad", ["", "   ", "12345", "not a number", "138001380001234567", "+86 000 0000 0000", "1" * 50]
)
def test_invalid_numbers_raise_a_field_error(bad: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalize(bad, field="borrower_phone")
    assert error.value.field == "borrower_phone"


@pytest.mark.parametrize(
    ("number", "textable"),
    [
        ("+8613800138000", True),  # a mainland mobile
        ("+8617012345678", True),  # a virtual operator's mobile
        ("+861058501234", False),  # a Beijing landline
        ("+14155550123", False),  # a US number: not one of REGISTRY_SMS_REGIONS
        ("+881612345678", False),  # a satellite phone
        ("+80012345678", False),  # international freephone
        ("+85251234567", False),  # a Hong Kong mobile, outside CN
    ],
)
def test_only_mobiles_of_the_sms_regions_get_our_sms(number: str, textable: bool) -> None:
    assert phones.parse(number).can_text(("CN",)) is textable
    assert phones.textable(number, ("CN",)) is textable


def test_another_region_can_be_added() -> None:
    assert phones.parse("+85251234567").can_text(("CN", "HK"))


# The fast path for plain mainland mobiles (phones._plain_cn_mobile) must answer exactly as
# phonenumbers' general parser does, or not at all.
eleven_digits = st.text(alphabet="0123456789", min_size=10, max_size=10).map(lambda rest: "1" + rest)


def _general(raw: str, region: str) -> phones.Number | None:
    try:
        return phones.parse_any_form(raw, region)
    except InvalidInput:
        return None


@given(eleven_digits, st.sampled_from(["", "+86"]), st.sampled_from(["CN", "US", "HK"]))
def test_the_plain_mobile_fast_path_agrees_with_phonenumbers(national: str, prefix: str, region: str) -> None:
    raw = prefix + national
    general = _general(raw, region)
    fast = phones._plain_cn_mobile(raw, region)
    if fast is not None:
        assert fast == general
    try:
        whole: phones.Number | None = phones.parse(raw, region)
    except InvalidInput:
        whole = None
    assert whole == general


def test_every_mainland_mobile_prefix_takes_the_fast_path_exactly_when_phonenumbers_says_mobile() -> None:
    # Every four-digit prefix from 1000 to 1999 with a few endings: where phonenumbers calls the
    # number a valid CN mobile the fast path must answer the same; where it does not, the fast path
    # must decline.
    answered = 0
    for prefix in range(1000, 2000):
        for ending in ("0000000", "5555555", "9999999", "0123456"):
            national = f"{prefix}{ending}"
            general = _general(national, "CN")
            fast = phones._plain_cn_mobile(national, "CN")
            if general is not None and general.mobile and general.region == "CN":
                assert fast == general, national
                answered += 1
            else:
                assert fast is None, national
    assert answered > 1000  # most of 13x-19x are mobile ranges: the fast path is really taken
