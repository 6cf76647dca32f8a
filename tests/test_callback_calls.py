"""Calling back: a due request goes on the board, a counselor hears the whisper and presses
1, the caller is dialled once and bridged; no answer is retried, then failed. Both legs
through the webhooks, Twilio's REST API mocked."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

import responses
import time_machine
from sqlalchemy import select, update

from hotline import jobs
from hotline.callbacks.limits import pending_key
from hotline.callbacks.store import reschedule
from hotline.models import Callback, CallEvent, Counselor
from hotline.queues import get_redis
from hotline.routing import get_board

from . import test_routing
from .conftest import Twilio, drain
from .test_routing import API, counselor_ids, form, mock_calls_create, offer_id_from

routed = test_routing.routed  # the fixture: counselors on call, service hours open

HOTLINE = "+390212345678"
CALLER = "+393331234567"
CLOSED = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def xml(response: Any) -> ET.Element:
    assert response.status_code == 200, response.data
    return ET.fromstring(response.data)


def said(root: ET.Element) -> str:
    return " ".join(el.text or "" for el in root.iter("Say"))


def set_presence(app: Any, state: str) -> None:
    with app.extensions["hotline.db"].session() as s:
        s.execute(update(Counselor).values(state=state))
    jobs.sync_routing(get_redis(app))


def request_callback_from_the_queue(app: Any) -> Twilio:
    """The caller waits in the English queue, presses 1 for a callback, confirms their own
    number as safe, and hangs up."""
    caller = Twilio(app.test_client())
    caller.post("/voice/incoming")
    root = xml(caller.post("/voice/menu?n=language_menu&f=hotline", Digits="3"))
    enqueue = root.find("Enqueue")
    assert enqueue is not None
    qsid = "QU" + "a" * 32
    wait = xml(
        caller.post(enqueue.get("waitUrl", ""), QueueTime="30", QueuePosition="2", QueueSid=qsid)
    )
    gather = wait.find("Gather")
    assert gather is not None and "called back" in said(gather)
    assert [c.tag for c in xml(caller.post(gather.get("action", ""), Digits="1"))] == ["Leave"]
    root = xml(caller.post(enqueue.get("action", ""), QueueResult="leave", QueueTime="40"))
    for _ in range(5):
        if root[-1].tag == "Hangup":
            break
        found = root.find("Gather")
        assert found is not None, ET.tostring(root)
        root = xml(caller.post(found.get("action", ""), Digits="1"))
    assert "call you back" in said(root) and root[-1].tag == "Hangup"
    drain(app)  # the worker makes the Callback row
    return caller


def the_callback(app: Any) -> Callback:
    with app.extensions["hotline.db"].session() as s:
        [row] = s.scalars(select(Callback)).all()
        s.expunge(row)
        return row


def offer_and_accept(app: Any, counselor_leg: str) -> tuple[str, str, ET.Element]:
    """Schedule, ring a counselor, play the whisper, press 1. Returns (offer id, whisper
    text, the counselor's answer TwiML)."""
    with responses.RequestsMock() as rsps:
        mock_calls_create(rsps, [counselor_leg])
        assert jobs.schedule_callbacks(get_redis(app)) == ["english"]
        drain(app)
        [ring] = rsps.calls
        sent = form(ring)
    assert sent["From"] == HOTLINE  # the number the caller dialled
    offer_id = offer_id_from(sent["Url"])
    counselor = Twilio(app.test_client(), call_sid=counselor_leg)
    whisper = xml(counselor.post(f"/voice/counselor/whisper?o={offer_id}"))
    accepted = xml(counselor.post(f"/voice/counselor/answer?o={offer_id}", Digits="1"))
    return offer_id, said(whisper), accepted


def dial(app: Any, caller_leg: str) -> dict[str, str]:
    with responses.RequestsMock() as rsps:
        mock_calls_create(rsps, [caller_leg])
        drain(app)  # dial_callback
        [create] = rsps.calls
        return form(create)


def events(app: Any, call_sid: str) -> list[str]:
    drain(app)
    with app.extensions["hotline.db"].session() as s:
        rows = s.scalars(select(CallEvent).where(CallEvent.call_sid == call_sid))
        return [e.kind for e in rows]


def test_a_callback_is_offered_whispered_dialled_once_and_bridged(routed: Any) -> None:
    caller = request_callback_from_the_queue(routed)
    row = the_callback(routed)
    assert row.status == "pending"

    offer_id, whisper, accepted = offer_and_accept(routed, "CA" + "c" * 32)
    assert "回电任务" in whisper  # the counselor hears it is a callback, in their language
    assert "可以安全回电" in whisper and "可以说明我们是热线并留言" in whisper
    room = accepted.find("Dial/Conference")
    entry = f"cb-{row.id}-1"
    assert room is not None and room.text == f"hotline-{entry}"

    sent = dial(routed, "CA" + "d" * 32)
    assert (sent["To"], sent["From"]) == (CALLER, HOTLINE)
    assert sent["MachineDetection"] == "Enable"
    assert "/voice/callback/connect?" in sent["Url"]
    assert "/voice/callback/status?" in sent["StatusCallback"]
    # The same job again (duplicated or retried) calls nobody.
    with responses.RequestsMock():
        assert jobs.dial_callback(entry, offer_id) == "already dialled"

    callee = Twilio(routed.test_client(), call_sid="CA" + "d" * 32)
    callee.base.update({"From": HOTLINE, "To": CALLER, "Direction": "outbound-api"})
    joined = xml(callee.post(sent["Url"], AnsweredBy="human"))
    assert "psychological support hotline calling you back" in said(joined)
    caller_room = joined.find("Dial/Conference")
    assert caller_room is not None and caller_room.text == room.text
    assert caller_room.get("endConferenceOnExit") == "true"

    callee.post(sent["StatusCallback"], CallStatus="completed", CallDuration="900")
    callee.post(sent["StatusCallback"], CallStatus="completed", CallDuration="900")  # repeated
    kinds = events(routed, caller.call_sid)
    assert kinds.count("callback_attempt") == 1 and kinds.count("callback_answered") == 1
    assert "callback_bridged" in kinds
    done = the_callback(routed)
    assert (done.status, done.attempts, done.last_outcome) == ("done", 1, "answered")
    assert get_redis(routed).get(pending_key(done.caller_hash)) is None


def hang_up_mocked(rsps: responses.RequestsMock, leg: str) -> None:
    rsps.add(responses.GET, f"{API}/Calls/{leg}.json", json={"sid": leg, "status": "in-progress"})
    rsps.add(responses.POST, f"{API}/Calls/{leg}.json", json={"sid": leg, "status": "completed"})


def test_no_answer_is_retried_after_10_then_30_minutes_then_failed(routed: Any) -> None:
    caller = request_callback_from_the_queue(routed)
    ids = set(counselor_ids(routed).values())
    start = dt.datetime.now(dt.UTC)
    # Minutes from the start: each retry is due 10, then 30 minutes after the last failure.
    for attempt, (at, outcome) in enumerate(
        [(0, "no-answer"), (10.5, "busy"), (41, "machine")], start=1
    ):
        with time_machine.travel(start + dt.timedelta(minutes=at), tick=True):
            if at:
                # Not due a minute early.
                with time_machine.travel(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)):
                    assert jobs.schedule_callbacks(get_redis(routed)) == []
            leg = f"CA{attempt:032d}"
            offer_id, _, _ = offer_and_accept(routed, leg)
            sent = dial(routed, f"CB{attempt:032d}")
            callee = Twilio(routed.test_client(), call_sid=f"CB{attempt:032d}")
            if outcome == "machine":
                hung = xml(callee.post(sent["Url"], AnsweredBy="machine_start"))
                assert [c.tag for c in hung] == ["Hangup"] and not said(hung)
                status = "completed"
            else:
                status = outcome
            with responses.RequestsMock() as rsps:
                hang_up_mocked(rsps, leg)  # the counselor waiting in the room is let go
                callee.post(sent["StatusCallback"], CallStatus=status)
                drain(routed)
                assert form(rsps.calls[-1])["Status"] == "completed"
            counselor = Twilio(routed.test_client(), call_sid=leg)
            counselor.post(f"/voice/counselor/status?o={offer_id}", CallStatus="completed")
            for cid in ids:
                get_board(routed).wrapup_done(cid)
            row = the_callback(routed)
            assert row.attempts == attempt
    assert (row.status, row.last_outcome, row.next_attempt_at) == ("failed", "machine", None)
    kinds = events(routed, caller.call_sid)
    assert kinds.count("callback_attempt") == 3 and kinds.count("callback_no_answer") == 3
    assert "callback_failed" in kinds
    assert get_redis(routed).get(pending_key(row.caller_hash)) is None
    assert jobs.schedule_callbacks(get_redis(routed)) == []

    # A manager moves the failed request: its attempts start again, and the caller is
    # dialled again (the entry id comes back, the offer is new).
    with routed.extensions["hotline.db"].session() as s:
        reschedule(s, row.id, dt.datetime.now(dt.UTC))
    offer_and_accept(routed, "CA" + "7" * 32)
    assert dial(routed, "CB" + "7" * 32)["To"] == CALLER


def test_nothing_is_scheduled_outside_service_hours_until_opening(routed: Any) -> None:
    with routed.extensions["hotline.db"].session() as s:
        s.add(
            Callback(
                call_sid="CA" + "e" * 32,
                number=CALLER,
                caller_hash="h" * 64,
                hotline_number=HOTLINE,
                flow="hotline",
                language="english",
                requested_at=CLOSED,
                next_attempt_at=CLOSED,
                status="pending",
                attempts=0,
                call_sids=[],
            )
        )
    board = get_board(routed)
    with time_machine.travel(CLOSED + dt.timedelta(hours=6), tick=False):  # 08:00, closed
        assert jobs.schedule_callbacks(get_redis(routed)) == []
        assert board.waiting("english") == []
    with time_machine.travel(CLOSED + dt.timedelta(hours=6, minutes=31), tick=False):
        assert jobs.schedule_callbacks(get_redis(routed)) == ["english"]
        assert jobs.schedule_callbacks(get_redis(routed)) == ["english"]  # idempotent
    assert board.waiting("english") == [f"cb-{the_callback(routed).id}-1"]
    assert board.caller(board.waiting("english")[0])["kind"] == "callback"
    assert the_callback(routed).status == "scheduled"


def test_a_cancelled_callback_is_not_offered(routed: Any) -> None:
    request_callback_from_the_queue(routed)
    row = the_callback(routed)
    assert jobs.schedule_callbacks(get_redis(routed)) == ["english"]  # the match is queued
    with routed.extensions["hotline.db"].session() as s:
        s.execute(update(Callback).values(status="cancelled"))
    with responses.RequestsMock() as rsps:
        mock_calls_create(rsps, ["CA" + "f" * 32])
        drain(routed)
        offer_id = offer_id_from(form(rsps.calls[0])["Url"])
    counselor = Twilio(routed.test_client(), call_sid="CA" + "f" * 32)
    gone = xml(counselor.post(f"/voice/counselor/whisper?o={offer_id}"))
    assert gone[-1].tag == "Hangup" and gone.find("Gather") is None
    assert get_board(routed).caller(f"cb-{row.id}-1") == {}


def test_the_caller_never_lands_in_an_empty_room(routed: Any) -> None:
    request_callback_from_the_queue(routed)
    offer_id, _, _ = offer_and_accept(routed, "CA" + "8" * 32)
    sent = dial(routed, "CB" + "8" * 32)
    counselor = Twilio(routed.test_client(), call_sid="CA" + "8" * 32)
    counselor.post(f"/voice/counselor/status?o={offer_id}", CallStatus="completed")  # hung up
    callee = Twilio(routed.test_client(), call_sid="CB" + "8" * 32)
    joined = xml(callee.post(sent["Url"], AnsweredBy="human"))
    assert [c.tag for c in joined] == ["Hangup"]
    with responses.RequestsMock() as rsps:
        leg = "CA" + "8" * 32
        rsps.add(responses.GET, f"{API}/Calls/{leg}.json", json={"sid": leg, "status": "completed"})
        callee.post(sent["StatusCallback"], CallStatus="completed")
        drain(routed)
    row = the_callback(routed)
    assert (row.status, row.attempts, row.last_outcome) == ("pending", 1, "counselor_gone")
