"""Engine steps -> TwiML, with twilio's own classes."""

from __future__ import annotations

from collections.abc import Callable

from twilio.twiml.voice_response import Dial as TwimlDial
from twilio.twiml.voice_response import Gather as TwimlGather
from twilio.twiml.voice_response import VoiceResponse

from ..flows.steps import (
    Dial,
    Enqueue,
    Gather,
    Hangup,
    Leave,
    Next,
    Pause,
    Play,
    Record,
    Redirect,
    Say,
    Step,
)

UrlFor = Callable[[Next], str]
MediaUrl = Callable[[str], str]


def render(
    steps: list[Step], url_for: UrlFor, media_url: MediaUrl, caller_id: str | None = None
) -> VoiceResponse:
    """`caller_id`: the hotline number the caller dialled, shown on any call we place for
    them (never a counselor's or the caller's own number)."""
    response = VoiceResponse()
    for step in steps:
        _add(response, step, url_for, media_url, caller_id)
    return response


def _add(
    parent: VoiceResponse | TwimlGather,
    step: Step,
    url_for: UrlFor,
    media_url: MediaUrl,
    caller_id: str | None = None,
) -> None:
    if isinstance(step, Say):
        parent.say(step.text, voice=step.voice, language=step.say_language)
    elif isinstance(step, Play):
        parent.play(media_url(step.media), loop=step.loop if step.loop != 1 else None)
    elif isinstance(step, Pause):
        parent.pause(length=step.seconds)
    elif isinstance(step, Gather):
        assert isinstance(parent, VoiceResponse)
        gather = parent.gather(
            input="dtmf",
            num_digits=step.num_digits,
            timeout=step.timeout,
            action=url_for(step.action),
            method="POST",
            finish_on_key=step.finish_on_key,
        )
        for child in step.children:
            _add(gather, child, url_for, media_url)
    elif isinstance(step, Record):
        assert isinstance(parent, VoiceResponse)
        parent.record(
            action=url_for(step.action),
            method="POST",
            max_length=step.max_length,
            finish_on_key="#",
            play_beep=True,
            timeout=8,
            recording_status_callback=url_for(step.status),
            recording_status_callback_method="POST",
            recording_status_callback_event="completed",
        )
    elif isinstance(step, Redirect):
        assert isinstance(parent, VoiceResponse)
        parent.redirect(url_for(step.target), method="POST")
    elif isinstance(step, Enqueue):
        assert isinstance(parent, VoiceResponse)
        parent.enqueue(
            step.queue,
            action=url_for(step.action),
            method="POST",
            wait_url=url_for(step.wait),
            wait_url_method="POST",
        )
    elif isinstance(step, Dial):
        assert isinstance(parent, VoiceResponse)
        parent.dial(step.number, caller_id=caller_id, timeout=step.timeout)
    elif isinstance(step, Leave):
        assert isinstance(parent, VoiceResponse)
        parent.leave()
    elif isinstance(step, Hangup):
        assert isinstance(parent, VoiceResponse)
        parent.hangup()
    else:  # pragma: no cover - every step type is handled above
        raise TypeError(f"cannot render {type(step).__name__}")


def join_room(response: VoiceResponse, room: str, *, silent_wait: bool = False) -> VoiceResponse:
    """Both legs of a conversation meet in a conference room named for the call: either
    leg hanging up ends it, and nobody hears a beep. `silent_wait`: the counselor waits for
    the caller in silence rather than to music."""
    dial = TwimlDial()
    dial.conference(
        room,
        start_conference_on_enter=True,
        end_conference_on_exit=True,
        beep=False,
        wait_url="" if silent_wait else None,
    )
    response.append(dial)
    return response


def emergency_answer(fallback_number: str | None) -> VoiceResponse:
    """The answer of last resort, when even the flow cannot be used: fixed text, two languages."""
    response = VoiceResponse()
    response.say(
        "非常抱歉，系统出现问题。如果您有生命危险，请拨打当地紧急电话。",
        voice="Google.cmn-CN-Wavenet-A",
        language="cmn-CN",
    )
    response.say(
        "We are sorry, something went wrong. If your life is in danger, call your local "
        "emergency number.",
        voice="Polly.Amy-Neural",
        language="en-GB",
    )
    if fallback_number:
        digits = " ".join(ch for ch in fallback_number if ch.isdigit())
        response.say(digits, voice="Polly.Amy-Neural", language="en-GB")
    response.hangup()
    return response
