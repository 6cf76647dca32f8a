"""Which numbers the hotline will call back. Pure: phonenumbers only, no I/O.

A callback line that dials whatever it is given is a toll-fraud tool (premium-rate and
shared-cost numbers earn their owner money per minute), so the number must be in an allowed
country and of a type that costs an ordinary rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..phone import InvalidNumber, number_type, parse_caller, parse_number

Refusal = Literal["invalid", "withheld", "country", "costly"]

# Countries with large Chinese communities, and China itself (callers abroad often give a
# relative's number at home). Managers narrow or widen it with HOTLINE_CALLBACK_COUNTRIES.
DEFAULT_COUNTRIES = (
    "CN,HK,MO,TW,US,CA,GB,IE,AU,NZ,IT,FR,DE,ES,NL,BE,CH,AT,SE,NO,DK,FI,PT,GR,PL,CZ,HU,RU,"
    "JP,KR,SG,MY,TH,ID,PH,VN,KH,MM,LA,IN,AE,SA,QA,IL,TR,ZA,NG,KE,EG,BR,AR,CL,PE,MX,PA"
)
# Types that cost an ordinary rate to call. Everything else is refused: premium rate,
# shared cost, personal numbers (forwarded anywhere at the caller's tariff), UAN, voicemail
# access, pagers, and numbers whose type phonenumbers cannot tell.
CALLABLE_TYPES = frozenset({"mobile", "fixed_line", "fixed_line_or_mobile", "voip"})
MAX_DIGITS = 15  # E.164


@dataclass(frozen=True)
class NumberRules:
    countries: frozenset[str]

    @classmethod
    def from_setting(cls, value: str | None) -> NumberRules:
        text = value if value else DEFAULT_COUNTRIES
        return cls(frozenset(c.strip().upper() for c in text.split(",") if c.strip()))

    def check_own(self, caller_id: str | None) -> str | Refusal:
        """The number the caller is calling from (Twilio's From)."""
        number = parse_caller(caller_id)
        if number.withheld or number.e164 is None:
            return "withheld"
        return self._allowed(number.e164)

    def check_typed(self, digits: str, region: str | None) -> str | Refusal:
        """Digits typed on the keypad: "+" cannot be typed, so "00", the caller's national
        trunk prefix and a bare country code are all tried, in the caller's region first."""
        digits = "".join(ch for ch in digits if ch.isdigit())
        if not digits:
            return "withheld"
        if len(digits) > MAX_DIGITS + 2:  # "00" + 15 digits is the longest sensible input
            return "invalid"
        candidates = [digits] if digits.startswith("00") or region else []
        candidates.append("+" + digits)
        for candidate in candidates:
            try:
                e164 = parse_number(candidate, region if not candidate.startswith("+") else None)
            except InvalidNumber:
                continue
            return self._allowed(e164)
        return "invalid"

    def _allowed(self, e164: str) -> str | Refusal:
        region = parse_caller(e164).region
        if region is None or region not in self.countries:
            return "country"
        if number_type(e164) not in CALLABLE_TYPES:
            return "costly"
        return e164


def is_refusal(value: str) -> bool:
    return not value.startswith("+")
