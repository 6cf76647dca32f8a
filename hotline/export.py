"""The call log export (DESIGN.md "Call log export", a contract): one row per call.

Shared by ``hotline calls export`` and the dashboard's CSV download, so the two can never
drift apart. Caller numbers appear only masked.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any, Final

from .models import Call
from .phone import mask

__all__ = ["EXPORT_COLUMNS", "csv_lines", "export_row", "json_chunks"]

EXPORT_COLUMNS: Final = (
    "call_sid",
    "hotline_number",
    "masked_caller_number",
    "caller_country",
    "language",
    "started_at",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
    "outcome",
    "counselor",
)


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def export_row(call: Call) -> dict[str, Any]:
    withheld = call.caller_withheld and not call.caller_number
    return {
        "call_sid": call.call_sid,
        "hotline_number": call.hotline_number,
        "masked_caller_number": mask(None if withheld else call.caller_number),
        "caller_country": call.caller_country,
        "language": call.language,
        "started_at": _iso(call.started_at),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "wait_seconds": call.wait_seconds,
        "talk_seconds": call.talk_seconds,
        "outcome": call.outcome,
        "counselor": call.counselor.name if call.counselor is not None else None,
    }


def csv_lines(calls: Iterable[Call]) -> Iterator[str]:
    """The CSV text, a header line first, streamed line by line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(EXPORT_COLUMNS)
    yield flush()
    for call in calls:
        row = export_row(call)
        writer.writerow(["" if row[c] is None else _safe_cell(row[c]) for c in EXPORT_COLUMNS])
        yield flush()


def _safe_cell(value: Any) -> Any:
    # A cell starting with = + - @ runs as a formula in spreadsheet programs; numbers in E.164
    # start with + too, so those keep a leading apostrophe only when they are not digits.
    if isinstance(value, str) and value[:1] in ("=", "-", "@", "+"):
        if value[:1] == "+" and value[1:].replace(" ", "").replace("•", "").isdigit():
            return value
        return "'" + value
    return value


def json_chunks(calls: Iterable[Call]) -> Iterator[str]:
    """A JSON list of objects with snake_case keys, streamed."""
    yield "["
    first = True
    for call in calls:
        yield ("\n" if first else ",\n") + json.dumps(export_row(call), ensure_ascii=False)
        first = False
    yield "\n]\n"
