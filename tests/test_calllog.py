"""The call summary is a function of the set of events: order and duplicates do not matter."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from hypothesis import given
from hypothesis import strategies as st

from hotline.calllog import summarize
from hotline.events import CallEventData, make_event

T0 = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)
SID = "CA" + "c" * 32


def ev(kind: str, seconds: float, seq: int | None = None, **data: object) -> CallEventData:
    return make_event(
        SID,
        kind,
        data,
        T0 + dt.timedelta(seconds=seconds),
        discriminator=f"{kind}{seconds}",
        sequence=seq,
    )


class Row:
    """CallEventData shaped like a stored CallEvent."""

    def __init__(self, e: CallEventData) -> None:
        self.kind, self.occurred_at, self.sequence, self.event_id, self.data = (
            e.kind,
            e.at,
            e.sequence,
            e.event_id,
            e.data,
        )


def summary(*events: CallEventData) -> dict[str, object]:
    return asdict(summarize(SID, [Row(e) for e in events]))


INCOMING = ev(
    "incoming",
    0,
    **{
        "from": "+393331234567",
        "to": "+390212345678",
        "region": "IT",
        "caller_hash": "h",
        "withheld": False,
    },
)


def test_answered_call() -> None:
    s = summary(
        INCOMING,
        ev("language_chosen", 10, language="english"),
        ev("queued", 20, queue="hotline-english", language="english", urgent=False),
        ev("left_queue", 400, result="bridged", queue_time=80),
        ev("status", 401, seq=3, status="completed"),
    )
    assert s["outcome"] == "answered"
    assert s["language"] == "english"
    assert s["wait_seconds"] == 80
    assert s["answered_at"] == T0 + dt.timedelta(seconds=100)
    assert s["talk_seconds"] == 301
    assert s["caller_country"] == "IT" and s["hotline_number"] == "+390212345678"


def test_abandoned_in_queue() -> None:
    s = summary(
        INCOMING,
        ev("queued", 20, language="mandarin"),
        ev("left_queue", 200, result="hangup", queue_time=180),
        ev("status", 200, status="completed"),
    )
    assert s["outcome"] == "abandoned_queue"
    assert s["wait_seconds"] == 180
    assert s["talk_seconds"] is None


def test_abandoned_in_the_ivr() -> None:
    s = summary(INCOMING, ev("status", 15, status="completed"))
    assert s["outcome"] == "abandoned_ivr"
    assert s["ended_at"] == T0 + dt.timedelta(seconds=15)


def test_in_progress_has_no_outcome() -> None:
    assert summary(INCOMING, ev("queued", 20, language="mandarin"))["outcome"] is None


def test_after_hours_overflow_failed() -> None:
    assert (
        summary(INCOMING, ev("after_hours", 10), ev("ended_by_flow", 30))["outcome"]
        == "after_hours"
    )
    assert (
        summary(
            INCOMING,
            ev("queued", 10),
            ev("left_queue", 910, result="leave", queue_time=900),
            ev("overflow", 910),
        )["outcome"]
        == "overflow"
    )
    assert summary(INCOMING, ev("safe_answer", 5))["outcome"] == "failed"
    assert summary(INCOMING, ev("fallback", 5, error_code="11200"))["outcome"] == "failed"


def test_urgent_is_kept() -> None:
    assert summary(INCOMING, ev("marked_urgent", 10))["urgent"] is True
    assert summary(INCOMING, ev("queued", 10, urgent=True))["urgent"] is True


EVENTS = [
    INCOMING,
    ev("flow_started", 0),
    ev("language_chosen", 8, language="cantonese"),
    ev("marked_urgent", 9),
    ev("queued", 12, language="cantonese", urgent=True),
    ev("position_announced", 13, position=2),
    ev("left_queue", 300, result="bridged", queue_time=100),
    ev("status", 300, seq=2, status="completed"),
]


@given(st.permutations(EVENTS), st.lists(st.sampled_from(EVENTS), max_size=6))
def test_order_and_duplicates_do_not_matter(
    order: list[CallEventData], repeats: list[CallEventData]
) -> None:
    assert summary(*order, *repeats) == summary(*EVENTS)
