"""Who is on call when: weekly shifts in each counselor's own time zone, plus dated overrides.

Pure domain logic: no database, no web, no clock (callers pass the instant). Routing asks
:func:`on_call` on every queued call, so results for a (counselor, date) are cached.

Rules (the roster file, routing and the dashboard all rely on them):

* A shift belongs to the local date it **starts** on. ``end <= start`` means it ends on the
  next day, so ``time(0, 0)`` as an end is midnight at the end of the day (the file writes
  "24:00"), and ``end == start`` means a full 24 hours (the file writes "00:00-24:00").
* A dated override replaces every weekly shift *starting* on its date: ``off`` leaves none,
  overrides with hours leave only their windows (several on one date add up). A shift from the
  day before that runs past midnight is untouched, because it started the day before.
* Overlapping shifts simply add up: a counselor is on call if any window contains the instant.
* DST: a wall time that does not exist (spring forward) moves forward to the first instant
  after the gap; an ambiguous wall time (fall back) means its first occurrence (``fold=0``).
  So in Europe/Berlin "01:00-04:00" is 2 real hours on the spring-forward night and 4 on the
  fall-back night, and a shift lying wholly inside a gap does not happen that day.
* Windows are half-open ``[start, end)`` and given in UTC. Python compares and subtracts two
  datetimes with the *same* tzinfo by wall clock, which is wrong across a DST change, so
  everything here works on UTC instants; convert for display only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

__all__ = [
    "DatedOverride",
    "RosterEntry",
    "WeeklyShift",
    "canonical_shifts",
    "coverage",
    "is_on_call",
    "on_call",
    "shift_windows",
]

_ONE_DAY: Final = timedelta(days=1)

Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class WeeklyShift:
    """A weekly slot in the counselor's time zone on each of ``days`` (0 = Monday)."""

    days: frozenset[int]
    start: time
    end: time  # <= start: ends the next day; time(0, 0) is the midnight ending the day

    def __post_init__(self) -> None:
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError(f"days must be a non-empty subset of 0..6, got {sorted(self.days)}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            # The zone is the counselor's; a zone here would silently be ignored.
            raise ValueError("shift times are wall-clock times without a time zone")

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class DatedOverride:
    """An exception on one local date: no shifts (``off``) or these hours instead.

    Overrides with hours replace that date's weekly shifts; the window may cross midnight
    like a weekly shift (``end <= start``).
    """

    day: date
    off: bool
    start: time | None = None
    end: time | None = None

    def __post_init__(self) -> None:
        if isinstance(self.day, datetime):
            raise TypeError("day must be a date, not a datetime")
        if self.off and (self.start is not None or self.end is not None):
            raise ValueError("an override is either off or has hours, not both")
        if not self.off and (self.start is None or self.end is None):
            raise ValueError("an override that is not off needs both start and end")


@dataclass(frozen=True)
class RosterEntry:
    counselor_id: int
    name: str
    languages: frozenset[str]
    timezone: ZoneInfo
    shifts: tuple[WeeklyShift, ...]
    overrides: tuple[DatedOverride, ...]
    active: bool = True


def canonical_shifts(shifts: Iterable[WeeklyShift]) -> tuple[WeeklyShift, ...]:
    """The same weekly schedule in one normal form: one shift per (start, end) pair, ordered
    by first day, then start. Two rosters mean the same thing iff their canonical forms are
    equal, whatever grouping the file used; exact duplicates disappear."""
    by_hours: dict[tuple[time, time], set[int]] = {}
    for shift in shifts:
        by_hours.setdefault((shift.start, shift.end), set()).update(shift.days)
    merged = [WeeklyShift(frozenset(days), s, e) for (s, e), days in by_hours.items()]
    return tuple(sorted(merged, key=lambda w: (min(w.days), w.start, w.end, sorted(w.days))))


def shift_windows(entry: RosterEntry, day: date) -> list[Window]:
    """UTC ``[start, end)`` instants of the entry's shifts starting on local date ``day``,
    ordered by start. Ignores ``active`` and languages: this is the schedule only."""
    return list(_windows(entry, _as_date(day)))


def is_on_call(entry: RosterEntry, at: datetime) -> bool:
    """Whether ``at`` (aware) lies in one of the entry's shift windows.

    Schedule only: ``active`` and languages are :func:`on_call`'s business.
    """
    u = _to_utc(at)
    today = u.astimezone(entry.timezone).date()
    # A window is at most 24 wall-clock hours long, so only yesterday's can reach today.
    return any(
        start <= u < end for d in (today - _ONE_DAY, today) for start, end in _windows(entry, d)
    )


def on_call(entries: Iterable[RosterEntry], at: datetime, language: str) -> list[RosterEntry]:
    """Active entries speaking ``language`` and on shift at ``at``, in the order given."""
    u = _to_utc(at)
    lang = language.strip().lower()
    return [e for e in entries if e.active and lang in e.languages and is_on_call(e, u)]


def coverage(
    entries: Iterable[RosterEntry],
    start: datetime,
    end: datetime,
    language: str,
    step: timedelta = timedelta(minutes=30),
) -> list[tuple[datetime, int]]:
    """How many are on call for ``language``, sampled at the start of each slot in
    ``[start, end)``. Slots are ``step`` apart in absolute time (so a DST night has one slot
    more or fewer in wall-clock terms) and come back in ``start``'s time zone."""
    if step <= timedelta(0):
        raise ValueError("step must be positive")
    u, limit = _to_utc(start), _to_utc(end)
    lang = language.strip().lower()
    speakers = [e for e in entries if e.active and lang in e.languages]
    slots: list[tuple[datetime, int]] = []
    while u < limit:
        count = sum(1 for e in speakers if is_on_call(e, u))
        slots.append((u.astimezone(start.tzinfo), count))
        u += step
    return slots


# Bounded so a long-running process that sees every date and roster version stays small.
@lru_cache(maxsize=8192)
def _windows(entry: RosterEntry, day: date) -> tuple[Window, ...]:
    todays = [o for o in entry.overrides if o.day == day]
    hours: list[tuple[time, time]]
    if todays:
        hours = [(o.start, o.end) for o in todays if o.start is not None and o.end is not None]
        if any(o.off for o in todays):
            hours = []
    else:
        weekday = day.weekday()
        hours = [(s.start, s.end) for s in entry.shifts if weekday in s.days]
    windows = []
    for start_t, end_t in hours:
        start = _instant(day, start_t, entry.timezone)
        end = _instant(day + _ONE_DAY if end_t <= start_t else day, end_t, entry.timezone)
        if start < end:  # a shift wholly inside a DST gap does not happen that day
            windows.append((start, end))
    return tuple(sorted(windows))


def _instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """UTC instant of wall time ``wall`` on local date ``day`` (DST rules in the module doc)."""
    naive = datetime.combine(day, wall.replace(tzinfo=None, fold=0))
    u = naive.replace(tzinfo=tz).astimezone(UTC)  # fold=0: first occurrence if ambiguous
    if u.astimezone(tz).replace(tzinfo=None) == naive:
        return u
    return _gap_end(naive, tz)


def _gap_end(naive: datetime, tz: ZoneInfo) -> datetime:
    """First instant after the DST gap containing the nonexistent wall time ``naive``."""
    # zoneinfo maps a gap time to an instant after the transition with fold=0 and before it
    # with fold=1; bisect between them for the transition (tz data has whole seconds).
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
        raise ValueError("datetime must be timezone-aware")
    return at.astimezone(UTC)


def _as_date(day: date) -> date:
    # A datetime is a date subclass but never equal to one: override lookups would miss.
    if isinstance(day, datetime):
        raise TypeError("pass a local date, e.g. at.astimezone(entry.timezone).date()")
    return day
