"""Finding calls in the call log: filters, sort orders and keyset pages.

Flask-free: the dashboard, the CSV export and ``hotline calls export`` share it. Every value a
user typed reaches SQL only as a bound parameter, after being checked here (unknown outcomes,
languages or sorts are dropped, not passed on).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Final

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, joinedload

from .models import Call, Outcome

__all__ = ["LANGUAGES", "SORTS", "CallFilter", "Cursor", "Page", "iter_calls", "search_calls"]

LANGUAGES: Final = ("mandarin", "cantonese", "english")
# newest/oldest page by keyset on (started_at, id); the others by a bounded offset, since a
# keyset over a nullable column would need a cursor per sort.
SORTS: Final = ("newest", "oldest", "longest_wait", "longest_talk")
MAX_OFFSET: Final = 2000


@dataclass(frozen=True)
class CallFilter:
    since: dt.datetime | None = None  # inclusive, on started_at
    until: dt.datetime | None = None  # exclusive
    hotline_number: str | None = None
    language: str | None = None
    outcome: str | None = None
    counselor_id: int | None = None
    caller_last_digits: str | None = None  # 1 to 4 digits
    sort: str = "newest"

    def cleaned(self) -> CallFilter:
        """The same filter with anything invalid dropped."""
        digits = self.caller_last_digits
        if digits is not None and not (digits.isascii() and digits.isdigit() and len(digits) <= 4):
            digits = None
        counselor = self.counselor_id
        if counselor is not None and not 0 < counselor < 2**31:
            counselor = None  # beyond the column's range
        # Hotline numbers are E.164: anything else in the box is a typo (or an attack).
        number = "".join(ch for ch in (self.hotline_number or "") if ch in "+0123456789")
        return replace(
            self,
            hotline_number=number[:32] or None,
            counselor_id=counselor,
            language=self.language if self.language in LANGUAGES else None,
            outcome=self.outcome if self.outcome in {o.value for o in Outcome} else None,
            caller_last_digits=digits or None,
            sort=self.sort if self.sort in SORTS else "newest",
        )


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after (started_at, id) in the sort's direction, or at an
    offset for the sorts that are not keyset-paged."""

    started_at: dt.datetime | None = None
    call_id: int | None = None
    offset: int = 0

    def encode(self) -> str:
        if self.call_id is not None and self.started_at is not None:
            return f"k{self.started_at.timestamp():.6f}_{self.call_id}"
        return f"o{self.offset}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """None for anything that is not a cursor this module wrote."""
        if not text or len(text) > 64:
            return None
        try:
            if text[0] == "k":
                stamp, _, ident = text[1:].partition("_")
                at = dt.datetime.fromtimestamp(float(stamp), dt.UTC)
                return cls(started_at=at, call_id=int(ident))
            if text[0] == "o":
                offset = int(text[1:])
                return cls(offset=offset) if 0 <= offset <= MAX_OFFSET else None
        except (ValueError, OverflowError, OSError):
            return None
        return None


@dataclass
class Page:
    calls: list[Call]
    next_cursor: Cursor | None = None
    filter: CallFilter = field(default_factory=CallFilter)


def _filtered(f: CallFilter) -> Select[tuple[Call]]:
    q = select(Call)
    if f.since is not None:
        q = q.where(Call.started_at >= f.since)
    if f.until is not None:
        q = q.where(Call.started_at < f.until)
    if f.hotline_number:
        q = q.where(Call.hotline_number == f.hotline_number)
    if f.language:
        q = q.where(Call.language == f.language)
    if f.outcome:
        q = q.where(Call.outcome == f.outcome)
    if f.counselor_id is not None:
        q = q.where(Call.counselor_id == f.counselor_id)
    if f.caller_last_digits:
        d = f.caller_last_digits
        if len(d) == 4:
            q = q.where(Call.caller_last4 == d)
        else:
            # caller_last4 holds only digits, so LIKE's wildcards cannot come from the user.
            q = q.where(Call.caller_last4.like(f"%{d}"))
    return q


def search_calls(
    session: Session, f: CallFilter, *, limit: int = 50, cursor: Cursor | None = None
) -> Page:
    f = f.cleaned()
    limit = max(1, min(limit, 500))
    q = _filtered(f).options(joinedload(Call.counselor))
    if f.sort in ("newest", "oldest"):
        desc = f.sort == "newest"
        if cursor is not None and cursor.started_at is not None and cursor.call_id is not None:
            at, ident = cursor.started_at, cursor.call_id
            if desc:
                q = q.where(or_(Call.started_at < at, and_(Call.started_at == at, Call.id < ident)))
            else:
                q = q.where(or_(Call.started_at > at, and_(Call.started_at == at, Call.id > ident)))
        order = (
            (Call.started_at.desc(), Call.id.desc())
            if desc
            else (Call.started_at.asc(), Call.id.asc())
        )
        # Calls without a start time have no place in a time-ordered log.
        q = q.where(Call.started_at.is_not(None)).order_by(*order)
        calls = list(session.scalars(q.limit(limit + 1)).unique())
        more = len(calls) > limit
        calls = calls[:limit]
        last = calls[-1] if calls else None
        next_cursor = Cursor(started_at=last.started_at, call_id=last.id) if more and last else None
        return Page(calls, next_cursor, f)
    offset = cursor.offset if cursor is not None else 0
    column = Call.wait_seconds if f.sort == "longest_wait" else Call.talk_seconds
    q = q.where(column.is_not(None)).order_by(column.desc(), Call.id.desc())
    calls = list(session.scalars(q.offset(offset).limit(limit + 1)).unique())
    more = len(calls) > limit and offset + limit <= MAX_OFFSET
    return Page(calls[:limit], Cursor(offset=offset + limit) if more else None, f)


def iter_calls(session: Session, f: CallFilter, *, batch: int = 1000) -> Iterator[Call]:
    """Every matching call, oldest first, fetched in keyset batches (for exports)."""
    f = replace(f, sort="oldest")
    cursor: Cursor | None = None
    while True:
        page = search_calls(session, f, limit=batch, cursor=cursor)
        yield from page.calls
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
        session.expunge_all()  # keep memory flat over a million rows
