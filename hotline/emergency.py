"""Local emergency numbers, so the hotline can tell a caller abroad whom to call right now.

Callers are Chinese speakers living abroad and the counselors are in China: neither can be
expected to know that an ambulance in Switzerland is 144 or in Thailand 1669. The table lives
in ``data/emergency_numbers.yaml`` and is validated when loaded, because a typo there would be
read aloud to someone in danger.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import phonenumbers
import yaml

from hotline.phone import spell_digits

__all__ = ["EmergencyInfo", "describe", "emergency_for", "load_table"]

_TABLE_RESOURCE = ("data", "emergency_numbers.yaml")
_SERVICES = ("general", "police", "ambulance")
# "fire" is accepted and checked so the YAML can be a faithful copy of official lists, but it is
# not exposed: the hotline has no reason to send a caller to the fire brigade.
_ALLOWED_KEYS = frozenset({*_SERVICES, "fire", "also"})
# Emergency numbers are short by design. Five digits, not four, because South Africa's police
# (10111) and ambulance (10177) numbers are the ones that work from landlines there.
_MIN_DIGITS = 2
_MAX_DIGITS = 5
_ASCII_DIGITS = frozenset("0123456789")


@dataclass(frozen=True)
class EmergencyInfo:
    region: str | None
    general: str | None
    police: str | None
    ambulance: str | None
    also: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return any((self.general, self.police, self.ambulance))

    def primary(self) -> str | None:
        """The one number to give if there is time for only one.

        The general number when there is one; otherwise the ambulance, because a mental-health
        crisis most often needs medical help; the police only as a last resort.
        """
        return self.general or self.ambulance or self.police


def _unknown(region: str | None) -> EmergencyInfo:
    return EmergencyInfo(region=region, general=None, police=None, ambulance=None, also=())


def _check_number(region: str, field: str, value: Any) -> str:
    if not isinstance(value, str):
        # Unquoted numbers lose leading zeros ("000" -> 0), so insist on strings.
        raise ValueError(
            f"emergency table: {region}.{field} must be a quoted string of digits, got {value!r}"
        )
    if not (set(value) <= _ASCII_DIGITS and _MIN_DIGITS <= len(value) <= _MAX_DIGITS):
        raise ValueError(
            f"emergency table: {region}.{field} must be {_MIN_DIGITS} to {_MAX_DIGITS} digits, "
            f"got {value!r}"
        )
    return value


def _parse_entry(key: Any, entry: Any) -> EmergencyInfo:
    if not isinstance(key, str):
        hint = " (quote it: YAML reads NO as false)" if key is False else ""
        raise ValueError(f"emergency table: key {key!r} is not a region code{hint}")
    if key not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"emergency table: {key!r} is not a region phonenumbers knows")
    if not isinstance(entry, Mapping):
        raise ValueError(f"emergency table: {key} must map service names to numbers")
    unknown_keys = set(entry) - _ALLOWED_KEYS
    if unknown_keys:
        names = ", ".join(sorted(map(str, unknown_keys)))
        raise ValueError(f"emergency table: {key} has unknown keys: {names}")

    numbers: dict[str, str | None] = {}
    for field in (*_SERVICES, "fire"):
        value = entry.get(field)
        numbers[field] = None if value is None else _check_number(key, field, value)

    also_raw = entry.get("also", [])
    if not isinstance(also_raw, list):
        raise ValueError(f"emergency table: {key}.also must be a list")
    also = tuple(_check_number(key, f"also[{i}]", value) for i, value in enumerate(also_raw))

    info = EmergencyInfo(
        region=key,
        general=numbers["general"],
        police=numbers["police"],
        ambulance=numbers["ambulance"],
        also=also,
    )
    if not info.known:
        raise ValueError(f"emergency table: {key} needs a general, police or ambulance number")
    return info


def load_table(path: Path | None = None) -> dict[str, EmergencyInfo]:
    """Load and validate an emergency table; the packaged one when ``path`` is None.

    Raises ValueError naming the offending entry on any doubt.
    """
    if path is None:
        text = resources.files("hotline").joinpath(*_TABLE_RESOURCE).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, Mapping):
        raise ValueError("emergency table: the file must be a mapping of region codes")
    return {
        info.region: info for info in (_parse_entry(k, v) for k, v in data.items()) if info.region
    }


@functools.cache
def _packaged_table() -> Mapping[str, EmergencyInfo]:
    return load_table()


def emergency_for(region: str | None) -> EmergencyInfo:
    """Emergency numbers for an ISO region; ``known`` is False when we have none for it."""
    if not region or not region.strip():
        return _unknown(None)
    code = region.strip().upper()
    return _packaged_table().get(code) or _unknown(code)


def describe(info: EmergencyInfo, labels: Mapping[str, str], sep: str = ", ") -> str | None:
    """Compose the numbers for a spoken prompt, in whatever language ``labels`` are in.

    ``labels`` maps "general", "police" and "ambulance" to words in the caller's language,
    e.g. ``{"police": "报警", "ambulance": "急救", "general": "紧急电话"}`` gives
    "报警 1 1 0, 急救 1 2 0" for China. Digits are spaced so text-to-speech reads them one by one.
    Each number is said once: where police and ambulance share a number (and there is no
    general one) it is said with the general label. The ``also`` numbers are left out to keep
    the prompt short for someone under stress. Returns None when nothing is known.
    """
    if not info.known:
        return None
    if info.general is None and info.police is not None and info.police == info.ambulance:
        spoken: list[tuple[str, str]] = [("general", info.police)]
    else:
        spoken = []
        said: set[str] = set()
        for service in _SERVICES:
            number = getattr(info, service)
            if number is not None and number not in said:
                said.add(number)
                spoken.append((service, number))
    parts = []
    for service, number in spoken:
        # A missing label still leaves the digits, which matter more than the word.
        label = labels.get(service, "").strip()
        digits = spell_digits(number)
        parts.append(f"{label} {digits}" if label else digits)
    return sep.join(parts)
