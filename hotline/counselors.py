"""The counselor roster file (DESIGN.md "Counselors file", a contract) and its import.

``hotline counselors import FILE`` is an upsert keyed by phone number. The file is YAML::

    counselors:
      - name: 王敏
        phone: "+8613800000001"
        languages: [mandarin, english]
        timezone: Asia/Shanghai
        shifts:
          - {days: [mon, tue, wed, thu, fri], start: "08:30", end: "17:00"}
          - {days: [sat], start: "20:00", end: "02:00"}
        overrides:
          - {date: 2026-12-24, off: true}
          - {date: 2026-12-26, start: "09:00", end: "13:00"}

or CSV (when the file name ends in ``.csv``) with columns ``name,phone,languages,timezone,
shifts,overrides``, e.g. ``shifts`` = ``mon-fri 08:30-17:00; sat 20:00-02:00`` and
``overrides`` = ``2026-12-24 off; 2026-12-26 09:00-13:00``. The same text forms are accepted
as items of the YAML lists. ``timezone`` defaults to Asia/Shanghai; ``shifts`` and
``overrides`` default to none. Day ranges (``mon-fri``) may wrap (``sat-mon``).

Parsing checks everything and reports every problem at once (:class:`RosterErrors`), each naming
the entry (1-based, in file order) and the field (``shifts[2].end``, also 1-based), so a manager
fixes the file in one go. Messages never contain phone numbers, only masked ones: they end up in
logs and on screens, and these are counselors' private numbers.

The meaning of shifts, overrides, "24:00" and DST is :mod:`hotline.schedule`'s.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .models import Counselor, Shift, ShiftOverride
from .phone import InvalidNumber, mask, parse_number
from .schedule import DatedOverride, RosterEntry, WeeklyShift, canonical_shifts

__all__ = [
    "DEFAULT_TIMEZONE",
    "LANGUAGES",
    "WEEKDAYS",
    "Change",
    "CounselorSpec",
    "RosterError",
    "RosterErrors",
    "counselor_to_spec",
    "export_roster",
    "format_overrides",
    "format_shifts",
    "import_roster",
    "parse_roster",
    "roster_entries",
]

log = logging.getLogger(__name__)

LANGUAGES: Final = ("mandarin", "cantonese", "english")
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TIMEZONE: Final = "Asia/Shanghai"

_ENTRY_KEYS: Final = ("name", "phone", "languages", "timezone", "shifts", "overrides")
_REQUIRED_COLUMNS: Final = ("name", "phone", "languages")
_SHIFT_KEYS: Final = frozenset({"days", "start", "end"})
_OVERRIDE_KEYS: Final = frozenset({"date", "off", "start", "end"})
_NAME_MAX: Final = 120  # the column's width
_DAY_MINUTES: Final = 1440
_TIME_RE: Final = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LIST_SPLIT: Final = re.compile(r"[;|,\s]+")
_ITEM_SPLIT: Final = re.compile(r"[;\n]+")
_DAYS_SPLIT: Final = re.compile(r"[,\s]+")
_PHONE_REASONS: Final = {
    "unparseable": "write it in international format, with + and the country code",
    "not_possible": "wrong length for a number of that country",
    "invalid": "no such number in that country's numbering plan",
    "withheld": "that is a placeholder, not a phone number",
}


# --- errors -------------------------------------------------------------------------------


class RosterError(ValueError):
    """One problem in a roster file. ``entry`` is the 1-based entry number (None for problems
    with the file as a whole), ``field`` the field path such as ``phone`` or ``shifts[2].end``
    (indices 1-based too), ``problem`` the bare reason."""

    def __init__(
        self,
        problem: str,
        *,
        entry: int | None = None,
        field: str | None = None,
        name: str | None = None,
        filename: str | None = None,
    ) -> None:
        self.problem = problem
        self.entry = entry
        self.field = field
        self.name = name
        if entry is not None:
            where = f"entry {entry} ({name})" if name else f"entry {entry}"
        else:
            where = filename or "roster"
        message = f"{where}: {field}: {problem}" if field else f"{where}: {problem}"
        super().__init__(message)


class RosterErrors(RosterError):
    """Every problem found in a roster file, in file order (``errors``); the message lists them
    one a line. A subclass of :class:`RosterError` so ``except RosterError`` catches both."""

    def __init__(self, errors: Sequence[RosterError], filename: str | None = None) -> None:
        self.errors = list(errors)
        if len(self.errors) == 1:
            text = str(self.errors[0])
        else:
            head = f"{len(self.errors)} problems in {filename or 'the roster'}:"
            text = "\n".join([head, *(f"  {e}" for e in self.errors)])
        # Not RosterError.__init__: the combined error is about the whole file.
        ValueError.__init__(self, text)
        self.problem = text
        self.entry = None
        self.field = None
        self.name = None


class _Invalid(Exception):
    """A field-level problem, turned into a RosterError by the entry being parsed."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


# --- the parsed form ------------------------------------------------------------------------


@dataclass(frozen=True)
class CounselorSpec:
    """One counselor as the roster file describes them, validated.

    ``phone`` is E.164, ``languages`` in :data:`LANGUAGES` order, ``shifts`` canonical (see
    :func:`hotline.schedule.canonical_shifts`), ``overrides`` sorted by date: two specs are
    equal iff they mean the same roster entry.
    """

    name: str
    phone: str
    languages: tuple[str, ...]
    timezone: str
    shifts: tuple[WeeklyShift, ...]
    overrides: tuple[DatedOverride, ...]

    def __repr__(self) -> str:
        # The generated repr would put a counselor's private number into logs and tracebacks.
        return (
            f"CounselorSpec(name={self.name!r}, phone={mask(self.phone)!r}, "
            f"languages={self.languages!r}, timezone={self.timezone!r}, "
            f"shifts={format_shifts(self.shifts)!r}, "
            f"overrides={format_overrides(self.overrides)!r})"
        )


def parse_roster(text: str, filename: str) -> list[CounselorSpec]:
    """Parse and validate a roster (YAML, or CSV when ``filename`` ends in ``.csv``).

    Raises :class:`RosterErrors` listing every problem found; returns nothing partial.
    """
    text = text.removeprefix("\ufeff")  # spreadsheet programs like to start files with a BOM
    if filename.lower().endswith(".csv"):
        raw, errors = _read_csv(text, filename)
    else:
        raw, errors = _read_yaml(text, filename)
    specs: list[tuple[int, CounselorSpec]] = []
    for number, item in raw:
        spec = _parse_entry(number, item, errors)
        if spec is not None:
            specs.append((number, spec))
    errors.extend(_duplicate_phones(specs))
    if errors:
        errors.sort(key=lambda e: e.entry or 0)  # stable: keeps field order within an entry
        raise RosterErrors(errors, filename)
    return [spec for _, spec in specs]


# --- reading the two formats ----------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """YAML 1.1 with the surprises a hand-written roster trips over turned off.

    Unquoted 20:00 would be the integer 1200 (base 60), ``off`` as a key would be False,
    +8613800000001 would lose its plus, and 2026-02-30 would crash the whole load instead of
    being reported against its entry.
    """


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    value = loader.construct_scalar(node)
    if ":" in value or value.startswith("+"):
        return value
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    value = loader.construct_scalar(node)
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return value  # yes/no/on/off stay words


def _construct_str(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_str)


def _read_yaml(text: str, filename: str) -> tuple[list[tuple[int, Any]], list[RosterError]]:
    try:
        doc = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        return [], [RosterError(f"{where}not valid YAML ({reason})", filename=filename)]
    if not isinstance(doc, Mapping) or "counselors" not in doc:
        return [], [RosterError("expected a top-level key 'counselors:'", filename=filename)]
    errors = [
        RosterError(f"unknown top-level key {key!r} (expected 'counselors')", filename=filename)
        for key in doc
        if key != "counselors"
    ]
    items = doc["counselors"]
    if items is None:
        items = []
    if not isinstance(items, list):
        errors.append(RosterError("'counselors' must be a list of entries", filename=filename))
        return [], errors
    return list(enumerate(items, start=1)), errors


def _read_csv(text: str, filename: str) -> tuple[list[tuple[int, Any]], list[RosterError]]:
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as exc:
        return [], [
            RosterError(f"line {reader.line_num}: not valid CSV ({exc})", filename=filename)
        ]
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return [], []
    header = [cell.strip().lower() for cell in rows[0]]
    errors = [
        RosterError(
            f"unknown column {col!r} (expected {', '.join(_ENTRY_KEYS)})", filename=filename
        )
        for col in header
        if col not in _ENTRY_KEYS
    ]
    errors.extend(
        RosterError(f"column {col!r} appears twice", filename=filename)
        for col in sorted({c for c in header if header.count(c) > 1})
    )
    missing = [col for col in _REQUIRED_COLUMNS if col not in header]
    if missing:
        errors.append(RosterError(f"missing column(s) {', '.join(missing)}", filename=filename))
    if errors:
        return [], errors
    entries: list[tuple[int, Any]] = []
    for number, row in enumerate(rows[1:], start=1):
        if len(row) > len(header):
            item: dict[str, Any] = {"__extra__": row[len(header) :]}
        else:
            item = {}
        for col, cell in zip(header, row, strict=False):
            if cell.strip():
                item[col] = cell.strip()
        entries.append((number, item))
    return entries, []


# --- one entry ------------------------------------------------------------------------------


def _parse_entry(number: int, item: Any, errors: list[RosterError]) -> CounselorSpec | None:
    if not isinstance(item, Mapping):
        errors.append(
            RosterError("must be a mapping with name, phone, languages, ...", entry=number)
        )
        return None
    raw_name = item.get("name")
    label = raw_name.strip() if isinstance(raw_name, str) and raw_name.strip() else None
    found: list[_Invalid] = []

    def check(parse: Any, *args: Any) -> Any:
        try:
            return parse(*args)
        except _Invalid as problem:
            found.append(problem)
            return None

    if "__extra__" in item:
        found.append(_Invalid("columns", "more cells than the header has columns"))
    for key in item:
        if key not in _ENTRY_KEYS and key != "__extra__":
            found.append(_Invalid(str(key), f"unknown field (expected {', '.join(_ENTRY_KEYS)})"))
    name = check(_parse_name, raw_name)
    phone = check(_parse_phone, item.get("phone"))
    languages = check(_parse_languages, item.get("languages"))
    timezone = check(_parse_timezone, item.get("timezone"))
    shifts = _parse_shifts(item.get("shifts"), found)
    overrides = _parse_overrides(item.get("overrides"), found)
    if found:
        errors.extend(
            RosterError(p.problem, entry=number, field=p.field, name=label) for p in found
        )
        return None
    return CounselorSpec(
        name=name,
        phone=phone,
        languages=languages,
        timezone=timezone,
        shifts=canonical_shifts(shifts),
        overrides=_sorted_overrides(overrides),
    )


def _parse_name(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _Invalid("name", "is required")
    if not isinstance(value, str):
        raise _Invalid("name", f"expected text, got {value!r}")
    name = " ".join(value.split())
    if len(name) > _NAME_MAX:
        raise _Invalid("name", f"is longer than {_NAME_MAX} characters")
    return name


def _parse_phone(value: Any) -> str:
    if value is None or value == "":
        raise _Invalid("phone", "is required")
    text = str(value)
    try:
        return parse_number(text)
    except InvalidNumber as exc:
        reason = _PHONE_REASONS.get(exc.reason, str(exc))
        raise _Invalid(
            "phone", f"{mask(text)} is not a valid phone number in E.164 format: {reason}"
        ) from None


def _parse_languages(value: Any) -> tuple[str, ...]:
    if value is None:
        raise _Invalid("languages", f"is required (one or more of {', '.join(LANGUAGES)})")
    if isinstance(value, str):
        items: list[Any] = [v for v in _LIST_SPLIT.split(value) if v]
    elif isinstance(value, list):
        items = value
    else:
        raise _Invalid("languages", f"expected a list such as [mandarin, english], got {value!r}")
    chosen: set[str] = set()
    for item in items:
        lang = item.strip().lower() if isinstance(item, str) else None
        if lang not in LANGUAGES:
            raise _Invalid("languages", f"unknown language {item!r} (use {', '.join(LANGUAGES)})")
        chosen.add(lang)
    if not chosen:
        # Nobody could ever route a call to them.
        raise _Invalid("languages", f"needs at least one of {', '.join(LANGUAGES)}")
    return tuple(lang for lang in LANGUAGES if lang in chosen)


def _parse_timezone(value: Any) -> str:
    if value is None or value == "":
        return DEFAULT_TIMEZONE
    if not isinstance(value, str):
        raise _Invalid("timezone", f"expected an IANA time zone name, got {value!r}")
    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _Invalid(
            "timezone", f"unknown time zone {value!r} (use an IANA name like Asia/Shanghai)"
        ) from None
    return name


def _items(value: Any, field_name: str) -> list[Any]:
    """A YAML list, or the text form "a; b" (the CSV cell, or a YAML string)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in _ITEM_SPLIT.split(value) if part.strip()]
    if isinstance(value, list):
        return value
    raise _Invalid(field_name, f"expected a list, got {value!r}")


def _parse_shifts(value: Any, found: list[_Invalid]) -> list[WeeklyShift]:
    try:
        items = _items(value, "shifts")
    except _Invalid as problem:
        found.append(problem)
        return []
    shifts = []
    for i, item in enumerate(items, start=1):
        try:
            shifts.append(_parse_shift(item, f"shifts[{i}]"))
        except _Invalid as problem:
            found.append(problem)
    return shifts


def _parse_shift(item: Any, path: str) -> WeeklyShift:
    if isinstance(item, str):
        days_text, _, window = item.strip().rpartition(" ")
        if not days_text.strip() or "-" not in window:
            raise _Invalid(path, f"{item!r} is not a shift like 'mon-fri 08:30-17:00'")
        start_text, _, end_text = window.partition("-")
        days = _parse_days(days_text, f"{path}.days")
        start, end = _parse_hours(start_text, end_text, path)
        return WeeklyShift(days, start, end)
    if not isinstance(item, Mapping):
        raise _Invalid(path, f"expected {{days: [...], start: HH:MM, end: HH:MM}}, got {item!r}")
    for key in item:
        if key not in _SHIFT_KEYS:
            raise _Invalid(f"{path}.{key}", "unknown field (expected days, start, end)")
    for key in ("days", "start", "end"):
        if item.get(key) in (None, "", []):
            raise _Invalid(f"{path}.{key}", "is required")
    days = _parse_days(item["days"], f"{path}.days")
    start, end = _parse_hours(item["start"], item["end"], path)
    return WeeklyShift(days, start, end)


def _parse_days(value: Any, path: str) -> frozenset[int]:
    if isinstance(value, str):
        tokens: list[Any] = [t for t in _DAYS_SPLIT.split(value.strip()) if t]
    elif isinstance(value, list):
        tokens = value
    else:
        raise _Invalid(path, f"expected days such as [mon, tue] or 'mon-fri', got {value!r}")
    days: set[int] = set()
    for token in tokens:
        if not isinstance(token, str):
            raise _Invalid(path, f"{token!r} is not a day ({', '.join(WEEKDAYS)})")
        first, dash, last = token.strip().lower().partition("-")
        a = _weekday(first, token, path)
        b = _weekday(last, token, path) if dash else a
        # A range may wrap around the week: sat-mon is sat, sun, mon.
        days.update((a + k) % 7 for k in range((b - a) % 7 + 1))
    if not days:
        raise _Invalid(path, "needs at least one day")
    return frozenset(days)


def _weekday(text: str, token: Any, path: str) -> int:
    try:
        return WEEKDAYS.index(text.strip())
    except ValueError:
        raise _Invalid(path, f"{token!r} is not a day ({', '.join(WEEKDAYS)})") from None


def _parse_hours(start_value: Any, end_value: Any, path: str) -> tuple[time, time]:
    start = _parse_minutes(start_value, f"{path}.start")
    end = _parse_minutes(end_value, f"{path}.end")
    if start == _DAY_MINUTES:
        raise _Invalid(f"{path}.start", "24:00 is only valid as an end time")
    if start == end:
        raise _Invalid(
            f"{path}.end", "starts and ends at the same time (for all day write 00:00-24:00)"
        )
    return _clock(start), _clock(end)


def _parse_minutes(value: Any, path: str) -> int:
    """Minutes after midnight of "HH:MM" in 00:00..24:00."""
    m = _TIME_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise _Invalid(path, f'{value!r} is not a time HH:MM (quote it in YAML: "08:30")')
    hours, minutes = int(m[1]), int(m[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise _Invalid(path, f"{value!r} is out of range 00:00..24:00")
    return hours * 60 + minutes


def _clock(minutes: int) -> time:
    # 24:00 becomes time(0, 0): as an end, schedule reads it as the midnight ending the day.
    return time(minutes // 60, minutes % 60) if minutes < _DAY_MINUTES else time(0, 0)


def _parse_overrides(value: Any, found: list[_Invalid]) -> list[DatedOverride]:
    try:
        items = _items(value, "overrides")
    except _Invalid as problem:
        found.append(problem)
        return []
    overrides: list[DatedOverride] = []
    seen: dict[tuple[date, time | None], int] = {}
    off_days: dict[date, int] = {}
    hours_days: dict[date, int] = {}
    for i, item in enumerate(items, start=1):
        path = f"overrides[{i}]"
        try:
            override = _parse_override(item, path)
        except _Invalid as problem:
            found.append(problem)
            continue
        day = override.day
        key = (day, override.start)
        clash = seen.get(key)
        if clash is None and override.off:
            clash = hours_days.get(day)
        if clash is None and not override.off:
            clash = off_days.get(day)
        if clash is not None:
            found.append(
                _Invalid(f"{path}.date", f"{day.isoformat()} clashes with overrides[{clash}]")
            )
            continue
        seen[key] = i
        (off_days if override.off else hours_days).setdefault(day, i)
        overrides.append(override)
    return overrides


def _parse_override(item: Any, path: str) -> DatedOverride:
    if isinstance(item, str):
        day_text, _, rest = item.strip().partition(" ")
        day = _parse_date(day_text, f"{path}.date")
        rest = rest.strip()
        if rest.lower() == "off":
            return DatedOverride(day, off=True)
        start_text, dash, end_text = rest.partition("-")
        if not dash:
            raise _Invalid(
                path, f"{item!r} is not like '2026-12-24 off' or '2026-12-26 09:00-13:00'"
            )
        start, end = _parse_hours(start_text, end_text, path)
        return DatedOverride(day, off=False, start=start, end=end)
    if not isinstance(item, Mapping):
        raise _Invalid(path, f"expected {{date: YYYY-MM-DD, off: true}}, got {item!r}")
    for key in item:
        if key not in _OVERRIDE_KEYS:
            raise _Invalid(f"{path}.{key}", "unknown field (expected date, off, start, end)")
    day = _parse_date(item.get("date"), f"{path}.date")
    off = item.get("off", False)
    if not isinstance(off, bool):
        raise _Invalid(f"{path}.off", f"expected true or false, got {off!r}")
    has_hours = item.get("start") is not None or item.get("end") is not None
    if off and has_hours:
        raise _Invalid(path, "give either off: true or start and end, not both")
    if off:
        return DatedOverride(day, off=True)
    if not has_hours:
        raise _Invalid(path, "needs off: true, or start and end")
    for key in ("start", "end"):
        if item.get(key) is None:
            raise _Invalid(f"{path}.{key}", "is required with hours (or use off: true)")
    start, end = _parse_hours(item["start"], item["end"], path)
    return DatedOverride(day, off=False, start=start, end=end)


def _parse_date(value: Any, path: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE_RE.fullmatch(value.strip()):
        # Shaped like a date but not one (2026-02-30): reported below with its path.
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value.strip())
    if value is None or value == "":
        raise _Invalid(path, "is required")
    raise _Invalid(path, f"{value!r} is not a date YYYY-MM-DD")


def _duplicate_phones(specs: list[tuple[int, CounselorSpec]]) -> list[RosterError]:
    first: dict[str, tuple[int, str]] = {}
    errors = []
    for number, spec in specs:
        if spec.phone in first:
            other, other_name = first[spec.phone]
            errors.append(
                RosterError(
                    f"{mask(spec.phone)} is already the number of entry {other} ({other_name})",
                    entry=number,
                    field="phone",
                    name=spec.name,
                )
            )
        else:
            first[spec.phone] = (number, spec.name)
    return errors


def _sorted_overrides(overrides: Iterable[DatedOverride]) -> tuple[DatedOverride, ...]:
    return tuple(
        sorted(
            set(overrides),
            key=lambda o: (o.day, not o.off, o.start or time(0), o.end or time(0)),
        )
    )


# --- text forms -----------------------------------------------------------------------------


def _hhmm(t: time, *, end: bool = False) -> str:
    # An end at midnight is "24:00": "00:00-24:00" reads as all day, "00:00-00:00" would not.
    if end and t == time(0, 0):
        return "24:00"
    return f"{t.hour:02d}:{t.minute:02d}"


def _format_days(days: frozenset[int]) -> str:
    """mon-fri for runs of three or more, commas otherwise: "mon-fri", "sat,sun"."""
    ordered = sorted(days)
    runs: list[list[int]] = []
    for d in ordered:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{WEEKDAYS[run[0]]}-{WEEKDAYS[run[-1]]}")
        else:
            parts.extend(WEEKDAYS[d] for d in run)
    return ",".join(parts)


def format_shifts(shifts: Iterable[WeeklyShift]) -> str:
    """The CSV text form, e.g. "mon-fri 08:30-17:00; sat 20:00-02:00" ("none" if empty)."""
    parts = [
        f"{_format_days(s.days)} {_hhmm(s.start)}-{_hhmm(s.end, end=True)}"
        for s in canonical_shifts(shifts)
    ]
    return "; ".join(parts) or "none"


def format_overrides(overrides: Iterable[DatedOverride]) -> str:
    """The CSV text form, e.g. "2026-12-24 off; 2026-12-26 09:00-13:00" ("none" if empty)."""
    parts = []
    for o in _sorted_overrides(overrides):
        if o.off or o.start is None or o.end is None:
            parts.append(f"{o.day.isoformat()} off")
        else:
            parts.append(f"{o.day.isoformat()} {_hhmm(o.start)}-{_hhmm(o.end, end=True)}")
    return "; ".join(parts) or "none"


# --- the database -----------------------------------------------------------------------------


@dataclass
class Change:
    """What an import did (or, in a dry run, would do) to one counselor."""

    action: Literal["create", "update", "unchanged"]
    phone_masked: str
    name: str
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"{self.action:9} {self.phone_masked}  {self.name}"
        return "\n".join([head, *(f"    {d}" for d in self.details)])


def import_roster(
    session: Session, specs: list[CounselorSpec], dry_run: bool = False
) -> list[Change]:
    """Upsert ``specs`` by phone number; one :class:`Change` per spec, in order.

    A new number creates a counselor (active, presence available: during a shift they take calls unless they set themselves away) with one ``Shift`` row per weekday
    per slot and one ``ShiftOverride`` row per override. A known number gets the file's name,
    languages and time zone, and its shifts and overrides are *replaced* by the file's when they
    differ. Counselors absent from the file are left alone (not deleted, not deactivated), and so
    are ``active`` and ``state`` of those present: the file is not the place to switch someone off.

    ``dry_run`` computes the same changes without touching the session. Otherwise the session is
    flushed, not committed: the caller owns the transaction. Phone numbers appear only masked.
    """
    phones = [spec.phone for spec in specs]
    if len(set(phones)) != len(phones):
        raise ValueError("the same phone number appears twice in the roster")
    existing: dict[str, Counselor] = {}
    if phones:
        rows = session.scalars(
            select(Counselor)
            .where(Counselor.phone.in_(phones))
            .options(selectinload(Counselor.shifts), selectinload(Counselor.overrides))
        )
        existing = {c.phone: c for c in rows}
    changes = []
    for spec in specs:
        spec = _normalised(spec)
        counselor = existing.get(spec.phone)
        if counselor is None:
            changes.append(_create(session, spec, dry_run))
        else:
            changes.append(_update(session, counselor, spec, dry_run))
    if not dry_run:
        session.flush()
    return changes


def _normalised(spec: CounselorSpec) -> CounselorSpec:
    # Specs built in code need not be canonical; comparisons below assume they are.
    return CounselorSpec(
        name=spec.name,
        phone=spec.phone,
        languages=tuple(lang for lang in LANGUAGES if lang in spec.languages)
        + tuple(sorted(set(spec.languages) - set(LANGUAGES))),
        timezone=spec.timezone,
        shifts=canonical_shifts(spec.shifts),
        overrides=_sorted_overrides(spec.overrides),
    )


def _create(session: Session, spec: CounselorSpec, dry_run: bool) -> Change:
    details = [
        f"languages: {', '.join(spec.languages)}",
        f"timezone: {spec.timezone}",
        f"shifts: {format_shifts(spec.shifts)}",
        f"overrides: {format_overrides(spec.overrides)}",
    ]
    if not dry_run:
        session.add(
            Counselor(
                name=spec.name,
                phone=spec.phone,
                languages=list(spec.languages),
                timezone=spec.timezone,
                shifts=_shift_rows(spec.shifts),
                overrides=_override_rows(spec.overrides),
            )
        )
    return Change("create", mask(spec.phone), spec.name, details)


def _update(session: Session, counselor: Counselor, spec: CounselorSpec, dry_run: bool) -> Change:
    old = _normalised(_spec_lenient(counselor))
    details = []
    if old.name != spec.name:
        details.append(f"name: {old.name} → {spec.name}")
    if old.languages != spec.languages:
        details.append(f"languages: {', '.join(old.languages)} → {', '.join(spec.languages)}")
    if old.timezone != spec.timezone:
        details.append(f"timezone: {old.timezone} → {spec.timezone}")
    shifts_changed = old.shifts != spec.shifts
    if shifts_changed:
        details.append(f"shifts: {format_shifts(old.shifts)} → {format_shifts(spec.shifts)}")
    overrides_changed = old.overrides != spec.overrides
    if overrides_changed:
        details.append(
            f"overrides: {format_overrides(old.overrides)} → {format_overrides(spec.overrides)}"
        )
    if not details:
        return Change("unchanged", mask(spec.phone), spec.name, [])
    if not dry_run:
        counselor.name = spec.name
        counselor.languages = list(spec.languages)
        counselor.timezone = spec.timezone
        if shifts_changed or overrides_changed:
            if shifts_changed:
                counselor.shifts.clear()
            if overrides_changed:
                counselor.overrides.clear()
            # The unit of work inserts before it deletes; an override for the same day and
            # start would then trip the unique constraint, so the old rows go first.
            session.flush()
            if shifts_changed:
                counselor.shifts.extend(_shift_rows(spec.shifts))
            if overrides_changed:
                counselor.overrides.extend(_override_rows(spec.overrides))
    return Change("update", mask(spec.phone), spec.name, details)


def _shift_rows(shifts: Iterable[WeeklyShift]) -> list[Shift]:
    slots = {(day, s.start, s.end) for s in shifts for day in s.days}
    return [
        Shift(weekday=day, start=_hhmm(start), end=_hhmm(end, end=True))
        for day, start, end in sorted(slots)
    ]


def _override_rows(overrides: Iterable[DatedOverride]) -> list[ShiftOverride]:
    return [
        ShiftOverride(
            day=o.day,
            off=o.off,
            start=None if o.start is None else _hhmm(o.start),
            end=None if o.end is None else _hhmm(o.end, end=True),
        )
        for o in _sorted_overrides(overrides)
    ]


def _stored_time(value: str | None, what: str) -> time:
    m = _TIME_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None or int(m[2]) > 59 or int(m[1]) * 60 + int(m[2]) > _DAY_MINUTES:
        raise ValueError(f"{what} {value!r} is not a time HH:MM")
    return _clock(int(m[1]) * 60 + int(m[2]))


def _shifts_of(c: Counselor, *, strict: bool) -> tuple[WeeklyShift, ...]:
    shifts = []
    for row in c.shifts:
        try:
            if not 0 <= row.weekday <= 6:
                raise ValueError(f"weekday {row.weekday!r} is not 0..6")
            start = _stored_time(row.start, "start")
            end = _stored_time(row.end, "end")
        except ValueError as exc:
            if strict:
                raise ValueError(f"counselor {c.id}: shift {row.id}: {exc}") from None
            # One bad row (say, from a dashboard bug) must not take the whole roster down.
            log.warning("counselor %s: ignoring shift %s: %s", c.id, row.id, exc)
            continue
        shifts.append(WeeklyShift(frozenset({row.weekday}), start, end))
    return canonical_shifts(shifts)


def _overrides_of(c: Counselor, *, strict: bool) -> tuple[DatedOverride, ...]:
    overrides = []
    for row in c.overrides:
        try:
            if row.off:
                overrides.append(DatedOverride(row.day, off=True))
            else:
                start = _stored_time(row.start, "start")
                end = _stored_time(row.end, "end")
                overrides.append(DatedOverride(row.day, off=False, start=start, end=end))
        except ValueError as exc:
            if strict:
                raise ValueError(f"counselor {c.id}: override {row.id}: {exc}") from None
            log.warning("counselor %s: ignoring override %s: %s", c.id, row.id, exc)
    return _sorted_overrides(overrides)


def counselor_to_spec(c: Counselor) -> CounselorSpec:
    """The roster-file view of a stored counselor. Raises ValueError (naming the counselor id,
    never the number) for stored times that are not HH:MM."""
    return CounselorSpec(
        name=c.name,
        phone=c.phone,
        languages=tuple(lang for lang in LANGUAGES if lang in c.languages)
        + tuple(sorted(set(c.languages) - set(LANGUAGES))),
        timezone=c.timezone,
        shifts=_shifts_of(c, strict=True),
        overrides=_overrides_of(c, strict=True),
    )


def _spec_lenient(c: Counselor) -> CounselorSpec:
    # For comparisons during import: a bad stored row shows up as a change and is replaced.
    return CounselorSpec(
        name=c.name,
        phone=c.phone,
        languages=tuple(c.languages),
        timezone=c.timezone,
        shifts=_shifts_of(c, strict=False),
        overrides=_overrides_of(c, strict=False),
    )


def roster_entries(session: Session) -> list[RosterEntry]:
    """Every counselor (inactive ones too, flagged) as :mod:`hotline.schedule` wants them.

    A counselor whose stored time zone is unknown is skipped with a warning, and so is a single
    bad shift or override row: routing must keep working around one broken record.
    """
    rows = session.scalars(
        select(Counselor)
        .options(selectinload(Counselor.shifts), selectinload(Counselor.overrides))
        .order_by(Counselor.id)
    )
    entries = []
    for c in rows:
        try:
            tz = ZoneInfo(c.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            log.warning("counselor %s: unknown time zone %r; never on call", c.id, c.timezone)
            continue
        entries.append(
            RosterEntry(
                counselor_id=c.id,
                name=c.name,
                languages=frozenset(lang.strip().lower() for lang in c.languages),
                timezone=tz,
                shifts=_shifts_of(c, strict=False),
                overrides=_overrides_of(c, strict=False),
                active=c.active,
            )
        )
    return entries


# --- export ---------------------------------------------------------------------------------


def export_roster(session: Session) -> str:
    """Every counselor as a roster YAML file; importing it back changes nothing.

    Inactive counselors are exported too (the file has no such field), marked by a comment.
    """
    rows = session.scalars(
        select(Counselor)
        .options(selectinload(Counselor.shifts), selectinload(Counselor.overrides))
        .order_by(Counselor.id)
    )
    lines = [
        "# Counselor roster: edit, then `hotline counselors import FILE` (upsert by phone).",
        "# Shifts are weekly, in each counselor's own time zone; end <= start crosses midnight.",
        "counselors:",
    ]
    empty = True
    for c in rows:
        empty = False
        spec = counselor_to_spec(c)
        if not c.active:
            lines.append("  # inactive (set in the dashboard): takes no calls")
        lines.append(f"  - name: {_yaml_str(spec.name)}")
        lines.append(f"    phone: {json.dumps(spec.phone)}")
        lines.append(f"    languages: [{', '.join(spec.languages)}]")
        lines.append(f"    timezone: {_yaml_str(spec.timezone)}")
        if spec.shifts:
            lines.append("    shifts:")
            for s in spec.shifts:
                days = ", ".join(WEEKDAYS[d] for d in sorted(s.days))
                lines.append(
                    f'      - {{days: [{days}], start: "{_hhmm(s.start)}", '
                    f'end: "{_hhmm(s.end, end=True)}"}}'
                )
        else:
            lines.append("    shifts: []")
        if spec.overrides:
            lines.append("    overrides:")
            for o in spec.overrides:
                if o.off or o.start is None or o.end is None:
                    lines.append(f"      - {{date: {o.day.isoformat()}, off: true}}")
                else:
                    lines.append(
                        f'      - {{date: {o.day.isoformat()}, start: "{_hhmm(o.start)}", '
                        f'end: "{_hhmm(o.end, end=True)}"}}'
                    )
    if empty:
        lines[-1] = "counselors: []"
    return "\n".join(lines) + "\n"


def _yaml_str(text: str) -> str:
    """``text`` as a YAML scalar: plain when that reads back as the same string, else quoted."""
    with contextlib.suppress(yaml.YAMLError):
        if yaml.load(f"k: {text}", Loader=_Loader) == {"k": text}:
            return text
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(text, ensure_ascii=False)
