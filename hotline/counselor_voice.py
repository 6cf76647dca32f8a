"""The counselor's leg: the whisper, the accept key, the leg's status, and the bridge.

The offer id travels in the URLs Twilio was given when the counselor's phone was rung;
Twilio signs those URLs, so the id cannot be forged. Reserving, accepting and releasing are
single Redis scripts; REST calls to Twilio (taking the caller out of the queue, cancelling
a ringing phone) are left to jobs.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, current_app, request
from rq import Queue
from twilio.twiml.voice_response import VoiceResponse

from .db import utcnow
from .events import REDIS_DOWN, CallEventData, make_event
from .flows import Engine, FlowSet
from .queues import ROUTING_QUEUE, get_events, get_redis
from .routing import get_board, schedule_match
from .routing.dispatch import RoutingSettings
from .telephony import twiml
from .voice import check_signature

log = logging.getLogger(__name__)

bp = Blueprint("counselor_voice", __name__, url_prefix="/voice")
bp.before_request(check_signature)

_OFFER = re.compile(r"^[0-9a-f]{8,40}$")
LEG_MISSED = {"no-answer", "busy", "failed"}


def _xml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def _offer_id() -> str:
    value = request.args.get("o", "")
    return value if _OFFER.match(value) else ""


def _flow_engine(flow_name: str | None) -> Engine:
    flows: FlowSet = current_app.extensions["hotline.flows"]
    return Engine(flows.get(flow_name) or flows.for_number(None))


def _say(steps: list[Any]) -> VoiceResponse:
    return twiml.render(steps, lambda n: "", lambda m: m)


def _emit(call_sid: str, kind: str, data: dict[str, Any], discriminator: str) -> None:
    if call_sid.startswith("cb-"):
        from .callbacks.runner import log_call_sid
        from .db import get_db

        with get_db(current_app).session() as session:
            data = {**data, "callback": call_sid}
            call_sid = log_call_sid(session, call_sid)
    event: CallEventData = make_event(call_sid, kind, data, utcnow(), discriminator=discriminator)
    get_events(current_app).emit([event])


def _settings() -> RoutingSettings:
    return RoutingSettings.from_config(dict(current_app.config))


def _counselor_languages(counselor_id: int) -> list[str]:
    langs = get_board(current_app).counselor(counselor_id).get("langs", "")
    return [lang for lang in langs.split(",") if lang]


def _enqueue(func: str, *args: Any) -> None:
    Queue(ROUTING_QUEUE, connection=get_redis(current_app)).enqueue(
        func, *args, result_ttl=60, failure_ttl=7 * 24 * 3600
    )


def _gone(languages: list[str], flow: str | None = None) -> Response:
    engine = _flow_engine(flow)
    response = _say(engine.counselor_prompt("whisper_gone", languages))
    response.hangup()
    return _xml(response)


def _safe(fn: Any) -> Any:
    """Whatever fails on the counselor's leg, they hear a polite end, never an error."""

    def wrapper() -> Response:
        try:
            result: Response = fn()
            return result
        except Exception:
            log.exception("counselor webhook %s failed", request.path)
            response = VoiceResponse()
            response.hangup()
            return _xml(response)

    wrapper.__name__ = fn.__name__
    return wrapper


@bp.post("/counselor/whisper")
@_safe
def whisper() -> Response:
    """The counselor picked up: who is waiting, and press 1 to take the call."""
    offer_id = _offer_id()
    board = get_board(current_app)
    offer = board.offer(offer_id) if offer_id else {}
    if offer.get("state") != "ringing":
        return _gone([])
    counselor_id = int(offer["cid"])
    caller = board.caller(offer["sid"])
    languages = _counselor_languages(counselor_id)
    if not caller:
        return _gone(languages)
    engine = _flow_engine(caller.get("flow"))
    waited = time.time() - float(caller.get("since") or time.time())
    if caller.get("kind") == "callback":
        steps = _callback_whisper(engine, offer["sid"], waited, languages)
        if steps is None:
            # Cancelled or finished meanwhile: off the board, so nobody is offered it again.
            board.caller_gone(offer["sid"])
            return _gone(languages, caller.get("flow"))
    else:
        steps = engine.whisper(offer.get("lang", ""), waited, languages)
    response = VoiceResponse()
    action = f"{_settings().public_url}/voice/counselor/answer?o={offer_id}"
    gather = response.gather(input="dtmf", num_digits=1, timeout=8, action=action, method="POST")
    for step in steps:
        twiml._add(gather, step, lambda n: "", lambda m: m)
    # No key (or an answering machine listening): the redirect reports the silence.
    response.redirect(action, method="POST")
    return _xml(response)


def _callback_whisper(
    engine: Engine, entry: str, waited: float, languages: list[str]
) -> list[Any] | None:
    """What the counselor hears about a callback: language, when it was asked for, how long
    ago, and what the caller said about the number. None if it is no longer wanted."""
    from .callbacks.runner import parse_entry
    from .db import get_db
    from .models import Callback, CallbackStatus

    parsed = parse_entry(entry)
    if parsed is None:
        return None
    with get_db(current_app).session() as session:
        row = session.get(Callback, parsed[0])
        if row is None or row.status != CallbackStatus.SCHEDULED.value:
            return None
        zone = ZoneInfo(current_app.config["HOTLINE_TIMEZONE"])
        asked = row.requested_at.astimezone(zone).strftime("%H:%M")
        safety = (
            "callback_whisper_safe" if row.safe_to_call else "",
            "callback_whisper_message_ok"
            if row.may_leave_message
            else "callback_whisper_no_message",
        )
        return engine.callback_whisper(row.language, asked, waited, safety, languages)


@bp.post("/counselor/answer")
@_safe
def answer() -> Response:
    offer_id = _offer_id()
    board = get_board(current_app)
    offer = board.offer(offer_id) if offer_id else {}
    counselor_id = int(offer["cid"]) if offer.get("cid") else None
    languages = _counselor_languages(counselor_id) if counselor_id else []
    caller = board.caller(offer["sid"]) if offer.get("sid") else {}
    engine = _flow_engine(caller.get("flow"))
    digits = (request.form.get("Digits") or "").strip()[:1]
    settings = _settings()
    if digits == "1":
        outcome = board.accept(offer_id) if offer_id else None
        if outcome is None or outcome.result != "ok" or outcome.call_sid is None:
            return _gone(languages, caller.get("flow"))
        if caller.get("kind") == "callback":
            # The caller is dialled by a job; the counselor waits in the room meanwhile.
            _enqueue("hotline.jobs.dial_callback", outcome.call_sid, offer_id)
        else:
            _emit(
                outcome.call_sid,
                "counselor_accepted",
                {"counselor_id": outcome.counselor_id, "offer_id": offer_id},
                f"accepted|{offer_id}",
            )
            _enqueue("hotline.jobs.bridge_caller", offer_id)
        response = _say(engine.counselor_prompt("whisper_connecting", languages))
        return _xml(twiml.join_room(response, f"hotline-{outcome.call_sid}", silent_wait=True))
    declined = digits == "2"
    outcome = (
        board.release(
            offer_id,
            missed=not declined,
            skip_seconds=settings.skip_after_decline_seconds
            if declined
            else settings.skip_after_miss_seconds,
            away_after=settings.away_after_misses,
        )
        if offer_id
        else None
    )
    if outcome is not None and outcome.call_sid:
        kind = "counselor_declined" if declined else "counselor_missed"
        _emit(
            outcome.call_sid,
            kind,
            {
                "counselor_id": outcome.counselor_id,
                "offer_id": offer_id,
                "reason": "declined" if declined else "no key",
            },
            f"{kind}|{offer_id}",
        )
        _after_release(outcome)
    response = (
        _say(engine.counselor_prompt("whisper_declined", languages))
        if declined
        else VoiceResponse()
    )
    response.hangup()
    return _xml(response)


def _after_release(outcome: Any) -> None:
    if outcome.result == "away" and outcome.call_sid:
        _emit(
            outcome.call_sid,
            "counselor_set_away",
            {"counselor_id": outcome.counselor_id, "reason": "missed offers"},
            f"away|{outcome.offer_id}",
        )
        _mirror_away(outcome.counselor_id)
    if outcome.language:
        schedule_match(get_redis(current_app), outcome.language)


def _mirror_away(counselor_id: int | None) -> None:
    """The dashboard shows the presence the routing uses."""
    if counselor_id is None:
        return
    from sqlalchemy import update

    from .db import get_db
    from .models import Counselor

    try:
        with get_db(current_app).session() as session:
            session.execute(
                update(Counselor).where(Counselor.id == counselor_id).values(state="away")
            )
    except Exception:
        log.exception("could not mirror counselor %s away", counselor_id)


@bp.post("/counselor/status")
@_safe
def leg_status() -> Response:
    """Status of the counselor's leg: not answered (released, counted as missed), or a
    finished conversation (wrap-up, then available again)."""
    offer_id = _offer_id()
    status = (request.form.get("CallStatus") or "").strip()
    board = get_board(current_app)
    offer = board.offer(offer_id) if offer_id else {}
    settings = _settings()
    if not offer:
        return _xml(VoiceResponse())
    if offer.get("state") == "ringing" and status in LEG_MISSED | {"canceled", "completed"}:
        missed = status in LEG_MISSED or status == "completed"
        outcome = board.release(
            offer_id,
            missed=missed,
            skip_seconds=settings.skip_after_miss_seconds if missed else 0,
            away_after=settings.away_after_misses,
        )
        if outcome.call_sid:
            _emit(
                outcome.call_sid,
                "counselor_missed",
                {"counselor_id": outcome.counselor_id, "offer_id": offer_id, "reason": status},
                f"missed|{offer_id}",
            )
            _after_release(outcome)
    elif offer.get("state") == "accepted" and status in LEG_MISSED | {"canceled", "completed"}:
        counselor_id = int(offer["cid"])
        if board.call_ended(counselor_id, settings.wrap_up_seconds):
            duration = request.form.get("CallDuration", "")
            _emit(
                offer["sid"],
                "counselor_call_ended",
                {
                    "counselor_id": counselor_id,
                    "duration": int(duration) if duration.isdigit() else None,
                },
                f"ended|{offer_id}",
            )
            Queue(ROUTING_QUEUE, connection=get_redis(current_app)).enqueue_in(
                dt.timedelta(seconds=settings.wrap_up_seconds),
                "hotline.jobs.end_wrap_up",
                counselor_id,
            )
    return _xml(VoiceResponse())


@bp.post("/counselor/gone")
@_safe
def gone() -> Response:
    offer = get_board(current_app).offer(_offer_id()) if _offer_id() else {}
    languages = _counselor_languages(int(offer["cid"])) if offer.get("cid") else []
    return _gone(languages)


@bp.post("/bridge/caller")
@_safe
def bridge_caller() -> Response:
    """The caller, taken out of the queue by a REST update, joins the counselor's room."""
    offer_id = _offer_id()
    offer = get_board(current_app).offer(offer_id) if offer_id else {}
    call_sid = (request.form.get("CallSid") or "")[:64]
    response = VoiceResponse()
    if not offer or offer.get("sid") != call_sid:
        # Not the reserved caller: never connect a stranger to a counselor.
        flows: FlowSet = current_app.extensions["hotline.flows"]
        flow = flows.for_number(request.form.get("To"))
        return _xml(twiml.render(Engine(flow).safe_answer(None).steps, lambda n: "", lambda m: m))
    _emit(
        call_sid,
        "bridged",
        {"counselor_id": int(offer["cid"]), "offer_id": offer_id},
        f"bridged|{offer_id}",
    )
    return _xml(twiml.join_room(response, f"hotline-{call_sid}"))


def caller_left(app: Flask, call_sid: str) -> None:
    """The caller left the queue or hung up: drop them from the board, and stop a
    counselor's phone that is ringing for them."""
    try:
        outcome = get_board(app).caller_gone(call_sid)
    except REDIS_DOWN:
        log.warning("board unreachable; caller %s will expire from it", call_sid)
        return
    if outcome.result == "cancel" and outcome.leg_sid:
        Queue(ROUTING_QUEUE, connection=get_redis(app)).enqueue(
            "hotline.jobs.cancel_leg", outcome.leg_sid, result_ttl=60, failure_ttl=7 * 24 * 3600
        )
    if outcome.result == "cancel" and outcome.language:
        schedule_match(get_redis(app), outcome.language)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
