"""Service hours: weekly windows in one time zone, public holidays and dated overrides.

Pure domain logic. `is_open` runs on every incoming call, so day schedules are cached per
instance and holiday tables per (country, language, year); after warm-up no I/O happens.

DST rules (windows are wall-clock times in the service zone):
* A wall time that does not exist (spring forward) maps to the first instant after the gap,
  so "02:30-04:00" on a New York spring-forward night opens at 03:00 EDT, and a window lying
  entirely inside the gap vanishes that day.
* An ambiguous wall time (fall back) means its first occurrence (fold=0), so "01:00-03:00"
  on a fall-back night is open for three real hours.
* All comparisons use UTC instants: Python compares and subtracts datetimes sharing a tzinfo
  by wall clock, which is wrong across a DST change.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from types import MappingProxyType
from typing import Any, Final, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = ["DEFAULT_CONFIG", "WEEKDAYS", "HoursError", "ServiceHours", "Span", "Window"]

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY: Final = 1440  # minutes
_ONE_DAY: Final = timedelta(days=1)
_TIME_RE: Final = re.compile(r"([0-9]{2}):([0-9]{2})")
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_KEYS: Final = frozenset(
    {"timezone", "weekly", "holidays", "holiday_language", "holiday_hours", "overrides"}
)

# What `from_config(None)` means; read-only because it is shared.
DEFAULT_CONFIG: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "timezone": "Asia/Shanghai",
        "weekly": MappingProxyType({day: ("08:30-24:00",) for day in WEEKDAYS}),
        "holidays": "CN",
        "holiday_hours": "closed",
    }
)


class HoursError(ValueError):
    """Invalid hours configuration; `path` points at the offending field."""

    path: str

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(frozen=True, order=True)
class Span:
    """A configured window in wall-clock minutes after local midnight of its start day.

    `end` is in 1..2879; above 1440 the window runs into the next day.
    """

    start: int
    end: int

    def __str__(self) -> str:
        end = self.end - DAY if self.end > DAY else self.end
        return f"{_hhmm(self.start)}-{_hhmm(end)}"


@dataclass(frozen=True)
class Window:
    """One opening window on a given local date; `end` is exclusive."""

    start: datetime  # aware, in the service time zone
    end: datetime  # aware

    @property
    def duration(self) -> timedelta:
        # `end - start` alone would be wall-clock time (same tzinfo), wrong across DST.
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)

    def contains(self, at: datetime) -> bool:
        u = _to_utc(at)
        return self.start.astimezone(UTC) <= u < self.end.astimezone(UTC)


class _Slot(NamedTuple):
    start: datetime  # UTC, so comparisons are on absolute instants
    end: datetime
    window: Window


@dataclass(frozen=True)
class ServiceHours:
    tz: ZoneInfo
    weekly: tuple[tuple[Span, ...], ...]  # seven entries, Monday first
    holiday_country: str | None = None
    holiday_language: str | None = None
    holiday_hours: tuple[Span, ...] = ()  # () = closed on holidays
    overrides: tuple[tuple[date, tuple[Span, ...]], ...] = ()  # () spans = closed that day
    _overrides: dict[date, tuple[Span, ...]] = field(init=False, repr=False, compare=False)
    _slots: Callable[[date], tuple[_Slot, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            raise ValueError("weekly needs exactly seven days, Monday first")
        object.__setattr__(self, "_overrides", dict(self.overrides))
        # Bounded so a long-running process that sees every date stays small.
        object.__setattr__(self, "_slots", lru_cache(maxsize=256)(self._compute_slots))

    def __reduce__(self) -> tuple[Any, ...]:
        # The per-instance cache cannot be pickled (e.g. into a job queue); rebuild it instead.
        return (
            type(self),
            (
                self.tz,
                self.weekly,
                self.holiday_country,
                self.holiday_language,
                self.holiday_hours,
                self.overrides,
            ),
        )

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None, path: str = "hours") -> ServiceHours:
        if data is None:
            data = DEFAULT_CONFIG
        if not isinstance(data, Mapping):
            raise HoursError(path, "must be a mapping")
        for key in data:
            if key not in _KEYS:
                raise HoursError(
                    f"{path}.{key}", f"unknown key (expected one of {', '.join(sorted(_KEYS))})"
                )
        if "weekly" not in data:
            # A missing schedule would silently mean "always closed" for a crisis line.
            raise HoursError(f"{path}.weekly", "is required (use {} for closed all week)")
        country = _parse_country(data.get("holidays"), f"{path}.holidays")
        return cls(
            tz=_parse_tz(data.get("timezone"), f"{path}.timezone"),
            weekly=_parse_weekly(data["weekly"], f"{path}.weekly"),
            holiday_country=country,
            holiday_language=_parse_language(
                country, data.get("holiday_language"), f"{path}.holiday_language"
            ),
            holiday_hours=_parse_holiday_hours(data.get("holiday_hours"), f"{path}.holiday_hours"),
            overrides=_parse_overrides(data.get("overrides"), f"{path}.overrides"),
        )

    def windows_on(self, day: date) -> list[Window]:
        return [slot.window for slot in self._slots(_as_date(day))]

    def is_open(self, at: datetime) -> bool:
        return self._containing(at) is not None

    def next_open(self, at: datetime, horizon_days: int = 30) -> datetime | None:
        if horizon_days < 0:
            raise ValueError("horizon_days must be >= 0")
        if self._containing(at) is not None:
            return at
        u = _to_utc(at)
        limit = u + timedelta(days=horizon_days)
        day = u.astimezone(self.tz).date()
        # +1 day: a window starting just before `limit` may sit on the next local date.
        for _ in range(horizon_days + 2):
            for slot in self._slots(day):
                if slot.start > limit:
                    return None
                if slot.start > u:
                    return slot.window.start
            day += _ONE_DAY
        return None

    def closes_at(self, at: datetime) -> datetime | None:
        slot = self._containing(at)
        return None if slot is None else slot.window.end

    def is_holiday(self, day: date) -> str | None:
        if self.holiday_country is None:
            return None
        day = _as_date(day)
        return _holiday_table(self.holiday_country, self.holiday_language, day.year).get(day)

    def weekly_summary(self) -> dict[str, list[str]]:
        return {
            name: [str(s) for s in spans] for name, spans in zip(WEEKDAYS, self.weekly, strict=True)
        }

    def _containing(self, at: datetime) -> _Slot | None:
        u = _to_utc(at)
        day = u.astimezone(self.tz).date()
        best: _Slot | None = None
        # Windows are shorter than a day of wall time, so only yesterday's can reach today.
        for d in (day - _ONE_DAY, day):
            for slot in self._slots(d):
                # Overrides/holiday hours may overlap a neighbour day's window: the later end wins.
                if slot.start <= u < slot.end and (best is None or slot.end > best.end):
                    best = slot
        return best

    def _spans_on(self, day: date) -> tuple[Span, ...]:
        if day in self._overrides:
            return self._overrides[day]
        if self.is_holiday(day) is not None:
            return self.holiday_hours
        return self.weekly[day.weekday()]

    def _compute_slots(self, day: date) -> tuple[_Slot, ...]:
        slots = []
        for span in self._spans_on(day):
            start = _instant(day, span.start, self.tz)
            end = _instant(day, span.end, self.tz)
            if start < end:  # a window inside a DST gap does not exist that day
                window = Window(start.astimezone(self.tz), end.astimezone(self.tz))
                slots.append(_Slot(start, end, window))
        return tuple(slots)


@lru_cache(maxsize=512)
def _holiday_table(country: str, language: str | None, year: int) -> Mapping[date, str]:
    # A plain dict: the library object auto-expands (mutates) on lookups of other years.
    return dict(holidays.country_holidays(country, years=year, language=language))


@lru_cache(maxsize=64)
def _country_languages(country: str) -> tuple[str | None, tuple[str, ...]]:
    """(default, supported) holiday-name languages; NotImplementedError for unknown countries."""
    probe = holidays.country_holidays(country)
    return probe.default_language, tuple(probe.supported_languages)


def _instant(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """UTC instant of wall time `minutes` after local midnight of `day`."""
    days, minutes = divmod(minutes, DAY)
    naive = datetime.combine(day + timedelta(days=days), time(minutes // 60, minutes % 60))
    # fold=0: the first occurrence of an ambiguous time.
    u = naive.replace(tzinfo=tz).astimezone(UTC)
    if u.astimezone(tz).replace(tzinfo=None) == naive:
        return u
    return _gap_end(naive, tz)


def _gap_end(naive: datetime, tz: ZoneInfo) -> datetime:
    """First instant after the DST gap containing the nonexistent wall time `naive`."""
    # zoneinfo maps a gap time to an instant after the transition with fold=0 and before it
    # with fold=1; bisect between them for the transition itself (tz data is in seconds).
    hi = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    lo = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    after = hi.astimezone(tz).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def _to_utc(at: datetime) -> datetime:
    if at.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware, got naive {at!r}")
    return at.astimezone(UTC)


def _as_date(day: date) -> date:
    # datetime is a date subclass but never equal to one: a lookup would silently miss.
    if isinstance(day, datetime):
        raise TypeError("pass a local date, e.g. at.astimezone(hours.tz).date()")
    return day


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# --- parsing -------------------------------------------------------------------------------


def _parse_tz(value: Any, path: str) -> ZoneInfo:
    if value is None:
        return ZoneInfo("Asia/Shanghai")
    if isinstance(value, ZoneInfo):
        return value
    if not isinstance(value, str):
        raise HoursError(path, f"expected an IANA time zone name, got {value!r}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise HoursError(path, f"unknown time zone {value!r}") from None


def _parse_country(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        # YAML 1.1 reads a bare NO (Norway) as false.
        raise HoursError(path, "use null for no holidays, or quote the country code")
    if not isinstance(value, str):
        raise HoursError(path, f"expected a country code such as 'CN', got {value!r}")
    code = value.strip().upper()
    try:
        _country_languages(code)
    except NotImplementedError:
        raise HoursError(path, f"unknown holidays country {value!r}") from None
    return code


def _parse_language(country: str | None, value: Any, path: str) -> str | None:
    if country is None:
        if value is not None:
            raise HoursError(path, "needs holidays to be set")
        return None
    default, supported = _country_languages(country)
    if value is None:
        # Pin the country's own language: the library otherwise follows the process locale.
        return default
    if not isinstance(value, str) or value not in supported:
        langs = ", ".join(supported) or "none"
        raise HoursError(path, f"unsupported language {value!r} for {country} (have: {langs})")
    return value


def _parse_weekly(value: Any, path: str) -> tuple[tuple[Span, ...], ...]:
    if not isinstance(value, Mapping):
        raise HoursError(path, "must be a mapping of weekday (mon..sun) to a list of windows")
    for key in value:
        if key not in WEEKDAYS:
            raise HoursError(f"{path}.{key}", f"unknown weekday (use {', '.join(WEEKDAYS)})")
    week = tuple(_parse_windows(value.get(day), f"{path}.{day}") for day in WEEKDAYS)
    # A window crossing midnight must not run into the next day's first window.
    for i, day in enumerate(WEEKDAYS):
        spill = max((s.end - DAY for s in week[i - 1]), default=0)
        for j, span in enumerate(week[i]):
            if span.start < spill:
                raise HoursError(
                    f"{path}.{day}[{j}]",
                    f"'{span}' overlaps a window from {WEEKDAYS[i - 1]} running past midnight",
                )
    return week


def _parse_holiday_hours(value: Any, path: str) -> tuple[Span, ...]:
    if value is None or value == "closed":
        return ()
    if isinstance(value, str):
        raise HoursError(path, f"expected 'closed' or a list of windows, got {value!r}")
    return _parse_windows(value, path)


def _parse_overrides(value: Any, path: str) -> tuple[tuple[date, tuple[Span, ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise HoursError(path, "must be a list of {date, closed | hours} entries")
    seen: dict[date, tuple[Span, ...]] = {}
    for i, item in enumerate(value):
        p = f"{path}[{i}]"
        if not isinstance(item, Mapping):
            raise HoursError(p, "must be a mapping like {date: 2026-12-24, closed: true}")
        for key in item:
            if key not in ("date", "closed", "hours"):
                raise HoursError(f"{p}.{key}", "unknown key (expected date, closed, hours)")
        day = _parse_date(item.get("date"), f"{p}.date")
        if day in seen:
            raise HoursError(f"{p}.date", f"{day.isoformat()} is already overridden")
        closed = item.get("closed", False)
        if not isinstance(closed, bool):
            raise HoursError(f"{p}.closed", f"expected true or false, got {closed!r}")
        if closed and "hours" in item:
            raise HoursError(p, "give either closed: true or hours, not both")
        if not closed and "hours" not in item:
            raise HoursError(p, "needs closed: true or hours: [...]")
        seen[day] = () if closed else _parse_windows(item["hours"], f"{p}.hours")
    return tuple(sorted(seen.items()))


def _parse_date(value: Any, path: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE_RE.fullmatch(value.strip()):
        # Shaped like a date but not one (2026-02-30): reported below with its path.
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value.strip())
    raise HoursError(path, f"{value!r} is not a date YYYY-MM-DD")


def _parse_windows(value: Any, path: str) -> tuple[Span, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise HoursError(path, f"expected a list of 'HH:MM-HH:MM' windows, got {value!r}")
    indexed = sorted((_parse_window(w, f"{path}[{i}]"), i) for i, w in enumerate(value))
    for (prev, _), (span, i) in pairwise(indexed):
        if span.start < prev.end:
            raise HoursError(f"{path}[{i}]", f"'{span}' overlaps '{prev}'")
    return tuple(span for span, _ in indexed)


def _parse_window(value: Any, path: str) -> Span:
    if not isinstance(value, str) or value.count("-") != 1:
        raise HoursError(path, f"{value!r} is not a window HH:MM-HH:MM")
    first, second = value.split("-")
    start = _parse_time(first.strip(), path)
    end = _parse_time(second.strip(), path)
    if start == DAY:
        raise HoursError(path, "24:00 is only valid as an end time")
    if end == start:
        raise HoursError(path, f"{value!r} starts and ends at the same time (all day: 00:00-24:00)")
    # An end at or before the start means the window crosses midnight.
    return Span(start, end if end > start else end + DAY)


def _parse_time(text: str, path: str) -> int:
    m = _TIME_RE.fullmatch(text)
    if m is None:
        raise HoursError(path, f"{text!r} is not a time HH:MM")
    hours, minutes = int(m[1]), int(m[2])
    if hours > 24 or minutes > 59:
        raise HoursError(path, f"{text!r} is not a time HH:MM")
    if hours == 24 and minutes:
        raise HoursError(path, f"{text!r} is out of range 00:00..24:00")
    return hours * 60 + minutes
