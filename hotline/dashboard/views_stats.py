"""Managers: figures for a period, drawn in the browser, and their CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from flask import Response, current_app, request

from ..models import UserRole
from ..stats import PeriodStats, figures_rows, period_stats
from .core import bp, db, page, require, tz
from .forms import day_start, period


def _stats() -> tuple[PeriodStats, dt.date, dt.date]:
    zone = tz()
    start, end = period(request.args, zone)
    stats = period_stats(
        db(),
        day_start(start, zone),
        day_start(end + dt.timedelta(days=1), zone),
        timezone=zone.key,
        service_level_seconds=int(current_app.config.get("HOTLINE_SERVICE_LEVEL_SECONDS", 60)),
    )
    return stats, start, end


@bp.get("/dashboard/stats")
@require(UserRole.MANAGER.value)
def stats() -> Any:
    figures, start, end = _stats()
    chart = {
        "by_hour": [[h.calls, h.answered] for h in figures.by_hour],
        "by_weekday": [[d.calls, d.answered] for d in figures.by_weekday],
    }
    return page("stats.html", s=figures, start=start, end=end, chart=chart)


@bp.get("/dashboard/stats/export.csv")
@require(UserRole.MANAGER.value)
def stats_export() -> Response:
    figures, start, end = _stats()
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(figures_rows(figures))
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="figures-{start}-{end}.csv"'},
    )
