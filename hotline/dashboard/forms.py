"""Reading the call-log filter and date ranges from query strings, tolerating anything."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from ..callsearch import CallFilter


def parse_date(text: str | None) -> dt.date | None:
    if not text or len(text) != 10:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def day_start(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def call_filter(args: Mapping[str, str], tz: ZoneInfo) -> CallFilter:
    """The filter from the call log's form: dates are local days, `to` inclusive."""
    since = parse_date(args.get("from"))
    until = parse_date(args.get("to"))
    counselor = args.get("counselor", "")
    return CallFilter(
        since=day_start(since, tz) if since else None,
        until=day_start(until + dt.timedelta(days=1), tz) if until else None,
        hotline_number=args.get("number") or None,
        language=args.get("language") or None,
        outcome=args.get("outcome") or None,
        counselor_id=int(counselor) if counselor.isascii() and counselor.isdigit() else None,
        caller_last_digits=args.get("last") or None,
        sort=args.get("sort") or "newest",
    ).cleaned()


def period(args: Mapping[str, str], tz: ZoneInfo, default_days: int = 7) -> tuple[dt.date, dt.date]:
    """`from`..`to` local days (inclusive) from the query, or the last `default_days` days."""
    today = dt.datetime.now(tz).date()
    end = parse_date(args.get("to")) or today
    start = parse_date(args.get("from")) or end - dt.timedelta(days=default_days - 1)
    if start > end:
        start, end = end, start
    # Bounded so one request cannot ask for a century of figures.
    start = max(start, end - dt.timedelta(days=366))
    return start, end
