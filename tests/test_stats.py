"""hotline.stats, hotline.export and hotline.callsearch on known data, on both databases."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from hotline.callsearch import CallFilter, Cursor, iter_calls, search_calls
from hotline.db import Database
from hotline.export import EXPORT_COLUMNS, csv_lines, json_chunks
from hotline.models import Call, Counselor
from hotline.stats import figures_rows, period_stats

T0 = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 in Asia/Shanghai


def call(n: int, at: dt.datetime, **kw: object) -> Call:
    defaults: dict[str, object] = {
        "call_sid": f"CA{n:032d}",
        "hotline_number": "+390212345678",
        "caller_number": f"+39333123{n:04d}",
        "caller_country": "IT",
        "language": "mandarin",
        "started_at": at,
    }
    defaults.update(kw)
    return Call(**defaults)  # type: ignore[arg-type]


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url)
    with database.session() as s:
        wang = Counselor(name="王敏", phone="+8613800000001", languages=["mandarin"])
        s.add(wang)
        s.flush()
        q = dt.timedelta(seconds=20)

        def answered(n: int, at: dt.datetime, wait: int, talk: int, **kw: object) -> Call:
            return call(
                n,
                at,
                queued_at=at + q,
                answered_at=at + q + dt.timedelta(seconds=wait),
                ended_at=at + q + dt.timedelta(seconds=wait + talk),
                wait_seconds=wait,
                talk_seconds=talk,
                outcome="answered",
                counselor_id=wang.id,
                **kw,
            )

        s.add_all(
            [
                answered(1, T0, 30, 600),
                answered(2, T0 + dt.timedelta(minutes=10), 90, 300),
                answered(3, T0 + dt.timedelta(hours=1), 10, 900, language="english"),
                call(
                    4,
                    T0 + dt.timedelta(hours=1, minutes=5),
                    queued_at=T0 + dt.timedelta(hours=1, minutes=6),
                    ended_at=T0 + dt.timedelta(hours=1, minutes=8),
                    wait_seconds=120,
                    outcome="abandoned_queue",
                ),
                call(5, T0 + dt.timedelta(days=1), outcome="abandoned_ivr", language=None),
                call(
                    6,
                    T0 + dt.timedelta(days=1),
                    outcome="after_hours",
                    hotline_number="+81300000000",
                ),
                # Outside the period:
                answered(7, T0 - dt.timedelta(days=1), 5, 5),
            ]
        )
    yield database
    database.dispose()


def test_period_stats_known_data(db: Database) -> None:
    with db.session() as s:
        st = period_stats(s, T0, T0 + dt.timedelta(days=7), timezone="Asia/Shanghai")
    t = st.total
    assert (t.calls, t.answered, t.queued, t.abandoned) == (6, 3, 4, 1)
    assert t.abandonment_rate == pytest.approx(0.25)
    assert t.average_speed_of_answer == pytest.approx((30 + 90 + 10) / 3)
    assert t.service_level == pytest.approx(2 / 4)  # 30 s and 10 s are within 60 s
    assert t.average_talk == pytest.approx((600 + 300 + 900) / 3)
    # Hours and weekdays are Beijing time: 01:00 UTC is 09:00.
    assert st.by_hour[9].calls == 4 and st.by_hour[10].calls == 2 and st.by_hour[1].calls == 0
    assert st.by_weekday[0].calls == 4 and st.by_weekday[1].calls == 2
    assert st.by_language["mandarin"].calls == 4
    assert st.by_language["english"].answered == 1
    assert st.by_language["none"].calls == 1
    assert st.by_hotline_number["+81300000000"].calls == 1
    [(name, tally)] = st.by_counselor.items()
    assert name.startswith("王敏") and tally.answered == 3
    rows = figures_rows(st)
    assert rows[0][:3] == ["group", "key", "calls"] and rows[1][:3] == ["total", "all", 6]


def test_service_level_threshold_is_configurable(db: Database) -> None:
    with db.session() as s:
        st = period_stats(s, T0, T0 + dt.timedelta(days=7), service_level_seconds=120)
    assert st.total.service_level == pytest.approx(3 / 4)


def test_empty_period_has_no_rates(db: Database) -> None:
    with db.session() as s:
        st = period_stats(s, T0 + dt.timedelta(days=30), T0 + dt.timedelta(days=31))
    assert st.total.calls == 0 and st.total.abandonment_rate is None
    assert st.total.service_level is None and st.total.average_talk is None


def test_search_filters_and_keyset_pages(db: Database) -> None:
    with db.session() as s:
        ids = []
        cursor = None
        while True:
            page = search_calls(s, CallFilter(), limit=2, cursor=cursor)
            ids += [c.id for c in page.calls]
            if page.next_cursor is None:
                break
            cursor = Cursor.decode(page.next_cursor.encode())
        assert len(ids) == 7 and len(set(ids)) == 7
        starts = [s.get(Call, i).started_at for i in ids]
        assert starts == sorted(starts, reverse=True)
        assert [c.call_sid[-1] for c in search_calls(s, CallFilter(language="english")).calls] == [
            "3"
        ]
        assert len(search_calls(s, CallFilter(outcome="abandoned_queue")).calls) == 1
        # Last digits work against numbers stored only in E.164.
        assert [
            c.call_sid[-1] for c in search_calls(s, CallFilter(caller_last_digits="0004")).calls
        ] == ["4"]
        assert len(search_calls(s, CallFilter(caller_last_digits="04")).calls) == 1
        assert len(search_calls(s, CallFilter(caller_last_digits="7")).calls) == 1
        # Nonsense is dropped, not passed to SQL.
        assert len(search_calls(s, CallFilter(outcome="x' OR 1=1 --")).calls) == 7
        assert len(search_calls(s, CallFilter(caller_last_digits="%")).calls) == 7
        wait = search_calls(s, CallFilter(sort="longest_wait")).calls
        assert [c.wait_seconds for c in wait] == sorted(
            (c.wait_seconds for c in wait), reverse=True
        )
        assert len(list(iter_calls(s, CallFilter(), batch=3))) == 7
    assert Cursor.decode("k1e400_1") is None and Cursor.decode("o99999") is None


def test_export_columns_are_the_contract(db: Database) -> None:
    with db.session() as s:
        text = "".join(csv_lines(iter_calls(s, CallFilter(since=T0))))
        data = json.loads("".join(json_chunks(iter_calls(s, CallFilter(since=T0)))))
    header, *lines = text.splitlines()
    assert header.split(",") == list(EXPORT_COLUMNS)
    assert len(lines) == 6
    assert "+393331230001" not in text and "+39 ••• ••• 0001" in text
    first = data[0]
    assert list(first) == list(EXPORT_COLUMNS)
    assert first["call_sid"].endswith("1") and first["outcome"] == "answered"
    assert first["started_at"] == "2026-11-02T01:00:00Z" and first["counselor"] == "王敏"
    assert first["wait_seconds"] == 30
