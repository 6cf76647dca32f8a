from __future__ import annotations

import hmac

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.phone import (
    CallerNumber,
    InvalidNumber,
    country_calling_code,
    mask,
    number_hash,
    number_type,
    parse_caller,
    parse_number,
    spell_digits,
)

BULLETS = "••• •••"
REASONS = {"unparseable", "invalid", "not_possible", "withheld"}
REGIONS = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if r != "001")


# --- parse_caller -------------------------------------------------------------------------


def test_parse_caller_valid_italian_mobile() -> None:
    caller = parse_caller("+393331234567")
    assert caller == CallerNumber(
        raw="+393331234567", e164="+393331234567", region="IT", withheld=False
    )
    assert caller.usable
    assert caller.masked == f"+39 {BULLETS} 4567"


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        (" +1 415 555 2671 ", "US"),
        ("14155552671", "US"),  # some gateways drop the "+"
        ("+8613800138000", "CN"),
        ("+85291234567", "HK"),
        ("tel:+44-20-7183-8750", "GB"),
    ],
)
def test_parse_caller_formats(raw: str, region: str) -> None:
    caller = parse_caller(raw)
    assert caller.region == region
    assert caller.e164 is not None and caller.e164.startswith("+")
    assert not caller.withheld


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "anonymous",
        "Anonymous",
        "ANONYMOUS",
        "restricted",
        "unknown",
        "unavailable",
        "+266696687",
        " +266696687 ",
        "266696687",
        "+7378742833",
        "+86282452253",
        "+2562533",
    ],
)
def test_parse_caller_withheld(raw: str | None) -> None:
    caller = parse_caller(raw)
    assert caller.withheld
    assert caller.e164 is None
    assert caller.region is None
    assert caller.masked == "withheld"


@pytest.mark.parametrize(
    "raw", ["client:bob", "client:alice", "sip:alice@example.com", "garbage", "+12345", "+999"]
)
def test_parse_caller_not_a_number(raw: str) -> None:
    caller = parse_caller(raw)
    assert caller.e164 is None
    assert caller.region is None
    assert not caller.withheld


def test_parse_caller_non_geographic_has_no_region() -> None:
    caller = parse_caller("+80012345678")  # international freephone, region "001"
    assert caller.e164 == "+80012345678"
    assert caller.region is None


def test_caller_repr_does_not_leak_the_number() -> None:
    caller = parse_caller("+393331234567")
    assert "3331234567" not in repr(caller)
    assert "3331234567" not in str(caller)
    assert "4567" in repr(caller)


@pytest.mark.parametrize("region", ["IT", "US", "GB", "JP", "DE", "CN", "AU", "BR"])
def test_parse_caller_example_numbers(region: str) -> None:
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
        example = phonenumbers.example_number_for_type(region, kind)
        assert example is not None
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        assert parse_caller(e164).region == region


@settings(deadline=None)
@given(st.one_of(st.none(), st.text(), st.from_regex(r"\+?[0-9 ]{0,20}", fullmatch=True)))
def test_parse_caller_never_raises(raw: str | None) -> None:
    caller = parse_caller(raw)
    assert isinstance(caller, CallerNumber)
    if caller.withheld:
        assert caller.e164 is None
    if caller.e164 is not None:
        assert phonenumbers.is_valid_number(phonenumbers.parse(caller.e164, None))
    if caller.region is not None:
        assert caller.region in phonenumbers.SUPPORTED_REGIONS


# --- parse_number -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+393331234567", None, "+393331234567"),
        ("+39 333 123 4567", None, "+393331234567"),
        ("0039 333 1234567", "IT", "+393331234567"),
        ("0039 333 1234567", "DE", "+393331234567"),
        ("00393331234567", None, "+393331234567"),  # "00" as typed on a keypad
        ("00393331234567", "US", "+393331234567"),  # Chinese habit in a 011 country
        ("011 39 333 1234567", "US", "+393331234567"),
        ("333 1234567", "IT", "+393331234567"),
        ("(415) 555-2671", "us", "+14155552671"),
        ("13800138000", "CN", "+8613800138000"),
    ],
)
def test_parse_number(raw: str, region: str | None, expected: str) -> None:
    assert parse_number(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("anonymous", None, "withheld"),
        ("", None, "withheld"),
        ("+266696687", None, "withheld"),
        ("client:bob", None, "unparseable"),
        ("hello", None, "unparseable"),
        ("3331234567", None, "unparseable"),  # national format needs a region
        ("+12345", None, "not_possible"),
        ("+1 415 555 267", None, "not_possible"),
        ("+1 099 555 2671", None, "invalid"),
    ],
)
def test_parse_number_rejects(raw: str, region: str | None, reason: str) -> None:
    with pytest.raises(InvalidNumber) as excinfo:
        parse_number(raw, region)
    assert excinfo.value.reason == reason
    assert isinstance(excinfo.value, ValueError)
    if any(ch.isdigit() for ch in raw):
        # Exception messages end up in logs: they must not carry the number.
        assert raw.strip("+") not in str(excinfo.value)


_FORMATS = [
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
]


@st.composite
def _near_real_numbers(draw: st.DrawFn) -> tuple[str, str | None]:
    """An example number of some region, in some format, with its last digits changed.

    Random text almost never is a valid number; this makes the valid branch run too.
    """
    region = draw(st.sampled_from(REGIONS))
    example = phonenumbers.example_number(region)
    if example is None:
        return draw(st.text()), region
    text = phonenumbers.format_number(example, draw(st.sampled_from(_FORMATS)))
    tail = draw(st.text(alphabet="0123456789", max_size=3))
    if tail:
        text = text[: -len(tail)] + tail
    if draw(st.booleans()) and text.startswith("+"):
        text = "00" + text[1:]
    return text, draw(st.sampled_from([region, None]))


@settings(deadline=None)
@given(
    st.one_of(
        st.tuples(
            st.one_of(st.text(), st.from_regex(r"(\+|00)?[0-9 ]{1,18}", fullmatch=True)),
            st.one_of(st.none(), st.sampled_from(REGIONS)),
        ),
        _near_real_numbers(),
    )
)
def test_parse_number_valid_or_invalid_number(case: tuple[str, str | None]) -> None:
    raw, region = case
    try:
        e164 = parse_number(raw, region)
    except InvalidNumber as exc:
        assert exc.reason in REASONS
        return
    reparsed = phonenumbers.parse(e164, None)
    assert phonenumbers.is_valid_number(reparsed)
    assert phonenumbers.format_number(reparsed, phonenumbers.PhoneNumberFormat.E164) == e164


# --- number_type --------------------------------------------------------------------------


def test_number_type() -> None:
    assert number_type("+393331234567") == "mobile"
    assert number_type("+442071838750") == "fixed_line"
    assert number_type("+14155552671") == "fixed_line_or_mobile"
    assert number_type("+80012345678") == "toll_free"
    assert number_type("not a number") == "unknown"
    assert number_type("+12345") == "unknown"


# --- mask ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+393331234567", f"+39 {BULLETS} 4567"),
        ("+1 415 555 2671", f"+1 {BULLETS} 2671"),
        ("+8613800138000", f"+86 {BULLETS} 8000"),
        ("+3524712345", f"+352 {BULLETS} 45"),  # 7-digit national number: only the last 2
        ("+35412", f"+354 {BULLETS}"),  # too short to show anything
        (None, "withheld"),
        ("", "withheld"),
        ("anonymous", "withheld"),
        ("+266696687", "withheld"),
        ("client:bob", "•••"),
        ("garbage 1234567890", "•••"),
    ],
)
def test_mask(number: str | None, expected: str) -> None:
    assert mask(number) == expected


def _revealed_digits(masked: str) -> str:
    """Digits a mask shows beyond the country calling code."""
    if masked in {"withheld", "•••"}:
        return ""
    country, _, rest = masked.partition(" ")
    assert country.startswith("+") and country[1:].isdigit()
    assert rest.startswith(BULLETS)
    return "".join(ch for ch in rest if ch.isdigit())


@settings(deadline=None)
@given(st.one_of(st.none(), st.text()))
def test_mask_arbitrary_text_reveals_at_most_four_digits(text: str | None) -> None:
    masked = mask(text)
    assert len(_revealed_digits(masked)) <= 4
    assert set(masked) <= set("+0123456789• withheld")


@settings(deadline=None)
@given(st.sampled_from(REGIONS), st.text(alphabet="0123456789", min_size=1, max_size=15))
def test_mask_reveals_only_the_last_four_digits(region: str, national: str) -> None:
    code = phonenumbers.country_code_for_region(region)
    masked = mask(f"+{code}{national}")
    revealed = _revealed_digits(masked)
    assert len(revealed) <= 4
    assert national.endswith(revealed)
    if masked != "•••":
        assert masked.startswith(f"+{code} ")


# --- number_hash --------------------------------------------------------------------------


def test_number_hash_is_keyed_hmac_sha256() -> None:
    key = b"secret key"
    digest = number_hash("+393331234567", key)
    assert digest == hmac.new(key, b"+393331234567", "sha256").hexdigest()
    assert len(digest) == 64
    assert "3331234567" not in digest


def test_number_hash_normalises_and_separates() -> None:
    key = b"k"
    assert number_hash("+39 333 123 4567", key) == number_hash("+393331234567", key)
    assert number_hash("+393331234567", key) != number_hash("+393331234568", key)
    assert number_hash("+393331234567", key) != number_hash("+393331234567", b"other")


@pytest.mark.parametrize("number", ["anonymous", "", "+266696687", "client:bob", "nonsense"])
def test_number_hash_refuses_non_numbers(number: str) -> None:
    with pytest.raises(ValueError):
        number_hash(number, b"k")


def test_number_hash_needs_a_key() -> None:
    with pytest.raises(ValueError):
        number_hash("+393331234567", b"")


# --- spell_digits, country_calling_code ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("112", "1 1 2"), ("+39 333", "3 9 3 3 3"), ("1669", "1 6 6 9"), ("", ""), ("abc", "")],
)
def test_spell_digits(text: str, expected: str) -> None:
    assert spell_digits(text) == expected


def test_country_calling_code() -> None:
    assert country_calling_code("IT") == 39
    assert country_calling_code("it") == 39
    assert country_calling_code("US") == 1
    assert country_calling_code("CN") == 86
    assert country_calling_code("XX") is None
    assert country_calling_code("") is None
