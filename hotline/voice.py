"""Twilio's voice webhooks: parse the request, ask the flow engine, answer TwiML.

Handlers decide from data in memory (the flows) and the request itself; everything slow is
handed to the event sink. A handler never answers the caller with an HTTP error: whatever
goes wrong, the caller hears an apology and another number to call.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, abort, current_app, request, url_for

from . import recordings
from .callbacks.limits import check_request
from .callbacks.rules import NumberRules
from .db import utcnow
from .emergency import emergency_for
from .events import REDIS_DOWN, CallEventData, make_event
from .flows import Caller, CallState, Engine, Flow, FlowSet, Next, Turn
from .flows.steps import Leave
from .phone import number_hash, parse_caller
from .queues import get_events, get_redis
from .routing import get_board, schedule_match, staffed
from .telephony import signature, twiml

log = logging.getLogger(__name__)

bp = Blueprint("voice", __name__, url_prefix="/voice")

ENDPOINTS = {
    "menu": "voice.menu",
    "queue_wait": "voice.queue_wait",
    "queue_done": "voice.queue_done",
    "queue_key": "voice.queue_key",
    "callback": "voice.callback_request",
    "voicemail_done": "voice.voicemail_done",
}
# Built on another branch (it downloads the recording); <Record> already points there.
RECORDING_PATH = "/voice/recording"
CHOICE_PREFIX = "hotline:queue-choice:"
CHOICE_TTL = 600
_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_TOKEN = re.compile(r"^[a-z0-9_-]{1,48}$")


# ---- request plumbing ----------------------------------------------------------------
@bp.before_request
def check_signature() -> None:
    if current_app.config["HOTLINE_DEV_MODE"]:
        return
    url = signature.public_url(
        current_app.config["HOTLINE_PUBLIC_URL"],
        request.host_url,
        request.path,
        request.query_string,
    )
    if not signature.is_valid(
        current_app.config["TWILIO_AUTH_TOKEN"],
        url,
        request.form,
        request.headers.get("X-Twilio-Signature"),
    ):
        # Never the body: it holds the caller's number.
        log.warning(
            "403: bad or missing Twilio signature on %s from %s", request.path, request.remote_addr
        )
        abort(403)


def _flows() -> FlowSet:
    flows: FlowSet = current_app.extensions["hotline.flows"]
    return flows


def _call_sid() -> str:
    sid = request.form.get("CallSid", "")
    return sid[:64] if sid else "unknown"


def _state(flows: FlowSet) -> tuple[Flow, CallState]:
    """Call state from the URL, forgiving: a bad value falls back to a safe default."""
    args = request.args
    flow = flows.get(args.get("f")) or flows.for_number(request.form.get("To"))
    language = args.get("l")
    if language not in flow.languages:
        language = None
    try:
        tries = min(max(int(args.get("t", "0")), 0), 10)
    except ValueError:
        tries = 0
    second = args.get("s")
    return flow, CallState(
        flow=flow.name,
        language=language,
        urgent=args.get("u") == "1",
        tries=tries,
        second_language=second if second in flow.languages and second != language else None,
    )


def _caller() -> Caller:
    number = parse_caller(request.form.get("From"))
    return Caller(
        region=number.region,
        emergency=emergency_for(number.region),
        number=number.e164,
    )


def _engine(flow: Flow) -> Engine:
    return Engine(
        flow,
        staffed(current_app),
        NumberRules.from_setting(current_app.config["HOTLINE_CALLBACK_COUNTRIES"]),
    )


def _hotline_number() -> str | None:
    return parse_caller(request.form.get("To")).e164


def _node_arg() -> str:
    node = request.args.get("n", "")
    return node if _TOKEN.match(node) else ""


def _int_form(name: str) -> int | None:
    try:
        value = int(request.form.get(name, ""))
    except ValueError:
        return None
    return value if 0 <= value < 10**7 else None


def _url(endpoint: str, params: dict[str, str]) -> str:
    path = url_for(endpoint, **params)
    base = current_app.config["HOTLINE_PUBLIC_URL"]
    return f"{base}{path}" if base else path


def url_for_next(target: Next) -> str:
    if target.endpoint == "recording":
        base = current_app.config["HOTLINE_PUBLIC_URL"]
        return f"{base}{RECORDING_PATH}?{urlencode({'n': target.node, **target.state.params()})}"
    return _url(
        ENDPOINTS[target.endpoint], {"n": target.node, **target.state.params(), **target.extra}
    )


def media_url(relative: str) -> str:
    return _url("media.serve", {"filename": relative})


def _xml(response: Any) -> Response:
    return Response(str(response), mimetype="text/xml")


def _discriminator() -> str:
    form = "&".join(f"{k}={v}" for k, v in sorted(request.form.items(multi=True)))
    return f"{request.path}?{request.query_string.decode('latin-1')}|{form}"


def _emit(call_sid: str, events: list[CallEventData]) -> None:
    get_events(current_app).emit(events)


def _turn_events(call_sid: str, turn: Turn, now: dt.datetime) -> list[CallEventData]:
    base = _discriminator()
    return [
        make_event(call_sid, e.kind, e.data, now, discriminator=f"{base}|{i}")
        for i, e in enumerate(turn.events)
    ]


def voice_handler(
    fn: Callable[[Flow, CallState, str, dt.datetime], tuple[Turn, list[CallEventData]]],
) -> Callable[[], Response]:
    """Runs a handler; any failure becomes the flow's safe answer, never an HTTP error."""

    @wraps(fn)
    def wrapper() -> Response:
        call_sid = _call_sid()
        now = utcnow()
        flow: Flow | None = None
        state: CallState | None = None
        try:
            flow, state = _state(_flows())
            turn, extra_events = fn(flow, state, call_sid, now)
            body = twiml.render(turn.steps, url_for_next, media_url, _hotline_number())
            _emit(call_sid, extra_events + _turn_events(call_sid, turn, now))
            return _xml(body)
        except Exception:
            log.exception("voice handler %s failed for call %s", request.path, call_sid)
        try:
            flows = _flows()
            flow = flow or flows.for_number(request.form.get("To"))
            turn = Engine(flow).safe_answer(state)
            body = twiml.render(turn.steps, url_for_next, media_url)
        except Exception:
            log.exception("safe answer failed for call %s", call_sid)
            body = twiml.emergency_answer(flow.fallback_number if flow else None)
        try:
            _emit(
                call_sid,
                [
                    make_event(
                        call_sid,
                        "safe_answer",
                        {"path": request.path},
                        now,
                        discriminator=_discriminator(),
                    )
                ],
            )
        except Exception:
            log.exception("could not log the safe answer for call %s", call_sid)
        return _xml(body)

    return wrapper


# ---- the webhooks --------------------------------------------------------------------
@bp.post("/incoming")
@voice_handler
def incoming(
    flow: Flow, state: CallState, call_sid: str, now: dt.datetime
) -> tuple[Turn, list[CallEventData]]:
    number = parse_caller(request.form.get("From"))
    hotline = parse_caller(request.form.get("To"))
    key = current_app.config["HOTLINE_NUMBER_HASH_KEY"].encode()
    data = {
        "from": number.e164,
        "withheld": number.withheld,
        "region": number.region,
        "to": hotline.e164 or (request.form.get("To") or "")[:32] or None,
        "caller_hash": number_hash(number.e164, key) if number.e164 else None,
        "flow": flow.name,
        "sid_ok": bool(_SID.match(call_sid)),
    }
    log.info("incoming call %s from %s", call_sid, number.masked)
    incoming_event = make_event(call_sid, "incoming", data, now, discriminator=_discriminator())
    caller = Caller(
        region=number.region, emergency=emergency_for(number.region), number=number.e164
    )
    return _engine(flow).start(caller, now), [incoming_event]


@bp.post("/menu")
@voice_handler
def menu(
    flow: Flow, state: CallState, call_sid: str, now: dt.datetime
) -> tuple[Turn, list[CallEventData]]:
    digits = request.form.get("Digits")
    turn = _engine(flow).menu_input(_node_arg(), state, _caller(), now, digits)
    return _complete_callback(flow, state, turn, now), []


@bp.post("/queue/wait")
@voice_handler
def queue_wait(
    flow: Flow, state: CallState, call_sid: str, now: dt.datetime
) -> tuple[Turn, list[CallEventData]]:
    queue_time = _int_form("QueueTime") or 0
    position = _int_form("QueuePosition")
    try:
        announced: int | None = int(request.args.get("a", ""))
    except ValueError:
        announced = None
    turn = Engine(flow).queue_wait(_node_arg(), state, _caller(), queue_time, position, announced)
    if not any(isinstance(step, Leave) for step in turn.steps):
        _register_waiting(flow, state, call_sid, now, queue_time)
    return turn, []


def _widen_after(flow: Flow, node_id: str) -> float:
    from .flows.model import QueueNode

    node = flow.nodes.get(node_id)
    return float(node.widen_after) if isinstance(node, QueueNode) else 60.0


def _register_waiting(
    flow: Flow, state: CallState, call_sid: str, now: dt.datetime, queue_time: int
) -> None:
    """Every wait round (re)states the caller on the routing board, so a board that lost
    them (Redis restarted) has them back within one round of hold music."""
    language = state.language if state.language in flow.languages else flow.default_language
    try:
        new = get_board(current_app).register_caller(
            call_sid,
            language,
            urgent=state.urgent,
            since=now.timestamp() - queue_time,
            queue_sid=(request.form.get("QueueSid") or "")[:64],
            hotline_number=_hotline_number() or "",
            flow=flow.name,
            second_language=state.second_language or "",
            widen_after=_widen_after(flow, _node_arg()),
        )
        if new:
            schedule_match(get_redis(current_app), language)
    except REDIS_DOWN:
        log.warning("routing board unreachable for call %s; the next wait round retries", call_sid)


def caller_left(app: Flask, call_sid: str) -> None:
    from .counselor_voice import caller_left as left

    left(app, call_sid)


@bp.post("/queue/key")
@voice_handler
def queue_key(
    flow: Flow, state: CallState, call_sid: str, now: dt.datetime
) -> tuple[Turn, list[CallEventData]]:
    """A key pressed during the wait announcement. The Enqueue action cannot be told which
    (its URL was fixed when the caller was queued), so the choice waits in Redis for it."""
    announced = request.args.get("a", "")
    turn = _engine(flow).queue_key(
        _node_arg(), state, request.form.get("Digits"), announced if announced.isdigit() else None
    )
    if turn.queue_choice:
        try:
            get_redis(current_app).set(CHOICE_PREFIX + call_sid, turn.queue_choice, ex=CHOICE_TTL)
        except REDIS_DOWN:
            # The caller still leaves the queue; the overflow path offers the same choices.
            log.warning("could not keep the queue choice of call %s", call_sid)
    return turn, []


def _queue_choice(call_sid: str) -> str | None:
    try:
        value = get_redis(current_app).getdel(CHOICE_PREFIX + call_sid)
    except REDIS_DOWN:
        return None
    return value.decode() if isinstance(value, bytes) else value


@bp.post("/queue/done")
@voice_handler
def queue_done(
    flow: Flow, state: CallState, call_sid: str, now: dt.datetime
) -> tuple[Turn, list[CallEventData]]:
    result = (request.form.get("QueueResult") or "error").strip().lower()
    choice = _queue_choice(call_sid) if result == "leave" else None
    turn = _engine(flow).queue_done(
        _node_arg(), state, _caller(), now, result, _int_form("QueueTime"), choice
    )
    # "redirected": a counselor took the caller out of the queue (REST dequeue) and the
    # call goes on in their conference; the caller has not left.
    if result not in ("bridged", "bridging-in-process", "redirected"):
        caller_left(current_app, call_sid)
    return turn, []


@bp.post("/callback/request")
@voice_handler
def callback_request(
    flow: Flow, state: CallState, call_sid: str, now: dt.datetime
) -> tuple[Turn, list[CallEventData]]:
    """One answer while asking for a callback (stage and earlier answers in the URL)."""
    stage = request.args.get("s", "")
    answers = {"m": request.args.get("m", "")}
    turn = _engine(flow).callback_input(
        _node_arg(), state, _caller(), now, stage[:8], request.form.get("Digits"), answers
    )
    return _complete_callback(flow, state, turn, now), []


def _complete_callback(flow: Flow, state: CallState, turn: Turn, now: dt.datetime) -> Turn:
    """The engine has a valid number: apply the daily limit (one Redis round trip) and let
    it say when to expect the call. The Callback row itself is made by the worker."""
    ask = turn.callback
    if ask is None:
        return turn
    number = parse_caller(request.form.get("From"))
    key = current_app.config["HOTLINE_NUMBER_HASH_KEY"].encode()
    # One number asking many times is what the limit is for; a withheld caller is known
    # only by the number they typed.
    caller_hash = number_hash(number.e164 or ask.number, key)
    language = turn.state.language if turn.state and turn.state.language else None
    language = language if language in flow.languages else flow.default_language
    try:
        verdict, waiting = check_request(
            get_redis(current_app),
            caller_hash,
            language,
            now,
            current_app.config["HOTLINE_CALLBACK_MAX_PER_DAY"],
        )
    except REDIS_DOWN:
        # Never refuse a person in distress because Redis is away: the event is spooled
        # and the worker still merges it with a pending request.
        verdict, waiting = "new", 0
    context = {
        "caller_hash": caller_hash,
        "callback_hash": number_hash(ask.number, key),
        "to": _hotline_number(),
        "flow": flow.name,
    }
    decided = _engine(flow).callback_decided(
        ask, turn.state or state, _caller(), now, verdict, waiting, context
    )
    decided.events = turn.events + decided.events
    decided.steps = turn.steps + decided.steps
    return decided


@bp.post("/voicemail/done")
@voice_handler
def voicemail_done(
    flow: Flow, state: CallState, call_sid: str, now: dt.datetime
) -> tuple[Turn, list[CallEventData]]:
    """The <Record> action. The audio itself is fetched by the recording webhook."""
    sid = (request.form.get("RecordingSid") or "")[:64] or None
    turn = _engine(flow).voicemail_done(
        _node_arg(), state, _caller(), now, sid, _int_form("RecordingDuration")
    )
    return turn, []


@bp.post("/status")
def status() -> Response:
    """Twilio's status callback for calls. Only logged; the answer is not played to anyone."""
    call_sid = _call_sid()
    now = utcnow()
    try:
        at = _twilio_timestamp(request.form.get("Timestamp")) or now
        status_value = (request.form.get("CallStatus") or "")[:24]
        data = {
            "status": status_value,
            "duration": _int_form("CallDuration"),
            "direction": (request.form.get("Direction") or "")[:24],
        }
        sequence = _int_form("SequenceNumber")
        _emit(
            call_sid,
            [
                make_event(
                    call_sid, "status", data, at, discriminator=_discriminator(), sequence=sequence
                )
            ],
        )
    except Exception:
        log.exception("status callback for %s could not be logged", call_sid)
    if (request.form.get("CallStatus") or "") in (
        "completed",
        "busy",
        "failed",
        "no-answer",
        "canceled",
    ):
        try:
            caller_left(current_app, call_sid)
        except Exception:
            log.exception("could not take call %s off the routing board", call_sid)
    return _xml(twiml.VoiceResponse())


@bp.post("/recording")
def recording() -> Response:
    """Twilio's recordingStatusCallback. Only logged: a worker fetches the audio once the
    event is stored, so this answers at once and touches no database."""
    call_sid = _call_sid()
    now = utcnow()
    try:
        data = recordings.callback_data(request.form, request.args)
        if data is None:
            log.warning("recording callback for call %s names no recording; ignored", call_sid)
        else:
            event = make_event(
                call_sid,
                recordings.EVENT_KIND,
                data,
                now,
                # Twilio's retries of one callback are one event, whatever else varies.
                discriminator=f"{data['recording_sid']}|{data['status']}",
            )
            _emit(call_sid, [event])
    except Exception:
        log.exception("recording callback for %s could not be logged", call_sid)
    return _xml(twiml.VoiceResponse())


@bp.post("/fallback")
def fallback() -> Response:
    """Twilio's fallback URL: the primary answer failed or timed out. Apologise, give
    another number, and log what Twilio says went wrong."""
    call_sid = _call_sid()
    now = utcnow()
    flow = None
    try:
        flow, state = _state(_flows())
        body = twiml.render(Engine(flow).safe_answer(state).steps, url_for_next, media_url)
    except Exception:
        log.exception("fallback answer failed for call %s", call_sid)
        body = twiml.emergency_answer(flow.fallback_number if flow else None)
    try:
        data = {
            "error_code": (request.form.get("ErrorCode") or "")[:16],
            "error_url": _path_only(request.form.get("ErrorUrl")),
        }
        _emit(
            call_sid, [make_event(call_sid, "fallback", data, now, discriminator=_discriminator())]
        )
    except Exception:
        log.exception("fallback for %s could not be logged", call_sid)
    return _xml(body)


def _twilio_timestamp(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(dt.UTC)


def _path_only(url: str | None) -> str | None:
    if not url:
        return None
    return url.split("?", 1)[0][:200]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    if app.config["HOTLINE_DEV_MODE"]:
        log.warning("HOTLINE_DEV_MODE=1: Twilio signatures are NOT checked")
