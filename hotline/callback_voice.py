"""The caller's leg of a callback: who answered, the intro, the room; and its status.

The parameters travel in the URLs the dial job gave Twilio, which Twilio signs, so they
cannot be forged. Database work (attempts, retries) is left to a job.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Flask, Response, current_app, request
from rq import Queue
from twilio.twiml.voice_response import VoiceResponse

from .callbacks import runner
from .db import utcnow
from .events import make_event
from .flows import Engine, FlowSet
from .queues import ROUTING_QUEUE, get_events, get_redis
from .routing import get_board
from .telephony import twiml
from .voice import check_signature

log = logging.getLogger(__name__)

bp = Blueprint("callback_voice", __name__, url_prefix="/voice/callback")
bp.before_request(check_signature)

_OFFER = re.compile(r"^[0-9a-f]{8,40}$")
_SID = re.compile(r"^[A-Za-z0-9]{1,64}$")


def _xml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def _params() -> tuple[str, str, str] | None:
    """(entry, offer id, the original call's sid), or None for a malformed URL."""
    c, a, o, s = (request.args.get(k, "") for k in ("c", "a", "o", "s"))
    if not (c.isdigit() and a.isdigit() and _OFFER.match(o) and _SID.match(s)):
        return None
    return runner.entry_id(int(c), int(a)), o, s


def _hang_up() -> Response:
    response = VoiceResponse()
    response.hangup()
    return _xml(response)


@bp.post("/connect")
def connect() -> Response:
    try:
        return _connect()
    except Exception:
        # The caller hears a hang-up, never an application error; the status callback
        # then counts the attempt as not answered and it is retried.
        log.exception("callback connect failed")
        return _hang_up()


def _connect() -> Response:
    params = _params()
    if params is None:
        return _hang_up()
    entry, offer_id, original = params
    connection = get_redis(current_app)
    answered_key = runner.ANSWERED_BY.format(call_sid=(request.form.get("CallSid") or "")[:64])
    answered_by = request.form.get("AnsweredBy", "")
    board = get_board(current_app)
    offer = board.offer(offer_id)
    counselor = board.counselor(int(offer["cid"])) if offer.get("cid") else {}
    if answered_by.startswith("machine") or answered_by == "fax":
        # Never a message on a machine: whoever listens to it may not be the caller.
        connection.set(answered_key, "machine", ex=runner.MARK_TTL)
        return _hang_up()
    if counselor.get("state") != "busy" or counselor.get("call") != entry:
        # The counselor left before the caller answered: no empty room for the caller.
        connection.set(answered_key, "counselor_gone", ex=runner.MARK_TTL)
        return _hang_up()
    connection.set(answered_key, "human", ex=runner.MARK_TTL)
    event = make_event(
        original,
        "callback_bridged",
        {"callback": entry, "counselor_id": int(offer["cid"]), "offer_id": offer_id},
        utcnow(),
        discriminator=f"callback-bridged|{entry}",
    )
    get_events(current_app).emit([event])
    flows: FlowSet = current_app.extensions["hotline.flows"]
    engine = Engine(flows.get(request.args.get("f")) or flows.for_number(request.form.get("From")))
    steps = engine.callback_intro(request.args.get("l", ""), request.args.get("n") == "1")
    response = twiml.render(steps, lambda n: "", lambda m: m)
    return _xml(twiml.join_room(response, f"hotline-{entry}"))


@bp.post("/status")
def status() -> Response:
    params = _params()
    call_status = (request.form.get("CallStatus") or "").strip()
    call_sid = (request.form.get("CallSid") or "")[:64]
    if params is None or call_status not in runner.FINAL or not call_sid:
        return _xml(VoiceResponse())
    entry, offer_id, _ = params
    connection = get_redis(current_app)
    if not runner.first_report(connection, call_sid, call_status):
        return _xml(VoiceResponse())
    raw = connection.get(runner.ANSWERED_BY.format(call_sid=call_sid))
    seen = raw.decode() if isinstance(raw, bytes) else (raw or "")
    answered = call_status == "completed" and seen == "human"
    outcome = "answered" if answered else (seen or call_status)
    if outcome == "completed":
        outcome = "hung_up"  # answered but never reached the intro (e.g. hung up at once)
    Queue(ROUTING_QUEUE, connection=connection).enqueue(
        "hotline.jobs.finish_callback",
        entry,
        offer_id,
        outcome,
        answered,
        result_ttl=60,
        failure_ttl=7 * 24 * 3600,
    )
    return _xml(VoiceResponse())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
