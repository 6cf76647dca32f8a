from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.schedule import (
    DatedOverride,
    RosterEntry,
    WeeklyShift,
    canonical_shifts,
    coverage,
    is_on_call,
    on_call,
    shift_windows,
)

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
WEEKDAYS = frozenset(range(5))


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def entry(
    *shifts: WeeklyShift,
    overrides: tuple[DatedOverride, ...] = (),
    tz: ZoneInfo = SH,
    languages: frozenset[str] = frozenset({"mandarin"}),
    active: bool = True,
    counselor_id: int = 1,
) -> RosterEntry:
    return RosterEntry(
        counselor_id=counselor_id,
        name=f"咨询师{counselor_id}",
        languages=languages,
        timezone=tz,
        shifts=shifts,
        overrides=overrides,
        active=active,
    )


def shift(days: set[int] | frozenset[int], start: str, end: str) -> WeeklyShift:
    return WeeklyShift(frozenset(days), time.fromisoformat(start), time.fromisoformat(end))


def hours(window: tuple[datetime, datetime]) -> float:
    return (window[1] - window[0]) / timedelta(hours=1)


# 2026-03-07 is a Saturday.
SATURDAY = date(2026, 3, 7)
SUNDAY = date(2026, 3, 8)


# --- weekly shifts in Asia/Shanghai ----------------------------------------------------------


def test_day_shift_boundaries() -> None:
    e = entry(shift(WEEKDAYS, "08:30", "17:00"))
    assert not is_on_call(e, sh(2026, 3, 4, 8, 29, 59))
    assert is_on_call(e, sh(2026, 3, 4, 8, 30))
    assert is_on_call(e, sh(2026, 3, 4, 16, 59, 59))
    assert not is_on_call(e, sh(2026, 3, 4, 17, 0))  # windows are half-open
    assert not is_on_call(e, sh(2026, 3, 7, 10, 0))  # Saturday


def test_windows_are_utc_instants() -> None:
    e = entry(shift(WEEKDAYS, "08:30", "17:00"))
    [(start, end)] = shift_windows(e, date(2026, 3, 4))
    assert start == datetime(2026, 3, 4, 0, 30, tzinfo=UTC)
    assert end == datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    assert start.tzinfo is UTC
    assert shift_windows(e, SATURDAY) == []


def test_any_aware_datetime_works() -> None:
    e = entry(shift(WEEKDAYS, "08:30", "17:00"))
    assert is_on_call(e, datetime(2026, 3, 4, 1, 0, tzinfo=UTC))  # 09:00 in Shanghai
    assert is_on_call(e, datetime(2026, 3, 3, 20, 0, tzinfo=ZoneInfo("America/New_York")))
    with pytest.raises(ValueError, match="aware"):
        is_on_call(e, datetime(2026, 3, 4, 9, 0))


def test_saturday_night_shift_runs_into_sunday() -> None:
    e = entry(shift({SAT}, "20:00", "02:00"))
    assert not is_on_call(e, sh(2026, 3, 7, 19, 59))
    assert is_on_call(e, sh(2026, 3, 7, 20, 0))
    assert is_on_call(e, sh(2026, 3, 7, 23, 59))
    assert is_on_call(e, sh(2026, 3, 8, 0, 0))
    assert is_on_call(e, sh(2026, 3, 8, 1, 0))
    assert not is_on_call(e, sh(2026, 3, 8, 2, 0))
    assert not is_on_call(e, sh(2026, 3, 8, 2, 30))
    # The window belongs to the Saturday it starts on.
    assert [hours(w) for w in shift_windows(e, SATURDAY)] == [6]
    assert shift_windows(e, SUNDAY) == []


def test_end_at_midnight_24_00() -> None:
    # "16:00-24:00" in the file is stored as end time(0, 0): midnight ending the day.
    e = entry(shift(WEEKDAYS, "16:00", "00:00"))
    assert is_on_call(e, sh(2026, 3, 6, 23, 59, 59))  # Friday
    assert not is_on_call(e, sh(2026, 3, 7, 0, 0))
    assert [hours(w) for w in shift_windows(e, date(2026, 3, 6))] == [8]


def test_all_day_shift() -> None:
    # "00:00-24:00": start == end means 24 hours.
    e = entry(shift({WED}, "00:00", "00:00"))
    [w] = shift_windows(e, date(2026, 3, 4))
    assert hours(w) == 24
    assert is_on_call(e, sh(2026, 3, 4, 0, 0))
    assert is_on_call(e, sh(2026, 3, 4, 23, 59))
    assert not is_on_call(e, sh(2026, 3, 5, 0, 0))
    assert not is_on_call(e, sh(2026, 3, 3, 23, 59))


def test_overlapping_shifts_add_up() -> None:
    e = entry(shift({MON}, "08:00", "12:00"), shift({MON}, "10:00", "14:00"))
    assert is_on_call(e, sh(2026, 3, 2, 13, 0))
    assert not is_on_call(e, sh(2026, 3, 2, 14, 0))


# --- overrides ------------------------------------------------------------------------------


def test_override_off() -> None:
    e = entry(
        shift(WEEKDAYS, "08:30", "17:00"),
        overrides=(DatedOverride(date(2026, 12, 24), off=True),),
    )
    assert not is_on_call(e, sh(2026, 12, 24, 10, 0))
    assert shift_windows(e, date(2026, 12, 24)) == []
    assert is_on_call(e, sh(2026, 12, 23, 10, 0))
    assert is_on_call(e, sh(2026, 12, 25, 10, 0))


def test_override_off_leaves_the_previous_nights_shift_alone() -> None:
    # Off on Sunday removes shifts starting Sunday, not Saturday's shift running into it.
    e = entry(shift({SAT}, "20:00", "02:00"), overrides=(DatedOverride(SUNDAY, off=True),))
    assert is_on_call(e, sh(2026, 3, 8, 1, 0))
    e = entry(shift({SAT}, "20:00", "02:00"), overrides=(DatedOverride(SATURDAY, off=True),))
    assert not is_on_call(e, sh(2026, 3, 8, 1, 0))
    assert not is_on_call(e, sh(2026, 3, 7, 21, 0))


def test_override_hours_replace_that_days_shifts() -> None:
    e = entry(
        shift({SAT}, "08:30", "17:00"),
        shift({SAT}, "20:00", "02:00"),
        overrides=(DatedOverride(date(2026, 12, 26), off=False, start=time(9), end=time(13)),),
    )
    assert is_on_call(e, sh(2026, 12, 26, 9, 0))
    assert is_on_call(e, sh(2026, 12, 26, 12, 59))
    assert not is_on_call(e, sh(2026, 12, 26, 8, 45))  # the weekly shift is replaced
    assert not is_on_call(e, sh(2026, 12, 26, 14, 0))
    assert not is_on_call(e, sh(2026, 12, 26, 21, 0))  # so is the night shift
    assert is_on_call(e, sh(2026, 12, 19, 21, 0))  # the Saturday before is untouched


def test_override_hours_on_a_day_without_shifts_and_several_windows() -> None:
    e = entry(
        shift({MON}, "08:30", "17:00"),
        overrides=(
            DatedOverride(date(2026, 12, 27), off=False, start=time(9), end=time(12)),
            DatedOverride(date(2026, 12, 27), off=False, start=time(22), end=time(1)),
        ),
    )
    windows = shift_windows(e, date(2026, 12, 27))
    assert [hours(w) for w in windows] == [3, 3]
    assert is_on_call(e, sh(2026, 12, 27, 10, 0))
    assert not is_on_call(e, sh(2026, 12, 27, 13, 0))
    assert is_on_call(e, sh(2026, 12, 28, 0, 30))  # the override crosses midnight too
    assert is_on_call(e, sh(2026, 12, 28, 9, 0))  # Monday's weekly shift still applies


def test_override_validation() -> None:
    with pytest.raises(ValueError):
        DatedOverride(date(2026, 1, 1), off=True, start=time(9), end=time(10))
    with pytest.raises(ValueError):
        DatedOverride(date(2026, 1, 1), off=False, start=time(9))
    with pytest.raises(TypeError):
        DatedOverride(datetime(2026, 1, 1), off=True)
    with pytest.raises(ValueError):
        WeeklyShift(frozenset(), time(9), time(10))
    with pytest.raises(ValueError):
        WeeklyShift(frozenset({7}), time(9), time(10))
    with pytest.raises(TypeError):
        shift_windows(entry(), datetime(2026, 1, 1, tzinfo=SH))


# --- DST: Europe/Berlin ---------------------------------------------------------------------


def test_berlin_fall_back_night_is_four_real_hours() -> None:
    # 2026-10-25: clocks go from 03:00 CEST back to 02:00 CET (a Sunday).
    e = entry(shift({SUN}, "01:00", "04:00"), tz=BERLIN)
    [w] = shift_windows(e, date(2026, 10, 25))
    assert w == (
        datetime(2026, 10, 24, 23, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 3, 0, tzinfo=UTC),
    )
    assert hours(w) == 4
    # Both 02:30s are on shift.
    assert is_on_call(e, datetime(2026, 10, 25, 2, 30, fold=0, tzinfo=BERLIN))
    assert is_on_call(e, datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN))
    assert not is_on_call(e, datetime(2026, 10, 25, 3, 0, tzinfo=UTC))
    # The ordinary Sunday a week later is three hours.
    assert [hours(w) for w in shift_windows(e, date(2026, 11, 1))] == [3]


def test_berlin_ambiguous_end_is_the_first_occurrence() -> None:
    e = entry(shift({SUN}, "00:00", "02:30"), tz=BERLIN)
    [w] = shift_windows(e, date(2026, 10, 25))
    # Ends at 02:30 CEST, the first 02:30: 2.5 hours, not 3.5.
    assert w[1] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert not is_on_call(e, datetime(2026, 10, 25, 2, 0, fold=1, tzinfo=BERLIN))


def test_berlin_spring_forward_night_is_two_real_hours() -> None:
    # 2026-03-29: clocks go from 02:00 CET straight to 03:00 CEST (a Sunday).
    e = entry(shift({SUN}, "01:00", "04:00"), tz=BERLIN)
    [w] = shift_windows(e, date(2026, 3, 29))
    assert w == (datetime(2026, 3, 29, 0, 0, tzinfo=UTC), datetime(2026, 3, 29, 2, 0, tzinfo=UTC))
    assert hours(w) == 2
    assert is_on_call(e, datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN))
    assert not is_on_call(e, datetime(2026, 3, 29, 4, 0, tzinfo=BERLIN))


def test_berlin_start_in_the_gap_moves_forward() -> None:
    e = entry(shift({SUN}, "02:30", "05:00"), tz=BERLIN)
    [(start, end)] = shift_windows(e, date(2026, 3, 29))
    assert start == datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN).astimezone(UTC)
    assert end == datetime(2026, 3, 29, 5, 0, tzinfo=BERLIN).astimezone(UTC)
    # A shift wholly inside the gap does not happen that night, but does a week later.
    gap = entry(shift({SUN}, "02:00", "02:45"), tz=BERLIN)
    assert shift_windows(gap, date(2026, 3, 29)) == []
    assert len(shift_windows(gap, date(2026, 4, 5))) == 1


def test_berlin_night_shift_across_both_changes() -> None:
    # Saturday 22:00 to Sunday 06:00: 8 hours normally, 7 in spring, 9 in autumn.
    e = entry(shift({SAT}, "22:00", "06:00"), tz=BERLIN)
    assert [hours(w) for w in shift_windows(e, date(2026, 3, 21))] == [8]
    assert [hours(w) for w in shift_windows(e, date(2026, 3, 28))] == [7]
    assert [hours(w) for w in shift_windows(e, date(2026, 10, 24))] == [9]
    assert is_on_call(e, datetime(2026, 10, 25, 5, 59, tzinfo=BERLIN))
    assert not is_on_call(e, datetime(2026, 10, 25, 6, 0, tzinfo=BERLIN))


# --- on_call and coverage -------------------------------------------------------------------


def test_on_call_filters_language_and_active() -> None:
    day = shift(WEEKDAYS, "08:30", "17:00")
    wang = entry(day, languages=frozenset({"mandarin", "english"}), counselor_id=1)
    li = entry(day, languages=frozenset({"mandarin"}), counselor_id=2)
    huang = entry(day, languages=frozenset({"cantonese"}), counselor_id=3)
    gone = entry(day, languages=frozenset({"mandarin", "english"}), active=False, counselor_id=4)
    night = entry(shift(WEEKDAYS, "17:00", "00:00"), counselor_id=5)
    everyone = [wang, li, huang, gone, night]
    at = sh(2026, 3, 4, 10, 0)
    assert on_call(everyone, at, "mandarin") == [wang, li]
    assert on_call(everyone, at, "English") == [wang]
    assert on_call(everyone, at, "cantonese") == [huang]
    assert on_call(everyone, at, "french") == []
    assert on_call(everyone, sh(2026, 3, 4, 20, 0), "mandarin") == [night]
    # is_on_call is the schedule alone: an inactive counselor's shift still "exists".
    assert is_on_call(gone, at)


def test_coverage_counts_per_slot() -> None:
    entries = [
        entry(shift(WEEKDAYS, "08:30", "17:00"), counselor_id=1),
        entry(shift(WEEKDAYS, "16:00", "00:00"), counselor_id=2),
        entry(shift(WEEKDAYS, "08:30", "17:00"), counselor_id=3, active=False),
    ]
    slots = coverage(entries, sh(2026, 3, 4, 8, 0), sh(2026, 3, 4, 10, 0), "mandarin")
    assert slots == [
        (sh(2026, 3, 4, 8, 0), 0),
        (sh(2026, 3, 4, 8, 30), 1),
        (sh(2026, 3, 4, 9, 0), 1),
        (sh(2026, 3, 4, 9, 30), 1),
    ]
    hourly = coverage(
        entries, sh(2026, 3, 4, 15, 0), sh(2026, 3, 5, 1, 0), "mandarin", timedelta(hours=1)
    )
    assert [count for _, count in hourly] == [1, 2, 1, 1, 1, 1, 1, 1, 1, 0]
    assert all(t.tzinfo is SH for t, _ in hourly)
    assert coverage(entries, sh(2026, 3, 4, 9), sh(2026, 3, 4, 9), "mandarin") == []
    with pytest.raises(ValueError):
        coverage(entries, sh(2026, 3, 4, 9), sh(2026, 3, 4, 10), "mandarin", timedelta(0))


def test_canonical_shifts_regroups() -> None:
    a = (shift({MON, TUE}, "08:30", "17:00"), shift({WED}, "08:30", "17:00"))
    b = (shift({WED, TUE}, "08:30", "17:00"), shift({MON}, "08:30", "17:00"))
    assert canonical_shifts(a) == canonical_shifts(b) == (shift({MON, TUE, WED}, "08:30", "17:00"),)


# --- properties -----------------------------------------------------------------------------

# Zones with awkward DST: Sao Paulo jumped at midnight, Lord Howe shifts by 30 minutes.
ZONES = [
    SH,
    BERLIN,
    ZoneInfo("America/New_York"),
    ZoneInfo("America/Sao_Paulo"),
    ZoneInfo("Australia/Lord_Howe"),
]
times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
weekly_shifts = st.builds(WeeklyShift, st.frozensets(st.integers(0, 6), min_size=1), times, times)
base_day = date(2017, 1, 1)
days = st.integers(0, 365 * 4).map(lambda n: base_day + timedelta(days=n))


@st.composite
def dated_overrides(draw: st.DrawFn) -> DatedOverride:
    day = draw(days)
    if draw(st.booleans()):
        return DatedOverride(day, off=True)
    return DatedOverride(day, off=False, start=draw(times), end=draw(times))


@st.composite
def roster_entries(draw: st.DrawFn) -> RosterEntry:
    return entry(
        *draw(st.lists(weekly_shifts, max_size=4)),
        overrides=tuple(draw(st.lists(dated_overrides(), max_size=3))),
        tz=draw(st.sampled_from(ZONES)),
        languages=draw(
            st.frozensets(st.sampled_from(["mandarin", "cantonese", "english"]), min_size=1)
        ),
        active=draw(st.booleans()),
        counselor_id=draw(st.integers(1, 1000)),
    )


instants = st.datetimes(
    min_value=datetime(2017, 1, 2), max_value=datetime(2020, 12, 30), timezones=st.just(UTC)
)


@settings(deadline=None, max_examples=300)
@given(roster_entries(), instants)
def test_on_call_iff_inside_a_window_of_today_or_yesterday(e: RosterEntry, t: datetime) -> None:
    today = t.astimezone(e.timezone).date()
    windows = shift_windows(e, today) + shift_windows(e, today - timedelta(days=1))
    assert is_on_call(e, t) == any(start <= t < end for start, end in windows)
    # And no other day's window can reach t: the two-day look-back is enough.
    for offset in (-3, -2, 1, 2):
        for start, end in shift_windows(e, today + timedelta(days=offset)):
            assert not start <= t < end


@settings(deadline=None, max_examples=200)
@given(roster_entries(), days)
def test_windows_are_sane(e: RosterEntry, day: date) -> None:
    for start, end in shift_windows(e, day):
        assert start.tzinfo is UTC and end.tzinfo is UTC
        assert start < end
        assert end - start <= timedelta(hours=25)
        # The shift starts on its day (or, pushed out of a DST gap, just after).
        local = start.astimezone(e.timezone)
        assert local.date() in (day, day + timedelta(days=1))
    if e.timezone is SH:
        for start, end in shift_windows(e, day):
            # No DST in China: real length is wall length.
            s = start.astimezone(SH)
            assert (end - start) % timedelta(minutes=15) == timedelta(0)
            assert s.minute in (0, 15, 30, 45)


@settings(deadline=None, max_examples=200)
@given(st.lists(roster_entries(), max_size=6), instants, st.sampled_from(["mandarin", "english"]))
def test_on_call_is_a_subset_speaking_the_language(
    entries: list[RosterEntry], t: datetime, language: str
) -> None:
    result = on_call(entries, t, language)
    assert all(any(r is e for e in entries) for r in result)
    assert all(language in r.languages and r.active and is_on_call(r, t) for r in result)
    expected = [e for e in entries if e.active and language in e.languages and is_on_call(e, t)]
    assert result == expected


@settings(deadline=None, max_examples=100)
@given(roster_entries(), instants)
def test_canonical_shifts_keep_the_meaning(e: RosterEntry, t: datetime) -> None:
    regrouped = RosterEntry(
        e.counselor_id, e.name, e.languages, e.timezone, canonical_shifts(e.shifts), e.overrides
    )
    assert is_on_call(regrouped, t) == is_on_call(e, t)
