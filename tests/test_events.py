"""Webhook -> Redis -> worker -> database, with the real Redis and both databases."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from hotline import create_app, jobs
from hotline import events as ev
from hotline.db import Database
from hotline.models import Call, CallEvent

from .conftest import RedisDb, Twilio, drain, make_config

OPEN = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture
def pipeline_app(tmp_path: Path, database_url: str, need_real_redis: RedisDb) -> Any:
    app = create_app(make_config(tmp_path, database_url, need_real_redis.url))
    yield app
    app.extensions["hotline.db"].dispose()


def calls(app: Any) -> list[Call]:
    with app.extensions["hotline.db"].session() as s:
        return list(s.scalars(select(Call)))


def event_count(app: Any) -> int:
    with app.extensions["hotline.db"].session() as s:
        return int(s.scalar(select(func.count()).select_from(CallEvent)) or 0)


def place_answered_call(twilio: Twilio) -> None:
    with time_machine.travel(OPEN, tick=True):
        twilio.post("/voice/incoming", CallStatus="ringing")
        twilio.post("/voice/menu?n=language_menu&f=hotline", Digits="3")
        twilio.post(
            "/voice/queue/wait?n=queue&f=hotline&l=english", QueueTime="3", QueuePosition="1"
        )
        twilio.post(
            "/voice/queue/done?n=queue&f=hotline&l=english", QueueResult="bridged", QueueTime="40"
        )
        twilio.post(
            "/voice/status",
            CallStatus="completed",
            CallDuration="400",
            SequenceNumber="2",
            Timestamp="Wed, 02 Dec 2026 02:10:00 +0000",
        )


def test_a_call_reaches_the_log_once(pipeline_app: Any) -> None:
    twilio = Twilio(pipeline_app.test_client())
    place_answered_call(twilio)
    # Twilio retries every request: nothing changes.
    place_answered_call(twilio)
    drain(pipeline_app)
    [call] = calls(pipeline_app)
    assert call.call_sid == twilio.call_sid
    assert call.outcome == "answered" and call.language == "english"
    assert call.wait_seconds == 40 and call.caller_country == "IT"
    assert call.caller_number == "+393331234567" and call.caller_hash
    with pipeline_app.extensions["hotline.db"].session() as s:
        kinds = [e.kind for e in s.scalars(select(CallEvent))]
    assert sorted(kinds) == sorted(set(kinds)) and len(kinds) == 8


def test_out_of_order_arrival_gives_the_same_summary(pipeline_app: Any) -> None:
    twilio = Twilio(pipeline_app.test_client())
    with time_machine.travel(OPEN, tick=True):
        twilio.post("/voice/incoming")
        twilio.post("/voice/menu?n=language_menu&f=hotline", Digits="1")
        # The status callback overtakes the Enqueue action.
        twilio.post(
            "/voice/status",
            CallStatus="completed",
            SequenceNumber="2",
            Timestamp="Wed, 02 Dec 2026 02:05:00 +0000",
        )
        drain(pipeline_app)
        [early] = calls(pipeline_app)
        assert early.outcome == "abandoned_queue"
        twilio.post(
            "/voice/queue/done?n=queue&f=hotline&l=mandarin", QueueResult="hangup", QueueTime="200"
        )
    drain(pipeline_app)
    [call] = calls(pipeline_app)
    assert call.outcome == "abandoned_queue" and call.wait_seconds == 200


def test_redis_unreachable_spools_and_replays(
    tmp_path: Path, database_url: str, need_real_redis: RedisDb
) -> None:
    # Nothing listens on port 1: the same as Redis being down.
    down = create_app(make_config(tmp_path, database_url, "redis://127.0.0.1:1/0"))
    twilio = Twilio(down.test_client())
    started = time.monotonic()
    response = twilio.post("/voice/incoming")
    assert response.status_code == 200 and b"<Gather" in response.data
    assert time.monotonic() - started < 5  # generous: the point is "no hang", not speed
    spool = tmp_path / "instance" / "spool"
    assert sum(len(p.read_text().splitlines()) for p in spool.glob("*.jsonl")) == 2
    # Redis is back: the next process that talks to it replays the spool.
    up = create_app(make_config(tmp_path, database_url, need_real_redis.url))
    assert up.extensions["hotline.events"].replay_spool() == 2
    assert not list(spool.glob("*.jsonl"))
    drain(up)
    assert [c.call_sid for c in calls(up)] == [twilio.call_sid]
    assert event_count(up) == 2
    down.extensions["hotline.db"].dispose()
    up.extensions["hotline.db"].dispose()


def test_spool_is_replayed_by_the_next_successful_emit(
    tmp_path: Path, database_url: str, need_real_redis: RedisDb
) -> None:
    app = create_app(make_config(tmp_path, database_url, need_real_redis.url))
    sink = app.extensions["hotline.events"]
    event = ev.make_event(
        "CA" + "d" * 32, "incoming", {}, dt.datetime.now(dt.UTC), discriminator="x"
    )
    sink.spool([event.to_json()])
    sink.emit(
        [
            ev.make_event(
                "CA" + "d" * 32,
                "status",
                {"status": "completed"},
                dt.datetime.now(dt.UTC),
                discriminator="y",
            )
        ]
    )
    assert ev.EventBuffer(need_real_redis.connection()).pending() == 2
    app.extensions["hotline.db"].dispose()


def test_a_dead_workers_claim_is_returned(pipeline_app: Any, need_real_redis: RedisDb) -> None:
    twilio = Twilio(pipeline_app.test_client())
    twilio.post("/voice/incoming")
    conn = need_real_redis.connection()
    buffer = ev.EventBuffer(conn)
    _, claimed = buffer.claim(100, time.time() - 3600)  # claimed an hour ago, then died
    assert len(claimed) == 2 and buffer.pending() == 0
    jobs.maintain_events(conn)
    assert buffer.claimed() == 0 and buffer.pending() == 2
    drain(pipeline_app)
    assert event_count(pipeline_app) == 2


def test_database_down_keeps_the_events_and_fails_the_job(
    pipeline_app: Any, need_real_redis: RedisDb
) -> None:
    twilio = Twilio(pipeline_app.test_client())
    twilio.post("/voice/incoming")
    good = pipeline_app.extensions["hotline.db"]
    pipeline_app.extensions["hotline.db"] = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    jobs.bind_app(pipeline_app)
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
        jobs.drain_events()
    buffer = ev.EventBuffer(need_real_redis.connection())
    assert buffer.pending() == 2 and buffer.claimed() == 0
    pipeline_app.extensions["hotline.db"] = good
    jobs.drain_events()
    assert event_count(pipeline_app) == 2


def test_unreadable_events_are_set_aside(pipeline_app: Any, need_real_redis: RedisDb) -> None:
    conn = need_real_redis.connection()
    good = ev.make_event(
        "CA" + "e" * 32, "incoming", {}, dt.datetime.now(dt.UTC), discriminator="z"
    )
    conn.rpush(
        ev.PENDING,
        b"{not json",
        good.to_json(),
        '{"id": "x", "call_sid": "y", "kind": "k", "at": "2026-12-02T02:00:00"}',
    )
    jobs.bind_app(pipeline_app)
    assert jobs.drain_events() == 1
    assert conn.llen(ev.DEAD) == 2
    assert event_count(pipeline_app) == 1


def test_the_in_process_stand_in_works_too(app: Any) -> None:
    twilio = Twilio(app.test_client())
    twilio.post("/voice/incoming")
    twilio.post("/voice/status", CallStatus="completed")
    drain(app)
    assert calls(app)[0].outcome == "abandoned_ivr"
