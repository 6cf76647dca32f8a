"""A caller reaches a counselor: both legs through the webhooks, Twilio's REST API mocked."""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
import time_machine
from sqlalchemy import select

from hotline import create_app, jobs
from hotline.counselors import import_roster, parse_roster
from hotline.models import Call, CallEvent, Counselor
from hotline.routing import get_board

from .conftest import ACCOUNT_SID, RedisDb, Twilio, drain, make_config

API = "https://api.twilio.test/2010-04-01/Accounts/" + ACCOUNT_SID
OPEN = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
ROSTER = """
counselors:
  - name: 王敏
    phone: "+8613800000001"
    languages: [mandarin, english]
    shifts: [{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "24:00"}]
  - name: 陈静
    phone: "+8613800000002"
    languages: [english]
    shifts: [{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "24:00"}]
"""


@pytest.fixture
def routed(tmp_path: Path, sqlite_url: str, need_real_redis: RedisDb) -> Any:
    app = create_app(
        make_config(tmp_path, sqlite_url, need_real_redis.url, HOTLINE_WRAP_UP_SECONDS=0)
    )
    with app.extensions["hotline.db"].session() as session:
        import_roster(session, parse_roster(ROSTER, "roster.yaml"))
    jobs.bind_app(app)
    jobs._roster = None  # a fresh roster cache for this app
    with time_machine.travel(OPEN, tick=True):
        jobs.sync_routing(need_real_redis.connection())
        yield app
    app.extensions["hotline.db"].dispose()


def counselor_ids(app: Any) -> dict[str, int]:
    with app.extensions["hotline.db"].session() as s:
        return {c.name: c.id for c in s.scalars(select(Counselor))}


def form(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def mock_calls_create(rsps: responses.RequestsMock, sids: list[str]) -> None:
    bodies = iter(sids)

    def create(request: Any) -> tuple[int, dict[str, str], str]:
        return 201, {}, json.dumps({"sid": next(bodies), "status": "queued"})

    rsps.add_callback(responses.POST, f"{API}/Calls.json", callback=create)


def queue_caller(app: Any, language_key: str = "3") -> Twilio:
    caller = Twilio(app.test_client())
    caller.post("/voice/incoming")
    root = ET.fromstring(
        caller.post("/voice/menu?n=language_menu&f=hotline", Digits=language_key).data
    )
    enqueue = root.find("Enqueue")
    assert enqueue is not None, ET.tostring(root)
    caller.post(
        enqueue.get("waitUrl", ""), QueueTime="2", QueuePosition="1", QueueSid="QU" + "a" * 32
    )
    caller.enqueue_action = enqueue.get("action", "")  # type: ignore[attr-defined]
    return caller


def offer_id_from(url: str) -> str:
    match = re.search(r"o=([0-9a-f]+)", url)
    assert match, url
    return match.group(1)


def test_a_caller_is_offered_accepted_and_bridged(routed: Any) -> None:
    ids = counselor_ids(routed)
    with responses.RequestsMock() as rsps:
        mock_calls_create(rsps, ["CA" + "1" * 32])
        caller = queue_caller(routed)
        drain(routed)  # the worker matches and rings a counselor
        [create] = rsps.calls
        sent = form(create)
    # The longest idle English speaker is rung from the number the caller dialled.
    assert sent["To"] in ("+8613800000001", "+8613800000002")
    assert sent["From"] == "+390212345678"
    assert sent["Timeout"] == "20"
    counselor_id = ids["王敏"] if sent["To"].endswith("1") else ids["陈静"]
    offer_id = offer_id_from(sent["Url"])
    assert sent["StatusCallback"].endswith(f"/voice/counselor/status?o={offer_id}")
    board = get_board(routed)
    assert board.counselor(counselor_id)["state"] == "offered"

    counselor = Twilio(routed.test_client(), call_sid="CA" + "1" * 32)
    counselor.base.update({"From": "+390212345678", "To": sent["To"], "Direction": "outbound-api"})
    whisper = ET.fromstring(counselor.post(f"/voice/counselor/whisper?o={offer_id}").data)
    text = " ".join(s.text or "" for s in whisper.iter("Say"))
    assert "英语" in text and "接听请按1" in text
    assert whisper.find("Gather") is not None and whisper.find("Redirect") is not None

    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            f"{API}/Queues/QU{'a' * 32}/Members/{caller.call_sid}.json",
            json={"call_sid": caller.call_sid, "queue_sid": "QU" + "a" * 32, "position": 1},
        )
        accepted = ET.fromstring(
            counselor.post(f"/voice/counselor/answer?o={offer_id}", Digits="1").data
        )
        room = accepted.find("Dial/Conference")
        assert room is not None and room.text == f"hotline-{caller.call_sid}"
        drain(routed)  # the bridge job takes exactly this caller out of the queue
        [dequeue] = rsps.calls
        assert form(dequeue)["Url"].endswith(f"/voice/bridge/caller?o={offer_id}")
    assert board.counselor(counselor_id)["state"] == "busy"

    bridged = ET.fromstring(caller.post(f"/voice/bridge/caller?o={offer_id}").data)
    caller_room = bridged.find("Dial/Conference")
    assert caller_room is not None and caller_room.text == room.text

    counselor.post(
        f"/voice/counselor/status?o={offer_id}", CallStatus="completed", CallDuration="600"
    )
    assert board.counselor(counselor_id)["state"] == "wrap_up"
    assert jobs.end_wrap_up(counselor_id)
    assert board.counselor(counselor_id)["state"] == "available"
    caller.post("/voice/status", CallStatus="completed", CallDuration="700")
    drain(routed)
    with routed.extensions["hotline.db"].session() as s:
        call = s.scalars(select(Call).where(Call.call_sid == caller.call_sid)).one()
        kinds = {
            e.kind
            for e in s.scalars(select(CallEvent).where(CallEvent.call_sid == caller.call_sid))
        }
    assert call.outcome == "answered"
    assert call.counselor_id == counselor_id
    assert call.counselor_call_sid == "CA" + "1" * 32
    assert {"offered", "counselor_accepted", "bridged", "counselor_call_ended"} <= kinds


def test_twilio_overloaded_keeps_the_caller_waiting_and_retries(routed: Any) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            f"{API}/Calls.json",
            status=429,
            json={"code": 20429, "message": "Too many requests", "status": 429},
        )
        caller = queue_caller(routed)
        with pytest.raises(Exception, match="429"):
            jobs.match_callers("english")
    board = get_board(routed)
    assert board.caller(caller.call_sid)["offer"] == ""
    assert {c["state"] for c in board.counselors().values()} == {"available"}
    with responses.RequestsMock() as rsps:
        mock_calls_create(rsps, ["CA" + "2" * 32])
        assert jobs.match_callers("english") == 1


def test_an_invalid_counselor_number_takes_them_out_and_rings_the_next(routed: Any) -> None:
    ids = counselor_ids(routed)
    rung: list[str] = []

    def create(request: Any) -> tuple[int, dict[str, str], str]:
        to = form(type("C", (), {"request": request})())["To"]
        rung.append(to)
        if len(rung) == 1:
            return (
                400,
                {},
                json.dumps({"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}),
            )
        return 201, {}, json.dumps({"sid": "CA" + "3" * 32})

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, f"{API}/Calls.json", callback=create)
        queue_caller(routed)
        assert jobs.match_callers("english") == 1
    assert len(rung) == 2 and rung[0] != rung[1]
    bad = ids["王敏"] if rung[0].endswith("1") else ids["陈静"]
    assert get_board(routed).counselor(bad)["state"] == "away"


def test_caller_hangs_up_while_the_counselor_phone_rings(routed: Any) -> None:
    leg = "CA" + "4" * 32
    with responses.RequestsMock() as rsps:
        mock_calls_create(rsps, [leg])
        caller = queue_caller(routed)
        jobs.match_callers("english")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{API}/Calls/{leg}.json", json={"sid": leg, "status": "ringing"})
        rsps.add(responses.POST, f"{API}/Calls/{leg}.json", json={"sid": leg, "status": "canceled"})
        caller.post(caller.enqueue_action, QueueResult="hangup", QueueTime="30")  # type: ignore[attr-defined]
        drain(routed)
        assert form(rsps.calls[1])["Status"] == "canceled"
    assert {c["state"] for c in get_board(routed).counselors().values()} == {"available"}


@pytest.mark.parametrize(
    ("digits", "kind"),
    [("2", "counselor_declined"), ("", "counselor_missed"), ("7", "counselor_missed")],
)
def test_decline_or_no_key_offers_the_caller_to_the_next_counselor(
    routed: Any, digits: str, kind: str
) -> None:
    with responses.RequestsMock() as rsps:
        mock_calls_create(rsps, ["CA" + "5" * 32, "CA" + "6" * 32])
        caller = queue_caller(routed)
        jobs.match_callers("english")
        first = form(rsps.calls[0])
        offer_id = offer_id_from(first["Url"])
        counselor = Twilio(routed.test_client(), call_sid="CA" + "5" * 32)
        root = ET.fromstring(
            counselor.post(f"/voice/counselor/answer?o={offer_id}", Digits=digits).data
        )
        assert root[-1].tag == "Hangup"
        jobs.match_callers("english")
        second = form(rsps.calls[1])
    assert second["To"] != first["To"]
    drain(routed)
    with routed.extensions["hotline.db"].session() as s:
        kinds = [
            e.kind
            for e in s.scalars(select(CallEvent).where(CallEvent.call_sid == caller.call_sid))
        ]
    assert kind in kinds


def test_the_counselor_leg_not_answered_counts_as_missed(routed: Any) -> None:
    with responses.RequestsMock() as rsps:
        mock_calls_create(rsps, ["CA" + "7" * 32])
        queue_caller(routed)
        jobs.match_callers("english")
        offer_id = offer_id_from(form(rsps.calls[0])["Url"])
    counselor = Twilio(routed.test_client(), call_sid="CA" + "7" * 32)
    counselor.post(f"/voice/counselor/status?o={offer_id}", CallStatus="no-answer")
    board = get_board(routed)
    states = {int(k): v for k, v in board.counselors().items()}
    assert sorted(s["missed"] for s in states.values()) == ["0", "1"]


def test_a_stale_whisper_or_a_forged_bridge_gets_no_caller(routed: Any) -> None:
    counselor = Twilio(routed.test_client())
    root = ET.fromstring(counselor.post("/voice/counselor/whisper?o=0123456789abcdef").data)
    assert root[-1].tag == "Hangup" and root.find("Gather") is None
    root = ET.fromstring(
        counselor.post("/voice/counselor/answer?o=0123456789abcdef", Digits="1").data
    )
    assert root.find("Dial") is None
    stranger = Twilio(routed.test_client())
    root = ET.fromstring(stranger.post("/voice/bridge/caller?o=nothex").data)
    assert root.find("Dial") is None and root[-1].tag == "Hangup"


def test_bridge_when_the_caller_has_just_gone(routed: Any) -> None:
    leg = "CA" + "8" * 32
    with responses.RequestsMock() as rsps:
        mock_calls_create(rsps, [leg])
        caller = queue_caller(routed)
        jobs.match_callers("english")
        offer_id = offer_id_from(form(rsps.calls[0])["Url"])
    counselor = Twilio(routed.test_client(), call_sid=leg)
    counselor.post(f"/voice/counselor/answer?o={offer_id}", Digits="1")
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            f"{API}/Queues/QU{'a' * 32}/Members/{caller.call_sid}.json",
            status=404,
            json={"code": 20404, "status": 404, "message": "not found"},
        )
        rsps.add(responses.POST, f"{API}/Calls/{leg}.json", json={"sid": leg})
        assert jobs.bridge_caller(offer_id) == "caller gone"
        assert form(rsps.calls[1])["Url"].endswith(f"/voice/counselor/gone?o={offer_id}")
    assert {c["state"] for c in get_board(routed).counselors().values()} == {"available"}


def test_nobody_on_call_for_a_language_is_told_at_once(routed: Any) -> None:
    caller = Twilio(routed.test_client())
    caller.post("/voice/incoming")
    root = ET.fromstring(caller.post("/voice/menu?n=language_menu&f=hotline", Digits="2").data)
    assert root.find("Enqueue") is None
    assert any("粤語" in (s.text or "") or "廣東話" in (s.text or "") for s in root.iter("Say"))


def test_the_wait_round_puts_a_second_language_on_the_board(routed: Any) -> None:
    caller = Twilio(routed.test_client())
    caller.post(
        "/voice/queue/wait?n=queue&f=hotline&l=cantonese&s=mandarin",
        QueueTime="5",
        QueuePosition="1",
        QueueSid="QU" + "b" * 32,
    )
    entry = get_board(routed).caller(caller.call_sid)
    assert entry["lang"] == "cantonese" and entry["lang2"] == "mandarin"
    assert float(entry["widen_at"]) - float(entry["since"]) == 60
    # A forged or stale second language that the flow does not offer is ignored.
    other = Twilio(routed.test_client())
    other.post(
        "/voice/queue/wait?n=queue&f=hotline&l=cantonese&s=klingon",
        QueueTime="5",
        QueuePosition="1",
    )
    assert get_board(routed).caller(other.call_sid)["lang2"] == ""


def test_a_caller_taken_out_of_the_queue_by_a_counselor_stays_on_the_board(routed: Any) -> None:
    caller = queue_caller(routed)
    caller.post(caller.enqueue_action, QueueResult="redirected", QueueTime="40")  # type: ignore[attr-defined]
    assert get_board(routed).caller(caller.call_sid)["state"] == "waiting"
    caller.post(caller.enqueue_action, QueueResult="hangup", QueueTime="41")  # type: ignore[attr-defined]
    assert get_board(routed).caller(caller.call_sid) == {}
