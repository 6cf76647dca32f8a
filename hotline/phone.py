"""Telephone numbers: parsing caller IDs, masking them for display, hashing them for lookups.

Everything here is pure (no I/O, no clock) and every judgement about whether a string is a
phone number is left to ``phonenumbers``; hand-written patterns go stale as numbering plans change.

Privacy: the people calling are in distress and may be hiding from someone. Numbers are never
put into exception messages or ``repr`` output, because both end up in logs; use :func:`mask`
to show a number and :func:`number_hash` to recognise a repeat caller without storing the number.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

__all__ = [
    "CallerNumber",
    "InvalidNumber",
    "InvalidReason",
    "country_calling_code",
    "mask",
    "number_hash",
    "number_type",
    "parse_caller",
    "parse_number",
    "spell_digits",
]

InvalidReason = Literal["unparseable", "invalid", "not_possible", "withheld"]

# Words Twilio (and carriers behind it) put in ``From`` when the caller withheld their number.
# Compared case-insensitively; "" is here because an empty From means the same thing.
_WITHHELD_WORDS = frozenset(
    {"", "anonymous", "restricted", "unknown", "unavailable", "private", "withheld", "blocked"}
)

# Twilio's documented placeholder numbers for withheld caller IDs: they spell ANONYMOUS,
# RESTRICTED, UNAVAILABLE and BLOCKED on a keypad. Some parse as numbers of real countries, so
# they are listed explicitly rather than trusting that phonenumbers will always call them invalid;
# treating them as real callers would merge every anonymous caller into one "repeat caller".
_TWILIO_PLACEHOLDERS = frozenset({"+266696687", "+7378742833", "+86282452253", "+2562533"})

# Caller IDs of Twilio Client (WebRTC) and SIP calls: addresses, not phone numbers.
_URI_SCHEMES = ("client:", "sip:", "sips:")

# Stand-ins shown instead of a number; also what mask() returns, so logs read the same everywhere.
_WITHHELD_TEXT = "withheld"
_GARBAGE_TEXT = "•••"
_HIDDEN_GROUPS = "••• •••"

# phonenumbers uses these for numbers that belong to no single country (e.g. +800 freephone).
_NON_GEOGRAPHIC_REGIONS = frozenset({"001", "ZZ"})

_ASCII_DIGITS = frozenset("0123456789")
# Separators people and systems put inside numbers; ignored when deciding whether a string
# without "+" is "just digits" and may be read as international.
_SEPARATORS = frozenset(" -.()/\t")


class InvalidNumber(ValueError):
    """A string that cannot be used as a phone number.

    ``reason`` is machine-readable (one of :data:`InvalidReason`); the message never contains
    the number itself, so the exception is safe to log.
    """

    reason: InvalidReason

    def __init__(self, reason: InvalidReason, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message or reason)


@dataclass(frozen=True, repr=False)
class CallerNumber:
    """What we know about the number a call came from.

    ``e164`` is set only for numbers phonenumbers considers valid, so anything downstream
    (callbacks, repeat-caller hashing) can rely on it being dialable.
    """

    raw: str
    e164: str | None
    region: str | None
    withheld: bool

    @property
    def usable(self) -> bool:
        return self.e164 is not None

    @property
    def masked(self) -> str:
        return mask(self.raw)

    def __repr__(self) -> str:
        # The generated repr would print the full number into every log line and traceback.
        return (
            f"CallerNumber(masked={self.masked!r}, region={self.region!r}, "
            f"withheld={self.withheld!r})"
        )


def _is_withheld_marker(text: str) -> bool:
    """True for Twilio's ways of saying "no caller ID" (``text`` already stripped)."""
    if text.casefold() in _WITHHELD_WORDS:
        return True
    compact = _compact(text)
    if compact.startswith("+"):
        return compact in _TWILIO_PLACEHOLDERS
    return "+" + compact in _TWILIO_PLACEHOLDERS


def _compact(text: str) -> str:
    return "".join(ch for ch in text if ch not in _SEPARATORS)


def _is_uri(text: str) -> bool:
    return text.casefold().startswith(_URI_SCHEMES)


def _international_candidate(text: str) -> str | None:
    """The string to hand phonenumbers without a default region, or None if hopeless.

    Twilio always sends E.164, but some gateways drop the "+"; a string of bare digits is read
    as E.164 without its plus. Anything else without "+" would need a region to mean anything.
    """
    if text.startswith("+") or text.casefold().startswith("tel:"):
        return text
    compact = _compact(text)
    if compact and set(compact) <= _ASCII_DIGITS:
        return "+" + compact
    return None


def _parse_international(text: str) -> PhoneNumber | None:
    candidate = _international_candidate(text)
    if candidate is None:
        return None
    try:
        return phonenumbers.parse(candidate, None)
    except NumberParseException:
        return None


def _region_of(number: PhoneNumber) -> str | None:
    region = phonenumbers.region_code_for_number(number)
    if region is None or region in _NON_GEOGRAPHIC_REGIONS:
        return None
    return region


def _e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def parse_caller(raw: str | None) -> CallerNumber:
    """Interpret Twilio's ``From`` value. Never raises: a caller ID we cannot read must not
    drop a call to a crisis line."""
    raw_text = raw if isinstance(raw, str) else ""
    try:
        return _parse_caller(raw_text)
    except Exception:
        # Deliberately broad: phonenumbers is a large port of a Java library and this runs in
        # the webhook answering a person in distress. An unreadable number is just "unknown".
        return CallerNumber(raw=raw_text, e164=None, region=None, withheld=False)


def _parse_caller(raw: str) -> CallerNumber:
    text = raw.strip()
    if _is_withheld_marker(text):
        return CallerNumber(raw=raw, e164=None, region=None, withheld=True)
    not_a_number = CallerNumber(raw=raw, e164=None, region=None, withheld=False)
    if _is_uri(text):
        return not_a_number
    number = _parse_international(text)
    if number is None or not phonenumbers.is_valid_number(number):
        return not_a_number
    e164 = _e164(number)
    if e164 in _TWILIO_PLACEHOLDERS:
        return CallerNumber(raw=raw, e164=None, region=None, withheld=True)
    return CallerNumber(raw=raw, e164=e164, region=_region_of(number), withheld=False)


def parse_number(raw: str, default_region: str | None = None) -> str:
    """Parse a number typed by a person (keypad, admin form) into E.164.

    ``default_region`` (ISO 3166-1 alpha-2) lets national formats and that region's
    international prefix work, e.g. "0039 333 ..." with "IT" or "DE". A leading "00" is also
    accepted as "+" when the region does not explain it (no region, or a region such as US whose
    prefix is 011), because "00" is the prefix in China and most of the world, and that is what
    our callers' fingers know.

    Raises :class:`InvalidNumber` with ``reason`` "withheld", "unparseable", "not_possible" or
    "invalid".
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if _is_withheld_marker(text):
        raise InvalidNumber("withheld", "caller ID withheld")
    if _is_uri(text):
        raise InvalidNumber("unparseable", "a SIP or client address, not a phone number")
    region = default_region.strip().upper() if default_region else None

    number: PhoneNumber | None = None
    failure: InvalidNumber = InvalidNumber("unparseable", "not a phone number")
    candidates = [text]
    if _compact(text).startswith("00"):
        candidates.append("+" + _compact(text)[2:])
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except NumberParseException:
            continue
        if not phonenumbers.is_possible_number(parsed):
            failure = InvalidNumber("not_possible", "wrong length for a number of that country")
            continue
        if not phonenumbers.is_valid_number(parsed):
            failure = InvalidNumber("invalid", "no such number in that country's numbering plan")
            continue
        number = parsed
        break
    if number is None:
        raise failure
    e164 = _e164(number)
    if e164 in _TWILIO_PLACEHOLDERS:
        raise InvalidNumber("withheld", "Twilio's placeholder for a withheld caller ID")
    return e164


def number_type(e164: str) -> str:
    """phonenumbers' type for the number, lower-case ("mobile", "fixed_line", "voip", ...).

    Returns "unknown" for anything that does not parse, rather than raising: the type is only
    ever advisory (e.g. whether an SMS could reach the number).
    """
    number = _parse_international(e164.strip()) if isinstance(e164, str) else None
    if number is None:
        return "unknown"
    return phonenumbers.PhoneNumberType.to_string(phonenumbers.number_type(number)).lower()


def mask(number: str | None) -> str:
    """Show a number without revealing it: ``"+39 ••• ••• 5678"``.

    Keeps the country calling code (useful to counselors, shared by millions) and at most the
    last four digits. Numbers with a national part shorter than 8 digits keep only the last 2,
    and shorter than 4 none, since four digits would give most of them away. The bullets are a
    fixed width so the mask does not leak the number's length either.
    None, "" and withheld markers give "withheld"; anything unparseable gives "•••".
    """
    if number is None:
        return _WITHHELD_TEXT
    text = number.strip()
    if _is_withheld_marker(text):
        return _WITHHELD_TEXT
    if _is_uri(text):
        return _GARBAGE_TEXT
    parsed = _parse_international(text)
    if parsed is None:
        return _GARBAGE_TEXT
    national = phonenumbers.national_significant_number(parsed)
    if len(national) >= 8:
        keep = 4
    elif len(national) >= 4:
        keep = 2
    else:
        keep = 0
    masked = f"+{parsed.country_code} {_HIDDEN_GROUPS}"
    return f"{masked} {national[-keep:]}" if keep else masked


def number_hash(e164: str, key: bytes) -> str:
    """Keyed HMAC-SHA256 (hex) of a number, to recognise repeat callers without keeping numbers.

    The key must be secret and stable: without it the hash of a phone number can be reversed by
    trying every number, and changing it forgets every caller. The number is re-normalised to
    E.164 first so formatting differences do not split one caller in two. Withheld markers are
    refused (ValueError) because hashing them would make all anonymous callers one person.
    """
    if not key:
        raise ValueError("number_hash needs a non-empty secret key")
    text = e164.strip()
    if _is_withheld_marker(text):
        raise ValueError("refusing to hash a withheld caller ID")
    number = _parse_international(text)
    if number is None:
        raise ValueError("not a phone number in international format")
    canonical = _e164(number)
    if canonical in _TWILIO_PLACEHOLDERS:
        raise ValueError("refusing to hash a withheld caller ID")
    return hmac.new(key, canonical.encode("ascii"), hashlib.sha256).hexdigest()


def spell_digits(s: str) -> str:
    """Space out ASCII digits so text-to-speech reads "112" as "one one two", not "a hundred
    and twelve". Everything else, including a leading "+", is dropped: "plus" read aloud before
    a number only confuses someone dialling from a keypad."""
    return " ".join(ch for ch in s if ch in _ASCII_DIGITS)


def country_calling_code(region: str) -> int | None:
    """Country calling code for an ISO 3166-1 alpha-2 region ("IT" -> 39), None if unknown."""
    code = phonenumbers.country_code_for_region(region.strip().upper())
    return code or None
