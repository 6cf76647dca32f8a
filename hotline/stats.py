"""Call-centre figures for a period, computed with SQL aggregates (no Flask, no ORM rows).

Definitions (what a manager reads on the statistics page and in its CSV):

* **calls**: calls that started in the period.
* **answered**: calls bridged to a counselor.
* **queued**: calls that reached a queue (chose a language and waited for a counselor).
* **abandonment rate**: queued calls whose caller hung up while waiting (``abandoned_queue``)
  / queued calls. Hang-ups in the menu are not counted: nobody could have answered them yet.
* **average speed of answer (ASA)**: mean wait of the answered calls.
* **service level**: queued calls answered within the threshold (default 60 s) / queued calls.
* **average talk time**: mean talk of the calls that have one.

Hour of day and weekday are in the manager's time zone. The database groups by UTC hour, and
each hour is placed in local time here, which is exact for every zone whose offset is a whole
number of hours at that instant (and keeps SQL the same on SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from .models import Call, Counselor, Outcome

__all__ = ["PeriodStats", "Tally", "figures_rows", "period_stats"]


@dataclass
class Tally:
    calls: int = 0
    answered: int = 0
    queued: int = 0
    abandoned: int = 0
    within_service_level: int = 0
    wait_total: int = 0  # seconds, answered calls
    talk_total: int = 0
    talked: int = 0  # calls with a talk time

    def add(self, other: Tally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def abandonment_rate(self) -> float | None:
        return self.abandoned / self.queued if self.queued else None

    @property
    def service_level(self) -> float | None:
        return self.within_service_level / self.queued if self.queued else None

    @property
    def average_speed_of_answer(self) -> float | None:
        return self.wait_total / self.answered if self.answered else None

    @property
    def average_talk(self) -> float | None:
        return self.talk_total / self.talked if self.talked else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "answered": self.answered,
            "queued": self.queued,
            "abandoned": self.abandoned,
            "abandonment_rate": self.abandonment_rate,
            "average_speed_of_answer": self.average_speed_of_answer,
            "service_level": self.service_level,
            "average_talk": self.average_talk,
        }


@dataclass
class PeriodStats:
    since: dt.datetime
    until: dt.datetime
    timezone: str
    service_level_seconds: int
    total: Tally = field(default_factory=Tally)
    by_hour: list[Tally] = field(default_factory=lambda: [Tally() for _ in range(24)])
    by_weekday: list[Tally] = field(default_factory=lambda: [Tally() for _ in range(7)])
    by_language: dict[str, Tally] = field(default_factory=dict)
    by_hotline_number: dict[str, Tally] = field(default_factory=dict)
    by_counselor: dict[str, Tally] = field(default_factory=dict)


def _measures(threshold: int) -> list[ColumnElement[Any]]:
    answered = Call.answered_at.is_not(None)
    return [
        func.count(),
        func.sum(case((answered, 1), else_=0)),
        func.sum(case((Call.queued_at.is_not(None), 1), else_=0)),
        func.sum(case((Call.outcome == Outcome.ABANDONED_QUEUE.value, 1), else_=0)),
        func.sum(
            case(
                (answered & (func.coalesce(Call.wait_seconds, 0) <= threshold), 1),
                else_=0,
            )
        ),
        func.sum(case((answered, func.coalesce(Call.wait_seconds, 0)), else_=0)),
        func.coalesce(func.sum(Call.talk_seconds), 0),
        func.count(Call.talk_seconds),
    ]


def _tally(row: Sequence[Any]) -> Tally:
    return Tally(*(int(v or 0) for v in row))


def _hour_bucket(dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        # date_trunc on timestamptz would use the session's zone; truncate the UTC wall time.
        return func.date_trunc("hour", func.timezone("UTC", Call.started_at))
    return func.strftime("%Y-%m-%d %H", Call.started_at)


def _utc_hour(bucket: Any) -> dt.datetime:
    if isinstance(bucket, dt.datetime):
        return bucket.replace(tzinfo=dt.UTC)
    return dt.datetime.strptime(str(bucket), "%Y-%m-%d %H").replace(tzinfo=dt.UTC)


def period_stats(
    session: Session,
    since: dt.datetime,
    until: dt.datetime,
    *,
    timezone: str = "Asia/Shanghai",
    service_level_seconds: int = 60,
) -> PeriodStats:
    """Figures for calls started in ``[since, until)`` (aware datetimes)."""
    tz = ZoneInfo(timezone)
    out = PeriodStats(since, until, timezone, service_level_seconds)
    measures = _measures(service_level_seconds)
    period = (Call.started_at >= since, Call.started_at < until)
    dialect = session.get_bind().dialect.name
    hour = _hour_bucket(dialect)
    keys = (hour, Call.language, Call.hotline_number, Call.counselor_id)
    by_key: list[list[tuple[Any, Tally]]] = [[], [], [], []]
    if dialect == "postgresql":
        # One pass over the period for all four breakdowns. GROUPING() has a bit set for each
        # key that is *not* grouped in that row, so a row of the i-th set has only bit i clear.
        flags = func.grouping(*keys)
        q = select(flags, *keys, *measures).where(*period).group_by(func.grouping_sets(*keys))
        full = (1 << len(keys)) - 1
        for row in session.execute(q):
            i = next(i for i in range(len(keys)) if full ^ (1 << (len(keys) - 1 - i)) == row[0])
            by_key[i].append((row[1 + i], _tally(row[1 + len(keys) :])))
    else:
        for i, key in enumerate(keys):
            rows = session.execute(select(key, *measures).where(*period).group_by(key))
            by_key[i] = [(row[0], _tally(row[1:])) for row in rows]

    for bucket, tally in by_key[0]:
        if bucket is None:
            continue
        local = _utc_hour(bucket).astimezone(tz)
        out.by_hour[local.hour].add(tally)
        out.by_weekday[local.weekday()].add(tally)
        out.total.add(tally)
    for language, tally in by_key[1]:
        out.by_language[language or "none"] = tally
    for number, tally in by_key[2]:
        out.by_hotline_number[number or "none"] = tally
    names = {row[0]: row[1] for row in session.execute(select(Counselor.id, Counselor.name))}
    for counselor_id, tally in by_key[3]:
        if counselor_id is not None:
            out.by_counselor[f"{names.get(counselor_id, '?')} (#{counselor_id})"] = tally
    return out


FIGURE_COLUMNS = (
    "group",
    "key",
    "calls",
    "answered",
    "queued",
    "abandoned",
    "abandonment_rate",
    "average_speed_of_answer",
    "service_level",
    "average_talk",
)


def figures_rows(stats: PeriodStats) -> list[list[Any]]:
    """The figures as table rows (FIGURE_COLUMNS), for the CSV download."""
    rows: list[list[Any]] = [list(FIGURE_COLUMNS)]

    def add(group: str, key: str, tally: Tally) -> None:
        d = tally.as_dict()
        rows.append([group, key, *(_round(d[c]) for c in FIGURE_COLUMNS[2:])])

    add("total", "all", stats.total)
    for hour, tally in enumerate(stats.by_hour):
        add("hour", f"{hour:02d}", tally)
    for day, tally in zip(
        ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), stats.by_weekday, strict=True
    ):
        add("weekday", day, tally)
    for group, table in (
        ("language", stats.by_language),
        ("hotline_number", stats.by_hotline_number),
        ("counselor", stats.by_counselor),
    ):
        for key, tally in sorted(table.items()):
            add(group, key, tally)
    return rows


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else ("" if value is None else value)
