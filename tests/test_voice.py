"""The voice webhooks through Flask, signed as Twilio signs them."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from hotline.flows import engine as engine_module
from hotline.telephony.signature import sign

from .conftest import AUTH_TOKEN, PUBLIC_URL, Twilio

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
OPEN = dt.datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)  # a Wednesday morning in Beijing
CLOSED = dt.datetime(2026, 12, 2, 3, 0, tzinfo=SHANGHAI)
VOICE_ROUTES = ["/voice/incoming", "/voice/menu", "/voice/queue/wait", "/voice/queue/done", "/voice/status", "/voice/fallback"]  # fmt: skip


def xml(response: Any) -> ET.Element:
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/xml"
    return ET.fromstring(response.data)


def says(root: ET.Element) -> list[str]:
    return [el.text or "" for el in root.iter("Say")]


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def follow(root: ET.Element, tag: str) -> str:
    """The URL a verb sends Twilio to next (action, or the Redirect's text)."""
    el = root.find(tag)
    assert el is not None, f"no <{tag}> in {ET.tostring(root, encoding='unicode')}"
    url = el.text if tag == "Redirect" else el.get("action")
    assert url
    return url


# ---- signatures --------------------------------------------------------------------------
@pytest.mark.parametrize("path", VOICE_ROUTES)
def test_unsigned_requests_are_refused(client: Any, path: str) -> None:
    response = client.post(path, data={"CallSid": "CA" + "0" * 32, "From": "+393331234567"})
    assert response.status_code == 403


@pytest.mark.parametrize("path", VOICE_ROUTES)
def test_wrong_signatures_are_refused(client: Any, path: str) -> None:
    form = {"CallSid": "CA" + "0" * 32, "From": "+393331234567"}
    for bad in (
        sign("another-token", PUBLIC_URL + path, form),  # someone else's account
        sign(AUTH_TOKEN, "https://evil.example" + path, form),  # signed for another URL
        sign(AUTH_TOKEN, PUBLIC_URL + path, {**form, "From": "+10000000000"}),  # body changed
        "",
    ):
        response = client.post(path, data=form, headers={"X-Twilio-Signature": bad})
        assert response.status_code == 403


def test_signature_uses_the_public_url_behind_a_proxy(client: Any) -> None:
    # The app sees http://localhost/..., Twilio signed https://hotline.example.org/...
    form = {"CallSid": "CA" + "0" * 32, "From": "+393331234567", "To": "+390212345678"}
    good = sign(AUTH_TOKEN, PUBLIC_URL + "/voice/incoming", form)
    assert (
        client.post("/voice/incoming", data=form, headers={"X-Twilio-Signature": good}).status_code
        == 200
    )
    local = sign(AUTH_TOKEN, "http://localhost/voice/incoming", form)
    assert (
        client.post("/voice/incoming", data=form, headers={"X-Twilio-Signature": local}).status_code
        == 403
    )


def test_dev_mode_must_be_asked_for(tmp_path: Any, sqlite_url: str) -> None:
    from hotline import create_app

    from .conftest import make_config

    config = make_config(tmp_path, sqlite_url, None)
    config.pop("HOTLINE_DEV_MODE")
    app = create_app({**config})
    assert app.config["HOTLINE_DEV_MODE"] is False
    assert app.test_client().post("/voice/incoming", data={}).status_code == 403
    dev = create_app({**config, "HOTLINE_DEV_MODE": True})
    assert dev.test_client().post("/voice/incoming", data={}).status_code == 200


def test_the_signature_check_matches_twilios_published_example() -> None:
    # From Twilio's documentation of webhook security.
    from hotline.telephony.signature import is_valid

    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675310",
        "Digits": "1234",
        "From": "+14158675310",
        "To": "+18005551212",
    }
    assert is_valid("12345", url, params, "GvWf1cFY/Q7PnoempGyD5oXAezc=")
    assert not is_valid("12345", url, {**params, "Digits": "1235"}, "GvWf1cFY/Q7PnoempGyD5oXAezc=")
    older = {**params, "Caller": "+14158675309", "From": "+14158675309"}
    assert is_valid("12345", url, older, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


# ---- the call path -------------------------------------------------------------------------
def test_incoming_greets_in_mandarin_and_offers_the_languages(twilio: Twilio) -> None:
    root = xml(twilio.post("/voice/incoming", CallStatus="ringing"))
    expected = (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        '<Say language="cmn-CN" voice="Google.cmn-CN-Wavenet-A">您好，这里是心理援助热线。我们在这里倾听您。</Say>'
        '<Gather action="https://hotline.example.org/voice/menu?n=language_menu&amp;f=hotline" '
        'input="dtmf" method="POST" numDigits="1" timeout="6">'
        '<Say language="cmn-CN" voice="Google.cmn-CN-Wavenet-A">'
        "普通话请按1。粤语请按2。For English, press 3。如果您现在有危险，请按9。</Say></Gather>"
        '<Redirect method="POST">https://hotline.example.org/voice/menu?n=language_menu&amp;f=hotline</Redirect>'
        "</Response>"
    )
    assert ET.tostring(root, encoding="unicode") == ET.tostring(
        ET.fromstring(expected.split("?>", 1)[1]), encoding="unicode"
    )
    assert twilio.post("/voice/incoming").data.decode() == expected


@pytest.mark.parametrize(
    ("key", "say_language", "needle"),
    [("1", "cmn-CN", "1 1 2"), ("2", "yue-HK", "1 1 2"), ("3", "en-GB", "1 1 2")],
)
def test_each_language_continues_in_that_language(
    twilio: Twilio, key: str, say_language: str, needle: str
) -> None:
    with time_machine.travel(OPEN, tick=False):
        root = xml(twilio.post("/voice/menu?n=language_menu&f=hotline", Digits=key))
    assert {el.get("language") for el in root.iter("Say")} == {say_language}
    assert any(needle in text for text in says(root))
    enqueue = root.find("Enqueue")
    assert enqueue is not None
    lang = {"1": "mandarin", "2": "cantonese", "3": "english"}[key]
    assert enqueue.text == f"hotline-{lang}"
    assert f"l={lang}" in (enqueue.get("waitUrl") or "")
    assert enqueue.get("action", "").startswith(PUBLIC_URL + "/voice/queue/done")


@pytest.mark.parametrize(
    ("caller", "needles"),
    [
        ("+393331234567", ["1 1 2"]),
        ("+819012345678", ["1 1 0", "1 1 9"]),
        ("+12025550123", ["9 1 1"]),
        ("+447911123456", ["9 9 9"]),
    ],
)
def test_emergency_notice_follows_the_callers_country(
    twilio: Twilio, caller: str, needles: list[str]
) -> None:
    with time_machine.travel(OPEN, tick=False):
        root = xml(twilio.post("/voice/menu?n=language_menu&f=hotline", Digits="1", From=caller))
    text = " ".join(says(root))
    for needle in needles:
        assert needle in text


@pytest.mark.parametrize(
    "caller", ["anonymous", "", "+266696687", "client:alice", "not a number", "+1"]
)
def test_unknown_or_withheld_callers_get_the_generic_notice(twilio: Twilio, caller: str) -> None:
    root = xml(twilio.post("/voice/incoming", From=caller))
    assert root.find("Gather") is not None
    with time_machine.travel(OPEN, tick=False):
        root = xml(twilio.post("/voice/menu?n=language_menu&f=hotline", Digits="3", From=caller))
    assert any("emergency number of the country you are in" in s for s in says(root))


def test_no_input_repeats_the_menu_twice_then_continues_in_mandarin(twilio: Twilio) -> None:
    root = xml(twilio.post("/voice/incoming"))
    url = follow(root, "Redirect")
    with time_machine.travel(OPEN, tick=False):
        for attempt in (1, 2):
            root = xml(twilio.post(url))
            assert says(root)[0].startswith("抱歉"), attempt
            assert root.find("Gather") is not None
            url = follow(root, "Redirect")
        root = xml(twilio.post(url))
    assert root.find("Gather") is None
    assert root.find("Enqueue") is not None and root.find("Enqueue").text == "hotline-mandarin"  # type: ignore[union-attr]


def test_invalid_keys_count_as_tries(twilio: Twilio) -> None:
    url = "/voice/menu?n=language_menu&f=hotline"
    root = xml(twilio.post(url, Digits="7"))
    url = follow(root, "Gather")
    assert "t=1" in url
    root = xml(twilio.post(url, Digits="#"))
    url = follow(root, "Gather")
    with time_machine.travel(OPEN, tick=False):
        root = xml(twilio.post(url, Digits="5"))
    assert root.find("Enqueue") is not None


def test_danger_key_repeats_the_emergency_number_and_marks_urgent(twilio: Twilio) -> None:
    with time_machine.travel(OPEN, tick=False):
        root = xml(
            twilio.post("/voice/menu?n=language_menu&f=hotline", Digits="9", From="+819012345678")
        )
    text = " ".join(says(root))
    assert "您的安全最重要" in text and "1 1 0" in text and "1 1 9" in text
    enqueue = root.find("Enqueue")
    assert enqueue is not None
    assert "u=1" in (enqueue.get("waitUrl") or "") and "u=1" in (enqueue.get("action") or "")


def test_after_hours_path(twilio: Twilio) -> None:
    with time_machine.travel(CLOSED, tick=False):
        root = xml(twilio.post("/voice/menu?n=language_menu&f=hotline", Digits="3"))
    assert root.find("Enqueue") is None
    text = " ".join(says(root))
    assert "closed" in text and "1 1 2" in text and "call you back, press 1" in text
    root = xml(twilio.post(follow(root, "Redirect")))  # no key: goodbye
    assert verbs(root)[-1] == "Hangup" and "Goodbye" in " ".join(says(root))


def test_chinese_holidays_close_the_line(twilio: Twilio) -> None:
    # Spring Festival 2027 (春节), as the holidays library has it; a normal weekday otherwise.
    festival = dt.datetime(2027, 2, 6, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(festival, tick=False):
        root = xml(twilio.post("/voice/menu?n=language_menu&f=hotline", Digits="1"))
    assert root.find("Enqueue") is None


# ---- waiting in the queue --------------------------------------------------------------------
def wait_url(language: str = "english") -> str:
    return f"/voice/queue/wait?n=queue&f=hotline&l={language}"


def test_wait_announces_position_then_plays_hold_music(twilio: Twilio) -> None:
    root = xml(twilio.post(wait_url(), QueueTime="5", QueuePosition="3", QueueSid="QU" + "0" * 32))
    text = " ".join(says(root))
    assert "There are 2 callers ahead of you." in text
    assert "about 12 minutes" in text
    play = root.find("Play")
    assert play is not None and play.text == PUBLIC_URL + "/media/hold/hold-music.wav"
    redirect = follow(root, "Redirect")
    assert "a=5" in redirect
    # Announced a moment ago: just music this time.
    root = xml(twilio.post(redirect, QueueTime="47", QueuePosition="2"))
    assert says(root) == []
    root = xml(twilio.post(redirect, QueueTime="70", QueuePosition="1"))
    assert "You are next in line." in " ".join(says(root))


def test_wait_past_the_maximum_leaves_the_queue(twilio: Twilio) -> None:
    root = xml(twilio.post(wait_url(), QueueTime="900", QueuePosition="4"))
    assert verbs(root) == ["Leave"]


@pytest.mark.parametrize("result", ["leave", "queue-full", "error", "system-error", "???", ""])
def test_leaving_the_queue_without_a_counselor_goes_to_overflow(
    twilio: Twilio, result: str
) -> None:
    root = xml(
        twilio.post(
            "/voice/queue/done?n=queue&f=hotline&l=english", QueueResult=result, QueueTime="900"
        )
    )
    text = " ".join(says(root))
    assert "All our counselors are on other calls" in text
    assert "8 6 2 4 1 2 3 4 5 6 7 8" in text  # the fallback line, digit by digit
    assert "call you back, press 1" in text
    assert verbs(root)[-2:] == ["Gather", "Redirect"]


@pytest.mark.parametrize("result", ["bridged", "hangup", "redirected", "bridging-in-process"])
def test_queue_end_after_bridge_or_hangup(twilio: Twilio, result: str) -> None:
    root = xml(
        twilio.post(
            "/voice/queue/done?n=queue&f=hotline&l=english", QueueResult=result, QueueTime="30"
        )
    )
    assert verbs(root) == ["Hangup"]


# ---- bad input: a sensible answer, never a 500 ------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/voice/menu",  # no state at all
        "/voice/menu?n=nowhere&f=hotline",
        "/voice/menu?n=language_menu&f=unknown-flow&l=klingon&t=x&u=7",
        "/voice/menu?n=%00%ff&f=hotline",
        "/voice/queue/wait?n=queue&f=hotline&a=minus",
        "/voice/queue/wait",
        "/voice/queue/done",
        "/voice/queue/done?n=welcome&f=hotline",
    ],
)
def test_malformed_state_gets_a_sensible_answer(twilio: Twilio, path: str) -> None:
    root = xml(
        twilio.post(path, Digits="x", QueueTime="-5", QueuePosition="many", QueueResult="leave")
    )
    assert len(root) > 0


def test_missing_parameters(client: Any) -> None:
    for path in VOICE_ROUTES:
        form: dict[str, str] = {}
        response = client.post(
            path,
            data=form,
            headers={"X-Twilio-Signature": sign(AUTH_TOKEN, PUBLIC_URL + path, form)},
        )
        assert response.status_code == 200, path
        ET.fromstring(response.data)


def test_an_unknown_call_sid_is_answered(twilio: Twilio) -> None:
    twilio.base["CallSid"] = "not-a-sid"
    assert xml(twilio.post("/voice/incoming")).find("Gather") is not None


def test_oversized_bodies_are_refused(twilio: Twilio) -> None:
    response = twilio.post("/voice/incoming", Padding="x" * 200_000)
    assert response.status_code == 413


def test_get_is_not_allowed(client: Any) -> None:
    assert client.get("/voice/incoming").status_code in (403, 405)


def test_a_crash_becomes_an_apology_and_the_fallback_number(
    twilio: Twilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(engine_module.Engine, "menu_input", boom)
    root = xml(twilio.post("/voice/menu?n=language_menu&f=hotline&l=cantonese", Digits="1"))
    text = " ".join(says(root))
    assert "系統出咗問題" in text and "8 6 2 4" in text
    assert verbs(root)[-1] == "Hangup"


def test_even_a_broken_safe_answer_says_something(
    twilio: Twilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(engine_module.Engine, "start", boom)
    monkeypatch.setattr(engine_module.Engine, "safe_answer", boom)
    root = xml(twilio.post("/voice/incoming"))
    assert len(says(root)) >= 2 and verbs(root)[-1] == "Hangup"


def test_fallback_url_apologises(twilio: Twilio) -> None:
    root = xml(
        twilio.post("/voice/fallback", ErrorCode="11200", ErrorUrl=PUBLIC_URL + "/voice/incoming")
    )
    assert "非常抱歉" in says(root)[0]
    assert verbs(root)[-1] == "Hangup"


def test_status_callback_answers_empty_twiml(twilio: Twilio) -> None:
    root = xml(
        twilio.post(
            "/voice/status",
            CallStatus="completed",
            CallDuration="42",
            SequenceNumber="1",
            Timestamp="Wed, 02 Dec 2026 02:00:00 +0000",
        )
    )
    assert len(root) == 0


def test_media_serves_audio_only(client: Any) -> None:
    response = client.get("/media/hold/hold-music.wav")
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    response.close()
    assert client.get("/media/../ivr_flows/hotline.yaml").status_code == 404
    assert client.get("/media/README.md").status_code == 404
    assert client.get("/media/%2e%2e/pyproject.toml").status_code == 404
    assert client.get("/media/nope.wav").status_code == 404


@given(
    path=st.sampled_from(
        [
            *VOICE_ROUTES,
            "/voice/menu?n=language_menu&f=hotline",
            "/voice/queue/wait?n=queue&f=hotline",
        ]
    ),
    params=st.dictionaries(
        st.sampled_from(
            [
                "CallSid",
                "From",
                "To",
                "Digits",
                "QueueTime",
                "QueuePosition",
                "QueueResult",
                "CallStatus",
                "Timestamp",
                "SequenceNumber",
                "CallDuration",
            ]
        ),
        st.text(max_size=40),
        max_size=8,
    ),
)
def test_fuzzed_parameters_never_give_a_500(client: Any, path: str, params: dict[str, str]) -> None:
    params = {k: v.replace("\x00", "") for k, v in params.items()}
    headers = {"X-Twilio-Signature": sign(AUTH_TOKEN, PUBLIC_URL + path, params)}
    response = client.post(path, data=params, headers=headers)
    assert response.status_code == 200
    ET.fromstring(response.data)
