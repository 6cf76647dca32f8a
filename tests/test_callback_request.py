"""The caller asks to be called back, or leaves a message: every path through the webhooks,
and every refusal spoken."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from hotline.callbacks.limits import pending_key
from hotline.callbacks.rules import NumberRules
from hotline.models import Callback, CallEvent
from hotline.phone import number_hash
from hotline.queues import get_redis

from .conftest import PUBLIC_URL, Twilio, drain

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPEN = dt.datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
CLOSED = dt.datetime(2026, 12, 3, 2, 0, tzinfo=SHANGHAI)  # opens again at 08:30
OVERFLOW = "/voice/menu?n=overflow&f=hotline&l=english"


def xml(response: Any) -> ET.Element:
    assert response.status_code == 200, response.data
    return ET.fromstring(response.data)


def said(root: ET.Element) -> str:
    return " ".join(el.text or "" for el in root.iter("Say"))


def action(root: ET.Element) -> str:
    gather = root.find("Gather")
    assert gather is not None, ET.tostring(root, encoding="unicode")
    return gather.get("action") or ""


def ask(twilio: Twilio, *keys: str, start: str = OVERFLOW) -> ET.Element:
    """Press 1 at the overflow menu, then answer each question in turn."""
    root = xml(twilio.post(start, Digits="1"))
    for key in keys:
        root = xml(twilio.post(action(root), Digits=key))
    return root


def events(app: Any, kind: str) -> list[dict[str, Any]]:
    drain(app)
    with app.extensions["hotline.db"].session() as s:
        rows = s.scalars(select(CallEvent).where(CallEvent.kind == kind)).all()
        return [dict(r.data) for r in rows]


# ---- asking from the queue -------------------------------------------------------------------
def test_the_wait_announcement_offers_a_callback_and_the_key_leaves_the_queue(
    twilio: Twilio,
) -> None:
    wait = "/voice/queue/wait?n=queue&f=hotline&l=english"
    root = xml(twilio.post(wait, QueueTime="5", QueuePosition="2", QueueSid="QU" + "0" * 32))
    gather = root.find("Gather")
    assert gather is not None
    assert "There is 1 callers ahead" in said(gather) or "callers ahead" in said(gather)
    assert "To be called back, press 1" in said(gather)
    assert [c.tag for c in root] == ["Gather", "Play", "Redirect"]
    # A stray key keeps the caller waiting.
    stay = xml(twilio.post(action(root), Digits="7"))
    assert [c.tag for c in stay] == ["Redirect"] and "/voice/queue/wait" in (stay[0].text or "")
    left = xml(twilio.post(action(root), Digits="1"))
    assert [c.tag for c in left] == ["Leave"]
    done = xml(
        twilio.post(
            "/voice/queue/done?n=queue&f=hotline&l=english", QueueResult="leave", QueueTime="40"
        )
    )
    assert "a counselor will call you back" in said(done)
    assert "If someone else answers" in said(done)


# ---- the happy paths ----------------------------------------------------------------------------
def test_own_number_read_back_confirmed_safe_and_timed_from_the_queue(
    app: Any, twilio: Twilio
) -> None:
    with time_machine.travel(OPEN, tick=False):
        root = ask(twilio, "1")
        assert "3 9 3 3 3 1 2 3 4 5 6 7" in said(root)  # +39 333 1234567, digit by digit
        root = xml(twilio.post(action(root), Digits="1"))
        assert "Is it safe for us to call you back on this number?" in said(root)
        root = xml(twilio.post(action(root), Digits="1"))
    assert "within about 10 minutes" in said(root)
    assert root[-1].tag == "Hangup"
    [event] = events(app, "callback_requested")
    key = app.config["HOTLINE_NUMBER_HASH_KEY"].encode()
    assert event["number"] == "+393331234567"
    assert event["caller_hash"] == number_hash("+393331234567", key)
    assert event["safe_to_call"] is True and event["may_leave_message"] is True
    assert event["language"] == "english" and event["to"] == "+390212345678"
    # The worker made the row, and the next request from this number will update it.
    with app.extensions["hotline.db"].session() as s:
        [row] = s.scalars(select(Callback)).all()
        assert (row.status, row.number, row.safe_to_call) == ("pending", "+393331234567", True)
    assert get_redis(app).get(pending_key(event["caller_hash"])) == str(row.id).encode()


def test_mandarin_and_cantonese_callers_hear_their_language(twilio: Twilio) -> None:
    with time_machine.travel(OPEN, tick=False):
        root = ask(twilio, start="/voice/menu?n=overflow&f=hotline&l=mandarin")
        assert "可以请按1" in said(root)
        root = ask(twilio, "2", "1", "1", start="/voice/menu?n=overflow&f=hotline&l=cantonese")
    assert "輔導員會喺大約" in said(root)


def test_closed_line_promises_the_opening_time_in_beijing(twilio: Twilio) -> None:
    with time_machine.travel(CLOSED, tick=False):
        root = ask(
            twilio, "2", "1", "1", start="/voice/menu?n=after_hours_offer&f=hotline&l=english"
        )
    assert "after we open at 08:30 Beijing time" in said(root)


def test_another_number_typed_with_00_or_the_trunk_prefix(app: Any, twilio: Twilio) -> None:
    twilio.base["From"] = "+447400123456"  # a UK caller
    with time_machine.travel(OPEN, tick=False):
        root = ask(twilio, "2", "2")
        assert "type the number" in said(root)
        gather = root.find("Gather")
        assert gather is not None
        assert gather.get("finishOnKey") == "#" and gather.get("numDigits") == "15"
        done = xml(twilio.post(action(root), Digits="07400123999#"))
        assert "within about" in said(done)
        again = ask(Twilio(twilio.client), "2", "2")
        xml(Twilio(twilio.client).post(action(again), Digits="00393331230000"))
    numbers = {e["number"] for e in events(app, "callback_requested")}
    assert "+447400123999" in numbers and "+393331230000" in numbers


def test_not_safe_then_a_message_instead(twilio: Twilio) -> None:
    with time_machine.travel(OPEN, tick=False):
        root = ask(twilio, "2", "1", "2")
        assert "To leave a message instead, press 2" in said(root)
        root = xml(twilio.post(action(root), Digits="2"))
    assert "only the hotline's counselors and managers will hear it" in said(root)
    record = root.find("Record")
    assert record is not None
    assert record.get("maxLength") == "180"
    assert record.get("recordingStatusCallback", "").startswith(PUBLIC_URL + "/voice/recording?")


def test_the_record_action_logs_a_voicemail(app: Any, twilio: Twilio) -> None:
    root = xml(twilio.post(OVERFLOW, Digits="2"))
    record = root.find("Record")
    assert record is not None
    done = xml(
        twilio.post(record.get("action", ""), RecordingSid="RE" + "1" * 32, RecordingDuration="42")
    )
    assert "We have your message" in said(done) and done[-1].tag == "Hangup"
    [event] = events(app, "voicemail")
    assert event["recording_sid"] == "RE" + "1" * 32 and event["duration"] == 42


# ---- refusals, each spoken --------------------------------------------------------------------
def test_withheld_number_and_nothing_typed(twilio: Twilio) -> None:
    twilio.base["From"] = "anonymous"
    root = ask(twilio, "2")
    assert "type the number" in said(root)  # no number to read back
    root = xml(twilio.post(action(root)))  # silence: asked once more
    root = xml(twilio.post(action(root)))
    assert "your number is withheld and no number was typed" in said(root)
    assert "To leave a message instead, press 2" in said(root)


def test_invalid_typed_number(twilio: Twilio) -> None:
    root = ask(twilio, "2", "2")
    root = xml(twilio.post(action(root), Digits="12345#"))
    assert "that number is not valid" in said(root)


def test_country_not_on_the_list(twilio: Twilio) -> None:
    root = ask(twilio, "2", "2")
    root = xml(twilio.post(action(root), Digits="00989123456789"))  # Iran
    assert "we cannot call numbers in that country" in said(root)


def test_own_number_in_a_country_not_on_the_list_asks_for_another(twilio: Twilio) -> None:
    twilio.base["From"] = "+989123456789"
    root = ask(twilio, "2")
    assert "we cannot call numbers in that country" in said(root)
    assert "type the number" in said(root)


@pytest.mark.parametrize(
    "digits",
    [
        "0039899123456",  # premium rate (IT)
        "0033884012345",  # shared cost (FR)
        "00447012345678",  # personal number (GB)
        "00445512345678",  # UAN (GB)
        "003933101234501",  # voicemail access (IT)
        "00447640123456",  # pager (GB)
    ],
)
def test_high_cost_numbers_are_refused(twilio: Twilio, digits: str) -> None:
    root = ask(twilio, "2", "2")
    root = xml(twilio.post(action(root), Digits=digits))
    assert "a special number with higher charges" in said(root)


def test_more_than_three_a_day_is_refused(app: Any, twilio: Twilio) -> None:
    with time_machine.travel(OPEN, tick=False):
        for _ in range(3):
            root = ask(Twilio(twilio.client), "2", "1", "1")
            assert "within about" in said(root)
        root = ask(twilio, "2", "1", "1")
    assert "too many callback requests from this number today" in said(root)
    # The next day counts afresh.
    with time_machine.travel(OPEN + dt.timedelta(days=1), tick=False):
        assert "within about" in said(ask(Twilio(twilio.client), "2", "1", "1"))


def test_a_pending_request_is_updated_not_added(app: Any, twilio: Twilio) -> None:
    key = app.config["HOTLINE_NUMBER_HASH_KEY"].encode()
    get_redis(app).set(pending_key(number_hash("+393331234567", key)), "7")
    with time_machine.travel(OPEN, tick=False):
        for _ in range(5):  # updates do not count against the daily limit
            root = ask(Twilio(twilio.client), "2", "1", "1")
            assert "We have updated the callback you asked for earlier" in said(root)
    assert all(e["update"] for e in events(app, "callback_requested"))


def test_redis_away_still_takes_the_request(app: Any, twilio: Twilio, monkeypatch: Any) -> None:
    import redis

    def down(*args: Any, **kwargs: Any) -> Any:
        raise redis.ConnectionError("down")

    monkeypatch.setattr("hotline.voice.check_request", down)
    with time_machine.travel(OPEN, tick=False):
        root = ask(twilio, "2", "1", "1")
    assert "within about" in said(root)


# ---- the number rules, directly -----------------------------------------------------------------
def test_rules_allowlist_setting() -> None:
    rules = NumberRules.from_setting("it, gb")
    assert rules.check_typed("00393331234567", None) == "+393331234567"
    assert rules.check_typed("0033612345678", None) == "country"
    assert rules.check_typed("3331234567", "IT") == "+393331234567"
    assert rules.check_own("anonymous") == "withheld"
    assert rules.check_typed("9" * 30, None) == "invalid"
