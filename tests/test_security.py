"""Every Twilio webhook refuses what Twilio did not sign, and survives whatever it is sent.

The routes come from the app's url_map, so a /voice route added later is covered without
touching this file. That the signature check itself agrees with Twilio's published example
is shown once, in tests/test_voice.py (test_the_signature_check_matches_twilios_published_example);
here we check that every route is behind that check.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.routing import get_board
from hotline.telephony.signature import sign
from hotline.voice import check_signature

from .conftest import AUTH_TOKEN, PUBLIC_URL

CALL_SID = "CA" + "0" * 32
FORM = {"CallSid": CALL_SID, "From": "+393331234567", "To": "+390212345678"}


def voice_paths(app: Any) -> list[str]:
    """Every /voice route of the app, as a concrete path (variables filled in)."""
    paths = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/voice"):
            continue
        values = dict.fromkeys(rule.arguments, "x")
        paths.append(rule.rule if not rule.arguments else _build(app, rule.endpoint, values))
    return sorted(set(paths))


def _build(app: Any, endpoint: str, values: dict[str, str]) -> str:
    with app.test_request_context():
        from flask import url_for

        return str(url_for(endpoint, **values))


def post(client: Any, path: str, form: dict[str, str], signature: str | None) -> Any:
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    return client.post(path, data=form, headers=headers)


def test_the_app_has_the_voice_routes_we_know_of(app: Any) -> None:
    paths = voice_paths(app)
    # A guard against the url_map walk finding nothing (and every test passing vacuously).
    assert {
        "/voice/incoming",
        "/voice/status",
        "/voice/fallback",
        "/voice/counselor/whisper",
        "/voice/counselor/answer",
        "/voice/counselor/status",
        "/voice/bridge/caller",
    } <= set(paths)


def test_every_voice_blueprint_runs_the_signature_check(app: Any) -> None:
    prefixed = {
        name for name, bp in app.blueprints.items() if (bp.url_prefix or "").startswith("/voice")
    }
    rule_blueprints = {
        rule.endpoint.rpartition(".")[0]
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/voice")
    }
    assert rule_blueprints <= prefixed
    for name in rule_blueprints:
        assert check_signature in app.before_request_funcs.get(name, []), name


def test_signed_requests_are_accepted_everywhere(app: Any, client: Any) -> None:
    """So the refusals below are the signature's doing, not a broken route."""
    for path in voice_paths(app):
        response = post(client, path, FORM, sign(AUTH_TOKEN, PUBLIC_URL + path, FORM))
        assert response.status_code == 200, path


def test_unsigned_requests_are_refused_everywhere(app: Any, client: Any) -> None:
    for path in voice_paths(app):
        assert post(client, path, FORM, None).status_code == 403, path
        assert post(client, path, FORM, "").status_code == 403, path


def test_wrong_signatures_are_refused_everywhere(app: Any, client: Any) -> None:
    for path in voice_paths(app):
        for bad in (
            sign("another-accounts-token", PUBLIC_URL + path, FORM),
            "GvWf1cFY/Q7PnoempGyD5oXAezc=",  # valid for Twilio's example, not for this
            "not base64 at all \u2603",
        ):
            assert post(client, path, FORM, bad).status_code == 403, (path, bad)


def test_signatures_for_another_url_are_refused_everywhere(app: Any, client: Any) -> None:
    paths = voice_paths(app)
    for path in paths:
        other_path = next(p for p in paths if p != path)
        for signed_url in (
            "https://evil.example" + path,
            "http://hotline.example.org" + path,  # the scheme is signed too
            PUBLIC_URL + other_path,
            PUBLIC_URL + path + "?o=0123456789abcdef",
        ):
            response = post(client, path, FORM, sign(AUTH_TOKEN, signed_url, FORM))
            assert response.status_code == 403, (path, signed_url)


def test_replays_with_changed_parameters_are_refused_everywhere(app: Any, client: Any) -> None:
    for path in voice_paths(app):
        signed = {**FORM, "Digits": "2", "CallStatus": "ringing"}
        good = sign(AUTH_TOKEN, PUBLIC_URL + path, signed)
        for changed in (
            {**signed, "Digits": "1"},
            {**signed, "CallSid": "CA" + "9" * 32},
            {**signed, "QueueResult": "bridged"},  # a parameter added
            {k: v for k, v in signed.items() if k != "From"},  # one taken away
        ):
            assert post(client, path, changed, good).status_code == 403, (path, changed)
        # The same body on another query string (a forged offer id, another menu node).
        assert post(client, path + "?o=0123456789abcdef", signed, good).status_code == 403


def test_a_garbled_body_is_refused_not_crashed(app: Any, client: Any) -> None:
    for path in voice_paths(app):
        response = client.post(
            path,
            data=b"\xff\xfe=%%%&CallSid=\x00",
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": "x"},
        )
        assert response.status_code == 403, path


# ---- fuzzing ---------------------------------------------------------------------------------
PARAMS = [
    "CallSid",
    "AccountSid",
    "From",
    "To",
    "Digits",
    "CallStatus",
    "CallDuration",
    "Direction",
    "AnsweredBy",
    "QueueTime",
    "QueuePosition",
    "QueueResult",
    "QueueSid",
    "Timestamp",
    "SequenceNumber",
    "ErrorCode",
    "ErrorUrl",
    "RecordingUrl",
    "SpeechResult",
]
QUERY = ["o", "n", "f", "l", "t", "u", "a"]
PLAUSIBLE = [
    "",
    "1",
    "2",
    "9",
    "#",
    "-1",
    "99999999999999999999",
    CALL_SID,
    "+8613800000001",
    "+390212345678",
    "anonymous",
    "completed",
    "no-answer",
    "in-progress",
    "bridged",
    "hangup",
    "redirected",
    "language_menu",
    "queue",
    "hotline",
    "english",
    "cantonese",
    "Wed, 02 Dec 2026 02:00:00 +0000",
    "../../etc/passwd",
    "<Say>x</Say>",
    "%00",
]
values = st.one_of(st.sampled_from(PLAUSIBLE), st.text(max_size=40)).map(
    lambda s: s.replace("\x00", "")
)


def live_offer(app: Any) -> str:
    """A real offer on the board, so the counselor routes are fuzzed past their first `if`."""
    board = get_board(app)
    board.register_counselor(1, ["english"], "available")
    board.register_caller(
        CALL_SID, "english", urgent=False, since=0.0, queue_sid="QU" + "a" * 32, flow="hotline"
    )
    offer = board.match("english", [1])
    assert offer is not None
    return offer.offer_id


def check_answer(path: str, response: Any) -> None:
    assert response.status_code < 500, (path, response.data[:300])
    if response.status_code == 200:
        assert response.mimetype == "text/xml", path
        root = ET.fromstring(response.data)
        assert root.tag == "Response", path
    else:
        assert 400 <= response.status_code < 500, path


@settings(deadline=None, max_examples=150)
@given(data=st.data())
def test_fuzzed_webhooks_answer_twiml_or_4xx(app: Any, client: Any, data: st.DataObject) -> None:
    if "offer" not in app.extensions:
        app.extensions["offer"] = live_offer(app)
    path = data.draw(st.sampled_from(voice_paths(app)), label="path")
    form = data.draw(st.dictionaries(st.sampled_from(PARAMS), values, max_size=10), label="form")
    query = data.draw(st.dictionaries(st.sampled_from(QUERY), values, max_size=4), label="query")
    if data.draw(st.booleans(), label="live offer"):
        query["o"] = app.extensions["offer"]
    from urllib.parse import urlencode

    url = path + (f"?{urlencode(query)}" if query else "")
    response = post(client, url, form, sign(AUTH_TOKEN, PUBLIC_URL + url, form))
    check_answer(url, response)


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_need_no_signature_and_take_no_posts(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.is_json
    assert client.post(path, data=FORM).status_code == 405
