from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hotline.hours import WEEKDAYS, HoursError, ServiceHours

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
ROME = ZoneInfo("Europe/Rome")
# Zones with awkward DST: Sao Paulo jumped at midnight, Lord Howe shifts by 30 minutes.
ZONES = [SH, NY, ROME, ZoneInfo("America/Sao_Paulo"), ZoneInfo("Australia/Lord_Howe")]


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def hours(weekly: dict[str, Any], **extra: Any) -> ServiceHours:
    return ServiceHours.from_config({"weekly": weekly, **extra})


# --- default configuration ---------------------------------------------------------------


def test_default_hours() -> None:
    h = ServiceHours.from_config(None)
    assert h.tz == SH
    assert h.weekly_summary() == {day: ["08:30-24:00"] for day in WEEKDAYS}
    assert not h.is_open(sh(2026, 3, 4, 8, 29, 59))
    assert h.is_open(sh(2026, 3, 4, 8, 30))
    assert h.is_open(sh(2026, 3, 4, 23, 59, 59, 999999))
    assert not h.is_open(sh(2026, 3, 5, 0, 0))
    assert h.closes_at(sh(2026, 3, 4, 10)) == sh(2026, 3, 5, 0, 0)
    assert h.closes_at(sh(2026, 3, 4, 8)) is None
    assert h.next_open(sh(2026, 3, 4, 1)) == sh(2026, 3, 4, 8, 30)


def test_instants_in_other_zones_are_compared_absolutely() -> None:
    h = ServiceHours.from_config(None)
    # 00:30 UTC is 08:30 in Shanghai.
    assert h.is_open(datetime(2026, 3, 4, 0, 30, tzinfo=UTC))
    assert not h.is_open(datetime(2026, 3, 4, 0, 29, tzinfo=UTC))
    assert h.is_open(datetime(2026, 3, 3, 19, 30, tzinfo=NY))  # 08:30 next day in Shanghai


def test_pickle_round_trip() -> None:
    h = hours(
        {"sun": ["20:00-02:00"]}, holidays="CN", overrides=[{"date": "2026-03-01", "closed": True}]
    )
    h.is_open(sh(2026, 3, 2, 1))  # fill the cache first
    copy = pickle.loads(pickle.dumps(h))
    assert copy == h
    assert not copy.is_open(sh(2026, 3, 2, 1))
    assert copy.is_open(sh(2026, 3, 9, 1))


def test_naive_datetimes_are_rejected() -> None:
    h = ServiceHours.from_config(None)
    naive = datetime(2026, 3, 4, 10)
    for call in (h.is_open, h.next_open, h.closes_at):
        with pytest.raises(ValueError, match="timezone-aware"):
            call(naive)


def test_date_methods_refuse_datetimes() -> None:
    h = ServiceHours.from_config(None)
    with pytest.raises(TypeError):
        h.windows_on(sh(2026, 2, 17))
    with pytest.raises(TypeError):
        h.is_holiday(sh(2026, 2, 17))


# --- windows -----------------------------------------------------------------------------


def test_window_crossing_midnight_belongs_to_its_start_day() -> None:
    h = hours({"sun": ["20:00-02:00"]}, holidays="CN")
    # 2026-03-01 is a Sunday.
    assert h.windows_on(date(2026, 3, 2)) == []
    [w] = h.windows_on(date(2026, 3, 1))
    assert (w.start, w.end) == (sh(2026, 3, 1, 20), sh(2026, 3, 2, 2))
    assert not h.is_open(sh(2026, 3, 1, 19, 59))
    assert h.is_open(sh(2026, 3, 2, 1, 0))
    assert h.closes_at(sh(2026, 3, 2, 1, 0)) == sh(2026, 3, 2, 2)
    assert not h.is_open(sh(2026, 3, 2, 2, 0))
    assert h.next_open(sh(2026, 2, 28, 12)) == sh(2026, 3, 1, 20)
    # Monday 2026-10-05 is a holiday, Sunday is not: the Sunday window still runs past midnight.
    assert h.is_holiday(date(2026, 10, 5)) is not None
    assert h.is_open(sh(2026, 10, 5, 1, 0))


def test_24_00_end_and_00_00_end_are_midnight() -> None:
    h = hours({"mon": ["22:00-00:00"], "tue": ["08:30-24:00"]})
    assert h.weekly_summary()["mon"] == ["22:00-24:00"]
    assert h.closes_at(sh(2026, 3, 2, 23)) == sh(2026, 3, 3, 0, 0)
    assert h.closes_at(sh(2026, 3, 3, 23)) == sh(2026, 3, 4, 0, 0)
    assert not h.is_open(sh(2026, 3, 4, 0, 0))


def test_windows_may_touch_and_are_listed_in_order() -> None:
    h = hours({"sat": ["14:00-24:00", "08:30-12:00", "12:00-14:00"]})
    assert h.weekly_summary()["sat"] == ["08:30-12:00", "12:00-14:00", "14:00-24:00"]
    assert h.is_open(sh(2026, 3, 7, 12, 0))
    assert h.closes_at(sh(2026, 3, 7, 11)) == sh(2026, 3, 7, 12)
    assert [w.start.hour for w in h.windows_on(date(2026, 3, 7))] == [8, 12, 14]


def test_weekly_summary_lists_closed_days_and_round_trips() -> None:
    h = hours({"mon": ["08:30-24:00"], "sun": ["20:00-02:00"]})
    summary = h.weekly_summary()
    assert list(summary) == list(WEEKDAYS)
    assert summary["tue"] == []
    assert summary["sun"] == ["20:00-02:00"]
    assert hours(summary) == h


def test_next_open_horizon() -> None:
    h = hours({}, overrides=[{"date": "2026-04-10", "hours": ["09:00-10:00"]}])
    at = sh(2026, 3, 4, 12)
    assert h.next_open(at) is None
    assert h.next_open(at, horizon_days=37) == sh(2026, 4, 10, 9)
    assert h.next_open(at, horizon_days=36) is None  # starts 36 days and 21 hours later
    assert h.next_open(sh(2026, 4, 10, 9, 30), horizon_days=0) == sh(2026, 4, 10, 9, 30)


# --- holidays and overrides --------------------------------------------------------------


def test_library_reports_lunar_festivals() -> None:
    h = hours({}, holidays="CN", holiday_language="en_US")
    assert h.is_holiday(date(2027, 2, 6)) == "Chinese New Year (Spring Festival)"
    assert h.is_holiday(date(2027, 9, 15)) == "Mid-Autumn Festival"
    assert h.is_holiday(date(2027, 9, 14)) is None


def test_chinese_holidays_close_the_line() -> None:
    h = ServiceHours.from_config(None)
    # Names default to the country's own language, whatever the process locale.
    assert h.is_holiday(date(2026, 2, 17)) == "春节"
    assert h.is_holiday(date(2026, 4, 5)) == "清明节"
    assert h.is_holiday(date(2026, 6, 19)) == "端午节"
    assert h.is_holiday(date(2026, 9, 25)) == "中秋节"
    assert h.is_holiday(date(2026, 3, 4)) is None
    for day in (date(2026, 2, 17), date(2026, 9, 25)):
        assert h.windows_on(day) == []
        assert not h.is_open(datetime.combine(day, time(12), SH))
    assert h.is_open(sh(2026, 9, 24, 12))


def test_no_holidays_unless_configured() -> None:
    h = hours({"tue": ["08:30-24:00"]})
    assert h.is_holiday(date(2026, 2, 17)) is None
    assert h.is_open(sh(2026, 2, 17, 12))


def test_holiday_hours() -> None:
    h = hours({d: ["08:30-24:00"] for d in WEEKDAYS}, holidays="CN", holiday_hours=["10:00-14:00"])
    assert h.is_open(sh(2026, 2, 17, 10, 0))
    assert not h.is_open(sh(2026, 2, 17, 14, 0))
    assert not h.is_open(sh(2026, 2, 17, 9, 0))


def test_next_open_skips_holidays() -> None:
    h = hours({d: ["09:00-17:00"] for d in WEEKDAYS[:5]}, holidays="CN")
    # Friday 13 Feb 2026; the 16th-20th and the 23rd are days off, the 21st-22nd a weekend.
    assert h.next_open(sh(2026, 2, 13, 18)) == sh(2026, 2, 24, 9)


def test_overrides_beat_holidays_and_weekly() -> None:
    h = hours(
        {d: ["08:30-24:00"] for d in WEEKDAYS},
        holidays="CN",
        overrides=[
            {"date": date(2026, 2, 17), "hours": ["10:00-16:00"]},
            {"date": "2026-12-24", "closed": True},
            {"date": "2026-12-31", "closed": False, "hours": ["08:30-18:00"]},
        ],
    )
    assert h.is_holiday(date(2026, 2, 17)) == "春节"
    assert h.is_open(sh(2026, 2, 17, 12))
    assert not h.is_open(sh(2026, 2, 17, 9))
    assert h.windows_on(date(2026, 12, 24)) == []
    assert h.next_open(sh(2026, 12, 24, 12)) == sh(2026, 12, 25, 8, 30)
    assert h.closes_at(sh(2026, 12, 31, 12)) == sh(2026, 12, 31, 18)


# --- DST ---------------------------------------------------------------------------------


def test_new_york_spring_forward() -> None:
    # 02:00 EST jumps to 03:00 EDT: an end at 02:30 falls in the gap and ends at the jump.
    [sat] = hours({"sat": ["23:00-02:30"]}, timezone=NY).windows_on(date(2026, 3, 7))
    assert sat.end == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert sat.duration == timedelta(hours=3)
    h = hours({"sun": ["01:00-03:00", "03:30-04:00"]}, timezone=NY)
    assert h.windows_on(date(2026, 3, 8))[0].duration == timedelta(hours=1)
    assert h.is_open(datetime(2026, 3, 8, 1, 59, tzinfo=NY))
    assert h.closes_at(datetime(2026, 3, 8, 1, 59, tzinfo=NY)) == datetime(2026, 3, 8, 3, tzinfo=NY)
    assert not h.is_open(datetime(2026, 3, 8, 3, 0, tzinfo=NY))


def test_nonexistent_start_moves_to_end_of_gap() -> None:
    h = hours({"sun": ["02:30-04:00", "02:00-02:15"]}, timezone=NY)
    [w] = h.windows_on(date(2026, 3, 8))  # the window inside the gap vanishes
    assert w.start == datetime(2026, 3, 8, 3, 0, tzinfo=NY)
    assert w.start.astimezone(UTC) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert h.next_open(datetime(2026, 3, 8, 1, 0, tzinfo=NY)) == w.start


def test_new_york_fall_back() -> None:
    # The ambiguous 01:30 end is its first occurrence (EDT).
    [sat] = hours({"sat": ["23:00-01:30"]}, timezone=NY).windows_on(date(2026, 10, 31))
    assert sat.end.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    h = hours({"sun": ["01:00-03:00"]}, timezone=NY)
    [sun] = h.windows_on(date(2026, 11, 1))
    assert sun.duration == timedelta(hours=3)
    assert sun.start.astimezone(UTC) == datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
    second_0130 = datetime(2026, 11, 1, 1, 30, tzinfo=NY, fold=1)
    assert second_0130.astimezone(UTC) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert h.is_open(second_0130)
    assert h.closes_at(second_0130) == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    assert h.is_open(datetime(2026, 11, 1, 7, 59, tzinfo=UTC))
    assert not h.is_open(datetime(2026, 11, 1, 8, 0, tzinfo=UTC))


def test_rome_dst() -> None:
    h = hours({"sun": ["01:00-04:00"]}, timezone="Europe/Rome")
    [spring] = h.windows_on(date(2026, 3, 29))
    [autumn] = h.windows_on(date(2026, 10, 25))
    assert spring.duration == timedelta(hours=2)
    assert autumn.duration == timedelta(hours=4)
    assert h.is_open(datetime(2026, 10, 25, 2, 30, tzinfo=ROME, fold=1))


def test_shanghai_has_no_dst_now() -> None:
    h = ServiceHours.from_config(None)
    for day in (date(2026, 3, 8), date(2026, 11, 1), date(2026, 3, 29), date(2026, 10, 25)):
        [w] = h.windows_on(day)
        assert w.duration == timedelta(hours=15, minutes=30)


# --- configuration errors ----------------------------------------------------------------

MON = {"mon": ["08:30-24:00"]}

ERRORS: list[tuple[Any, str, str]] = [
    ({"weekly": MON, "timezone": "Mars/Olympus"}, "hours.timezone", "unknown time zone"),
    ({"weekly": MON, "timezone": ""}, "hours.timezone", "unknown time zone"),
    ({"weekly": MON, "timezone": 8}, "hours.timezone", "IANA"),
    ({"weekly": {"mo": ["08:30-24:00"]}}, "hours.weekly.mo", "unknown weekday"),
    ({"weekly": {"Mon": ["08:30-24:00"]}}, "hours.weekly.Mon", "unknown weekday"),
    ({"weekly": {"mon": ["8:30-24:00"]}}, "hours.weekly.mon[0]", "not a time HH:MM"),
    ({"weekly": {"mon": ["08:30"]}}, "hours.weekly.mon[0]", "not a window"),
    ({"weekly": {"mon": ["08:30-12:00-13:00"]}}, "hours.weekly.mon[0]", "not a window"),
    ({"weekly": {"mon": ["08:60-12:00"]}}, "hours.weekly.mon[0]", "not a time"),
    ({"weekly": {"tue": ["08:30-24:30"]}}, "hours.weekly.tue[0]", "out of range"),
    ({"weekly": {"tue": ["24:00-08:00"]}}, "hours.weekly.tue[0]", "only valid as an end"),
    ({"weekly": {"mon": ["08:00-08:00"]}}, "hours.weekly.mon[0]", "same time"),
    ({"weekly": {"mon": ["08:00-12:00", "11:00-13:00"]}}, "hours.weekly.mon[1]", "overlaps"),
    ({"weekly": {"mon": ["13:00-02:00", "08:00-14:00"]}}, "hours.weekly.mon[0]", "overlaps"),
    (
        {"weekly": {"sun": ["20:00-02:00"], "mon": ["01:00-05:00"]}},
        "hours.weekly.mon[0]",
        "past midnight",
    ),
    ({"weekly": {"mon": "08:30-24:00"}}, "hours.weekly.mon", "expected a list"),
    ({"weekly": {"mon": [830]}}, "hours.weekly.mon[0]", "not a window"),
    ({"weekly": ["08:30-24:00"]}, "hours.weekly", "must be a mapping"),
    ({"timezone": "Asia/Shanghai"}, "hours.weekly", "required"),
    ({"weekly": MON, "overides": []}, "hours.overides", "unknown key"),
    ({"weekly": MON, "holidays": "XX"}, "hours.holidays", "unknown holidays country"),
    ({"weekly": MON, "holidays": False}, "hours.holidays", "quote the country code"),
    ({"weekly": MON, "holidays": "CN", "holiday_language": "fr"}, "hours.holiday_language", ""),
    ({"weekly": MON, "holiday_language": "en_US"}, "hours.holiday_language", "needs holidays"),
    ({"weekly": MON, "holiday_hours": "open"}, "hours.holiday_hours", "'closed' or a list"),
    ({"weekly": MON, "holiday_hours": ["9-5"]}, "hours.holiday_hours[0]", "not a time"),
    ({"weekly": MON, "overrides": {"date": "2026-12-24"}}, "hours.overrides", "must be a list"),
    (
        {"weekly": MON, "overrides": [{"date": "2026-02-30", "closed": True}]},
        "hours.overrides[0].date",
        "not a date",
    ),
    (
        {"weekly": MON, "overrides": [{"date": "24.12.2026", "closed": True}]},
        "hours.overrides[0].date",
        "not a date",
    ),
    (
        {"weekly": MON, "overrides": [{"date": datetime(2026, 12, 24, 9), "closed": True}]},
        "hours.overrides[0].date",
        "not a date",
    ),
    ({"weekly": MON, "overrides": [{"closed": True}]}, "hours.overrides[0].date", "not a date"),
    (
        {"weekly": MON, "overrides": [{"date": "2026-12-24"}]},
        "hours.overrides[0]",
        "needs closed: true or hours",
    ),
    (
        {"weekly": MON, "overrides": [{"date": "2026-12-24", "closed": False}]},
        "hours.overrides[0]",
        "needs closed: true or hours",
    ),
    (
        {"weekly": MON, "overrides": [{"date": "2026-12-24", "closed": True, "hours": []}]},
        "hours.overrides[0]",
        "not both",
    ),
    (
        {"weekly": MON, "overrides": [{"date": "2026-12-24", "closed": "yes"}]},
        "hours.overrides[0].closed",
        "true or false",
    ),
    (
        {"weekly": MON, "overrides": [{"date": "2026-12-24", "hours": "08:00-09:00"}]},
        "hours.overrides[0].hours",
        "expected a list",
    ),
    (
        {"weekly": MON, "overrides": [{"date": "2026-12-24", "hour": ["08:00-09:00"]}]},
        "hours.overrides[0].hour",
        "unknown key",
    ),
    (
        {
            "weekly": MON,
            "overrides": [
                {"date": "2026-12-24", "closed": True},
                {"date": date(2026, 12, 24), "hours": ["08:00-09:00"]},
            ],
        },
        "hours.overrides[1].date",
        "already overridden",
    ),
    ("CN", "hours", "must be a mapping"),
]


@pytest.mark.parametrize(("config", "path", "fragment"), ERRORS)
def test_config_errors(config: Any, path: str, fragment: str) -> None:
    with pytest.raises(HoursError) as info:
        ServiceHours.from_config(config)
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: ")
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_error_message_format() -> None:
    with pytest.raises(HoursError) as info:
        ServiceHours.from_config({"weekly": {"mon": ["08:30-12:00", "13:00-25:00"]}})
    assert str(info.value) == "hours.weekly.mon[1]: '25:00' is not a time HH:MM"


def test_custom_path_prefix() -> None:
    with pytest.raises(HoursError) as info:
        ServiceHours.from_config({"weekly": {"fun": []}}, path="lines[2].hours")
    assert info.value.path == "lines[2].hours.weekly.fun"


def test_lenient_inputs() -> None:
    h = ServiceHours.from_config(
        {
            "timezone": None,
            "weekly": {"mon": None, "tue": [], "wed": [" 08:30 - 12:00 "]},
            "holidays": "cn",
            "holiday_hours": None,
            "overrides": None,
        }
    )
    assert h.tz == SH
    assert h.holiday_country == "CN"
    assert h.weekly_summary()["wed"] == ["08:30-12:00"]


# --- properties --------------------------------------------------------------------------


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def day_spans(draw: st.DrawFn) -> tuple[list[tuple[int, int]], tuple[int, int] | None]:
    """Non-overlapping same-day spans, plus maybe one window running past midnight."""
    points = sorted(draw(st.sets(st.integers(0, 1440), max_size=5)))
    spans = list(zip(points[0::2], points[1::2], strict=False))
    crossing = None
    if len(points) % 2 and 0 < points[-1] < 1440:
        crossing = (points[-1], draw(st.integers(0, points[-1] - 1)))
    return spans, crossing


def _window_strings(spans: list[tuple[int, int]], crossing: tuple[int, int] | None) -> list[str]:
    return [f"{_hhmm(a)}-{_hhmm(b)}" for a, b in [*spans, *([crossing] if crossing else [])]]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[ServiceHours, datetime]:
    tz = draw(st.sampled_from(ZONES))
    days = [draw(day_spans()) for _ in WEEKDAYS]
    weekly = {}
    for i, name in enumerate(WEEKDAYS):
        spans, crossing = days[i]
        prev = days[i - 1][1]
        spill = prev[1] if prev else 0  # keep clear of yesterday's window past midnight
        keep = [s for s in spans if s[0] >= spill]
        weekly[name] = _window_strings(
            keep, crossing if crossing and crossing[0] >= spill else None
        )

    if draw(st.booleans()):
        # Instants on a configured boundary, in the service zone, either fold.
        day = draw(st.dates(date(2000, 1, 1), date(2040, 12, 31)))
        minute = draw(st.sampled_from([0, *(m for s, c in days for p in s for m in p)]))
        naive = datetime.combine(day, time()) + timedelta(minutes=minute)
        t = naive.replace(tzinfo=tz, fold=draw(st.integers(0, 1)))
    else:
        t = draw(
            st.datetimes(
                min_value=datetime(2000, 1, 1),
                max_value=datetime(2040, 12, 31),
                timezones=st.sampled_from([*ZONES, UTC]),
            )
        )
    local_day = t.astimezone(tz).date()
    offsets = draw(st.sets(st.integers(-2, 2), max_size=3))
    # Overrides and holiday hours are not checked against neighbouring days, so they may
    # overlap a window running past midnight: the queries must cope.
    overrides = [
        {"date": local_day + timedelta(days=k), "closed": True}
        if draw(st.booleans())
        else {"date": local_day + timedelta(days=k), "hours": _window_strings(*draw(day_spans()))}
        for k in sorted(offsets)
    ]
    config = {
        "timezone": tz.key,
        "weekly": weekly,
        "holidays": draw(st.sampled_from([None, "CN"])),
        "holiday_hours": _window_strings(*draw(day_spans())) if draw(st.booleans()) else "closed",
        "overrides": overrides,
    }
    return ServiceHours.from_config(config), t


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_open_iff_next_open_is_now(scenario: tuple[ServiceHours, datetime]) -> None:
    h, t = scenario
    nxt = h.next_open(t)
    assert h.is_open(t) == (nxt == t)
    assert h.is_open(t) == (nxt is not None and nxt.astimezone(UTC) == t.astimezone(UTC))


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_next_open_is_later_and_open(scenario: tuple[ServiceHours, datetime]) -> None:
    h, t = scenario
    nxt = h.next_open(t)
    if nxt is not None:
        assert nxt.astimezone(UTC) >= t.astimezone(UTC)
        assert nxt.astimezone(UTC) - t.astimezone(UTC) <= timedelta(days=30)
        assert h.is_open(nxt)
        if nxt != t:
            # In UTC: subtracting from a zoned datetime moves its wall clock, and next to a
            # DST gap that lands on a time that does not exist.
            assert not h.is_open(nxt.astimezone(UTC) - timedelta(microseconds=1))
    end = h.closes_at(t)
    assert (end is not None) == h.is_open(t)
    if end is not None:
        assert end.astimezone(UTC) > t.astimezone(UTC)
        assert h.is_open(end.astimezone(UTC) - timedelta(microseconds=1))


@settings(deadline=None)
@given(scenarios())
def test_windows_are_ordered_and_well_formed(scenario: tuple[ServiceHours, datetime]) -> None:
    h, t = scenario
    windows = h.windows_on(t.astimezone(h.tz).date())
    for w in windows:
        assert w.start.tzinfo is h.tz and w.end.tzinfo is h.tz
        assert w.duration > timedelta(0)
        assert h.is_open(w.start)
    starts = [w.start.astimezone(UTC) for w in windows]
    assert starts == sorted(starts)


window_text = st.one_of(
    st.text(),
    st.text(alphabet="0123456789:- ", max_size=13),
    st.builds(
        "{}:{}-{}:{}".format,
        *[st.integers(0, 99).map("{:02d}".format) for _ in range(4)],
    ),
)


@settings(deadline=None)
@given(window_text)
def test_parsing_window_strings_only_raises_hours_error(text: str) -> None:
    try:
        h = hours({"mon": [text]})
    except HoursError as e:
        assert e.path == "hours.weekly.mon[0]"
    else:
        [summary] = h.weekly_summary()["mon"]
        assert hours({"mon": [summary]}) == h


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.dates()
    | st.datetimes(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(
        ["timezone", "weekly", "holidays", "holiday_language", "holiday_hours", "overrides"]
    ),
    json_like,
)
def test_any_config_value_only_raises_hours_error(key: str, value: Any) -> None:
    config: dict[str, Any] = {"weekly": MON, "holidays": "CN", key: value}
    try:
        ServiceHours.from_config(config)
    except HoursError as e:
        assert e.path.startswith(f"hours.{key}")


@settings(deadline=None)
@given(json_like)
def test_any_config_only_raises_hours_error(value: Any) -> None:
    assume(value is not None)  # None means the default configuration
    try:
        ServiceHours.from_config(value)
    except HoursError as e:
        assert e.path.startswith("hours")
