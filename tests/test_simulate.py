"""The call simulator against tiny Flask apps that check signatures the way the hotline does."""

from __future__ import annotations

import re
import threading
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask, Request, Response, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse
from werkzeug.serving import make_server

from hotline.simulate import (
    APPLICATION_ERROR,
    CallScript,
    FlaskTransport,
    HttpTransport,
    QueueState,
    SimulationResult,
    Simulator,
    TranscriptLine,
    estimate_say_seconds,
    mask_number,
    render_line,
    simulate_command,
)

TOKEN = "test-auth-token-0123456789abcdef"
BASE = "https://hotline.example.org"
MANDARIN = {"language": "cmn-CN", "voice": "Google.cmn-CN-Wavenet-A"}

Handler = Callable[[Request], VoiceResponse | str | tuple[str, int]]


@dataclass
class Hit:
    path: str
    method: str
    args: dict[str, str]
    form: dict[str, str]

    @property
    def params(self) -> dict[str, str]:
        return {**self.args, **self.form}


@dataclass
class FakeHotline:
    """A Flask app that rejects unsigned requests and answers each path with a handler."""

    routes: dict[str, Handler]
    token: str = TOKEN
    hits: list[Hit] = field(default_factory=list)
    app: Flask = field(init=False)

    def __post_init__(self) -> None:
        self.app = Flask(__name__)
        validator = RequestValidator(self.token)

        def view(**_: str) -> Response | tuple[str, int]:
            signature = request.headers.get("X-Twilio-Signature", "")
            if not validator.validate(request.url, request.form, signature):
                return "bad signature", 403
            self.hits.append(
                Hit(request.path, request.method, dict(request.args), dict(request.form))
            )
            handler = self.routes.get(request.path)
            if handler is None:
                return "not found", 404
            answer = handler(request)
            if isinstance(answer, VoiceResponse):
                return Response(str(answer), mimetype="text/xml")
            if isinstance(answer, tuple):
                return answer
            return Response(answer, mimetype="text/xml")

        self.app.add_url_rule("/<path:anything>", view_func=view, methods=["GET", "POST"])
        if "/voice/status" not in self.routes:
            self.routes["/voice/status"] = lambda _req: ("", 204)

    def hits_to(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]

    def simulator(self, **kwargs: object) -> Simulator:
        options: dict[str, object] = {"public_base": BASE, "auth_token": TOKEN, **kwargs}
        return Simulator(FlaskTransport(self.app), **options)  # type: ignore[arg-type]

    def call(self, script: CallScript | None = None, **kwargs: object) -> SimulationResult:
        return self.simulator(**kwargs).run(script or CallScript())


def twiml(build: Callable[[VoiceResponse], object]) -> Handler:
    def handler(_req: Request) -> VoiceResponse:
        response = VoiceResponse()
        build(response)
        return response

    return handler


def texts(result: SimulationResult, kind: str) -> list[str]:
    return [line.text for line in result.lines if line.kind == kind]


def welcome_menu(response: VoiceResponse) -> None:
    gather = response.gather(action="/voice/menu", num_digits=1, timeout=4)
    gather.say("您好，这里是心理援助热线。", **MANDARIN)
    response.say("我们没有收到您的选择。", **MANDARIN)


# --- Gather ------------------------------------------------------------------------------


def test_gather_digits_post_action_with_standard_params() -> None:
    hotline = FakeHotline(
        {
            "/voice/incoming": twiml(welcome_menu),
            "/voice/menu": twiml(lambda r: (r.say("You chose one."), r.hangup())),
        }
    )
    result = hotline.call(CallScript(keys=["1"]))

    assert result.errors == []
    assert result.ended_by == "hangup"
    assert [h.path for h in hotline.hits] == ["/voice/incoming", "/voice/menu", "/voice/status"]
    first, menu = hotline.hits[0].form, hotline.hits[1].form
    assert re.fullmatch(r"CA[0-9a-f]{32}", first["CallSid"]) and first["CallSid"] == result.call_sid
    assert re.fullmatch(r"AC[0-9a-f]{32}", first["AccountSid"])
    assert first["CallStatus"] == "ringing" and menu["CallStatus"] == "in-progress"
    assert first["From"] == first["Caller"] == "+393331234567"
    assert first["To"] == first["Called"] == "+390212345678"
    assert first["FromCountry"] == first["ToCountry"] == "IT"
    assert first["Direction"] == "inbound" and first["ApiVersion"] == "2010-04-01"
    assert menu["Digits"] == "1" and menu["FinishedOnKey"] == ""
    assert menu["CallSid"] == result.call_sid
    # The words after the Gather are only for callers who did not press anything.
    assert "我们没有收到您的选择。" not in texts(result, "say")
    assert "caller presses 1" in texts(result, "input")


def test_gather_timeout_goes_on_with_next_verb() -> None:
    hotline = FakeHotline({"/voice/incoming": twiml(welcome_menu)})
    result = hotline.call(CallScript(keys=[""]))

    assert result.ended_by == "document-end"
    assert hotline.hits_to("/voice/menu") == []
    assert texts(result, "say")[-1] == "我们没有收到您的选择。"
    assert any(t.startswith("no input (timeout 4 s") for t in texts(result, "input"))


def test_gather_action_on_empty_result_posts_empty_digits() -> None:
    def build(r: VoiceResponse) -> None:
        r.gather(action="/voice/menu", action_on_empty_result=True, timeout=3)
        r.say("never reached")

    hotline = FakeHotline(
        {"/voice/incoming": twiml(build), "/voice/menu": twiml(lambda r: r.hangup())}
    )
    result = hotline.call()  # no keys at all: silence

    assert hotline.hits_to("/voice/menu")[0].form["Digits"] == ""
    assert "never reached" not in texts(result, "say")


def test_gather_num_digits_and_finish_on_key() -> None:
    def build(r: VoiceResponse) -> None:
        r.gather(action="/voice/pin", finish_on_key="#")
        r.gather(action="/voice/two", num_digits=2)

    hotline = FakeHotline(
        {
            "/voice/incoming": twiml(build),
            "/voice/pin": twiml(lambda r: r.gather(action="/voice/two", num_digits=2)),
            "/voice/two": twiml(lambda r: r.hangup()),
        }
    )
    result = hotline.call(CallScript(keys=["123#9", "456"]))

    pin = hotline.hits_to("/voice/pin")[0].form
    assert (pin["Digits"], pin["FinishedOnKey"]) == ("123", "#")
    assert hotline.hits_to("/voice/two")[0].form["Digits"] == "45"
    assert result.ended_by == "hangup"


def test_gather_default_action_is_the_current_document() -> None:
    calls: list[int] = []

    def incoming(_req: Request) -> VoiceResponse:
        calls.append(1)
        r = VoiceResponse()
        if request.form.get("Digits") == "2":
            r.say("thanks")
        else:
            r.gather(num_digits=1)
        return r

    hotline = FakeHotline({"/voice/incoming": incoming})
    result = hotline.call(CallScript(keys=["2"]))

    assert [h.path for h in hotline.hits[:2]] == ["/voice/incoming", "/voice/incoming"]
    assert texts(result, "say") == ["thanks"]


def test_caller_hangs_up_during_menu() -> None:
    hotline = FakeHotline({"/voice/incoming": twiml(welcome_menu)})
    result = hotline.call(CallScript(keys=["hangup"]))

    assert result.ended_by == "caller"
    assert hotline.hits_to("/voice/menu") == []
    assert hotline.hits_to("/voice/status")[0].form["CallStatus"] == "completed"


# --- Redirect and URLs -------------------------------------------------------------------


def test_redirect_resolves_relative_urls_and_signs_query_strings() -> None:
    hotline = FakeHotline(
        {
            "/voice/incoming": twiml(lambda r: r.redirect("flow/step2?lang=zh&note=a%20b+c")),
            "/voice/flow/step2": twiml(
                lambda r: r.gather(action="../done?from=step2", num_digits=1)
            ),
            "/voice/done": twiml(lambda r: r.redirect(f"{BASE}/voice/bye?x=1", method="GET")),
            "/voice/bye": twiml(lambda r: r.say("bye")),
        }
    )
    result = hotline.call(CallScript(keys=["5"]))

    assert result.errors == []
    step2, done, bye = (
        hotline.hits_to(p)[0] for p in ("/voice/flow/step2", "/voice/done", "/voice/bye")
    )
    assert step2.args == {"lang": "zh", "note": "a b c"} and step2.method == "POST"
    assert done.args == {"from": "step2"} and done.form["Digits"] == "5"
    # GET: Twilio moves every parameter into the query string and signs that URL.
    assert bye.method == "GET" and bye.form == {}
    assert bye.args["x"] == "1" and bye.args["CallSid"] == result.call_sid
    assert "→ POST /voice/flow/step2?lang=zh&note=a%20b+c" in result.render()


def test_public_base_with_port_and_plain_http() -> None:
    hotline = FakeHotline({"/voice/incoming": twiml(lambda r: r.say("hi"))})
    result = hotline.call(public_base="http://10.0.0.5:8080/")
    assert result.errors == [] and texts(result, "say") == ["hi"]


# --- Enqueue -----------------------------------------------------------------------------


def queue_app(wait: Handler, *, action: bool = True) -> FakeHotline:
    def incoming(r: VoiceResponse) -> None:
        r.say("请稍候，正在为您转接。", **MANDARIN)
        options = {"action": "/voice/queue-result"} if action else {}
        r.enqueue("hotline-mandarin", wait_url="/voice/wait", **options)
        r.say("after the queue")

    return FakeHotline(
        {
            "/voice/incoming": twiml(incoming),
            "/voice/wait": wait,
            "/voice/queue-result": twiml(lambda r: r.say("queue result handled")),
        }
    )


def test_enqueue_wait_loop_then_leave_posts_action() -> None:
    def wait(req: Request) -> VoiceResponse:
        r = VoiceResponse()
        if int(req.form["QueueTime"]) >= 40:
            r.leave()
        else:
            r.say("您前面还有一位来电者。", **MANDARIN)
            r.pause(length=20)
        return r

    hotline = queue_app(wait)
    result = hotline.call(CallScript(queue_position=2))

    assert result.errors == []
    waits = hotline.hits_to("/voice/wait")
    times = [int(h.form["QueueTime"]) for h in waits]
    assert len(waits) >= 3 and times == sorted(times) and times[0] == 0
    first = waits[0].form
    assert re.fullmatch(r"QU[0-9a-f]{32}", first["QueueSid"])
    assert first["QueuePosition"] == "2" and first["CurrentQueueSize"] == "2"
    assert first["AvgQueueTime"] == first["QueueTime"]
    left = hotline.hits_to("/voice/queue-result")[0].form
    assert left["QueueResult"] == "leave" and left["QueueSid"] == first["QueueSid"]
    assert int(left["QueueTime"]) >= 40
    # With an action, its TwiML replaces the rest of the original document.
    assert texts(result, "say")[-1] == "queue result handled"
    assert "after the queue" not in texts(result, "say")
    assert "waiting in queue hotline-mandarin (position 2)" in texts(result, "queue")


def test_leave_without_action_goes_on_after_enqueue() -> None:
    hotline = queue_app(twiml(lambda r: r.leave()), action=False)
    result = hotline.call()
    assert texts(result, "say")[-1] == "after the queue"
    assert result.ended_by == "document-end"


def test_caller_hangs_up_after_waiting() -> None:
    hold = twiml(lambda r: (r.play("/media/hold/hold-music.wav"), r.pause(length=5)))
    hotline = queue_app(hold)
    result = hotline.call(CallScript(hangup_after_wait=90))

    assert result.ended_by == "caller"
    hung = hotline.hits_to("/voice/queue-result")[0].form
    assert hung["QueueResult"] == "hangup" and hung["QueueTime"] == "90"
    assert hung["CallStatus"] == "completed"
    # Twilio ignores TwiML after the caller has gone.
    assert "queue result handled" not in texts(result, "say")
    status = hotline.hits_to("/voice/status")[0].form
    queue_start = next(line.t for line in result.lines if line.kind == "queue")
    assert int(status["CallDuration"]) == round(queue_start + 90)


def test_bridged_after_wait_posts_bridged_when_talk_ends() -> None:
    hotline = queue_app(twiml(lambda r: r.play("https://cdn.example.net/music.mp3")))
    script = CallScript(bridge_after=45, talk_seconds=600)
    result = hotline.call(script)

    bridged = hotline.hits_to("/voice/queue-result")[0].form
    assert bridged["QueueResult"] == "bridged" and bridged["QueueTime"] == "45"
    assert texts(result, "say")[-1] == "queue result handled"
    status = hotline.hits_to("/voice/status")[0].form
    assert int(status["CallDuration"]) >= 645
    assert result.ended_by == "document-end"


def test_on_queue_wait_callback_decides() -> None:
    seen: list[QueueState] = []

    def counselor(state: QueueState) -> str | None:
        seen.append(state)
        return "bridged" if state.cycle == 3 else None

    hotline = queue_app(twiml(lambda r: r.pause(length=10)))
    hotline.call(CallScript(on_queue_wait=counselor, talk_seconds=60))

    assert [s.cycle for s in seen] == [1, 2, 3]
    assert [s.queue_time for s in seen] == [0, 10, 20]
    assert seen[0].queue_name == "hotline-mandarin"
    assert hotline.hits_to("/voice/queue-result")[0].form["QueueResult"] == "bridged"
    assert len(hotline.hits_to("/voice/wait")) == 2


def test_gather_in_wait_url_keeps_caller_in_queue_until_leave() -> None:
    def wait(_req: Request) -> VoiceResponse:
        r = VoiceResponse()
        gather = r.gather(action="/voice/wait-menu", num_digits=1, timeout=2)
        gather.say("按1留言。", **MANDARIN)
        r.pause(length=10)
        return r

    def wait_menu(req: Request) -> VoiceResponse:
        r = VoiceResponse()
        if req.form.get("Digits") == "1":
            r.leave()
        else:
            r.say("请继续等候。", **MANDARIN)
        return r

    hotline = queue_app(wait)
    hotline.routes["/voice/wait-menu"] = wait_menu
    result = hotline.call(CallScript(keys=["", "7", "1"]))

    paths = [h.path for h in hotline.hits]
    assert paths[:6] == [
        "/voice/incoming",
        "/voice/wait",  # silence: Pause, then waitUrl again
        "/voice/wait",
        "/voice/wait-menu",  # 7: still waiting
        "/voice/wait",
        "/voice/wait-menu",  # 1: <Leave/>
    ]
    menu = hotline.hits_to("/voice/wait-menu")[0].form
    assert menu["Digits"] == "7" and "QueueSid" in menu
    assert hotline.hits_to("/voice/queue-result")[0].form["QueueResult"] == "leave"
    assert result.errors == []


def test_hangup_in_wait_url_reports_hangup_result() -> None:
    hotline = queue_app(twiml(lambda r: r.hangup()))
    result = hotline.call()
    assert result.ended_by == "hangup"
    assert hotline.hits_to("/voice/queue-result")[0].form["QueueResult"] == "hangup"


def test_verbs_not_allowed_in_wait_url_are_reported() -> None:
    hotline = queue_app(twiml(lambda r: (r.record(), r.leave())))
    result = hotline.call()
    assert any("<Record> is not allowed in waitUrl" in e for e in result.errors)


# --- Record, Dial, Hangup, Reject ----------------------------------------------------------


def test_record_posts_action_and_recording_status_callback() -> None:
    def build(r: VoiceResponse) -> None:
        r.say("请在提示音后留言。", **MANDARIN)
        r.record(
            action="/voice/recorded",
            max_length=120,
            recording_status_callback="/voice/recording-status",
        )

    hotline = FakeHotline(
        {
            "/voice/incoming": twiml(build),
            "/voice/recorded": twiml(lambda r: r.say("谢谢。", **MANDARIN)),
            "/voice/recording-status": lambda _req: ("", 204),
        }
    )
    result = hotline.call(CallScript(recording_seconds=35))

    assert result.errors == []
    action = hotline.hits_to("/voice/recorded")[0].form
    assert re.fullmatch(r"RE[0-9a-f]{32}", action["RecordingSid"])
    assert action["RecordingUrl"] == (
        f"https://api.twilio.com/2010-04-01/Accounts/{'AC' + '0' * 32}"
        f"/Recordings/{action['RecordingSid']}"
    )
    assert action["RecordingDuration"] == "35" and action["Digits"] == "#"
    callback = hotline.hits_to("/voice/recording-status")[0].form
    assert callback["RecordingStatus"] == "completed"
    assert callback["RecordingSid"] == action["RecordingSid"]
    assert callback["RecordingUrl"] == action["RecordingUrl"]
    assert callback["RecordingDuration"] == "35" and callback["CallSid"] == result.call_sid
    assert [h.path for h in hotline.hits] == [
        "/voice/incoming",
        "/voice/recorded",
        "/voice/recording-status",
        "/voice/status",
    ]


def test_record_then_caller_hangs_up() -> None:
    hotline = FakeHotline(
        {
            "/voice/incoming": twiml(lambda r: r.record(action="/voice/recorded")),
            "/voice/recorded": twiml(lambda r: r.say("never heard")),
        }
    )
    result = hotline.call(CallScript(hangup_after_recording=True))
    assert hotline.hits_to("/voice/recorded")[0].form["Digits"] == "hangup"
    assert result.ended_by == "caller" and "never heard" not in texts(result, "say")


def test_dial_masks_number_and_posts_dial_status() -> None:
    hotline = FakeHotline(
        {
            "/voice/incoming": twiml(lambda r: r.dial("+390212344567", action="/voice/dialled")),
            "/voice/dialled": twiml(lambda r: r.hangup()),
        }
    )
    result = hotline.call(CallScript(talk_seconds=75))

    assert "dialling +39 ••• 4567" in texts(result, "dial")
    assert "2344567" not in result.render()
    dialled = hotline.hits_to("/voice/dialled")[0].form
    assert dialled["DialCallStatus"] == "completed" and dialled["DialCallDuration"] == "75"
    assert mask_number("not a number 1234") == "••• 1234"


def test_hangup_stops_the_document() -> None:
    hotline = FakeHotline(
        {"/voice/incoming": twiml(lambda r: (r.say("goodbye"), r.hangup(), r.say("unreachable")))}
    )
    result = hotline.call()
    assert result.ended_by == "hangup"
    assert texts(result, "say") == ["goodbye"]


def test_reject_first_verb_is_not_answered() -> None:
    hotline = FakeHotline({"/voice/incoming": twiml(lambda r: r.reject(reason="busy"))})
    result = hotline.call()
    status = hotline.hits_to("/voice/status")[0].form
    assert (status["CallStatus"], status["CallDuration"]) == ("busy", "0")
    assert result.ended_by == "hangup"


# --- Errors and limits ---------------------------------------------------------------------


def test_wrong_token_gives_403_error() -> None:
    hotline = FakeHotline({"/voice/incoming": twiml(lambda r: r.say("hi"))})
    result = hotline.call(auth_token="not-the-token")

    assert result.ended_by == "error"
    assert result.errors == [
        "HTTP 403 from POST /voice/incoming",
        "HTTP 403 from POST /voice/status",
    ]
    assert APPLICATION_ERROR in texts(result, "error")[0]
    assert [status for _, _, status in result.requests] == [403, 403]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (("boom", 500), "HTTP 500 from POST /voice/next"),
        ("<Response><Say>unclosed</Response>", "TwiML from POST /voice/next does not parse"),
        ("<html><body>Hello</body></html>", "TwiML from POST /voice/next does not parse"),
        ("", "TwiML from POST /voice/next does not parse"),
    ],
)
def test_bad_answers_end_the_call_with_an_error(
    answer: str | tuple[str, int], expected: str
) -> None:
    hotline = FakeHotline(
        {
            "/voice/incoming": twiml(lambda r: r.redirect("/voice/next")),
            "/voice/next": lambda _r: answer,
        }
    )
    result = hotline.call()

    assert result.ended_by == "error"
    assert result.errors and result.errors[0].startswith(expected)
    # Twilio still reports the end of the call.
    assert hotline.hits_to("/voice/status")[0].form["CallStatus"] == "completed"


def test_app_exception_is_reported() -> None:
    def broken(_req: Request) -> str:
        raise RuntimeError("database is down")

    hotline = FakeHotline({"/voice/incoming": broken})
    hotline.app.config["PROPAGATE_EXCEPTIONS"] = False
    result = hotline.call()
    assert result.ended_by == "error" and result.errors[0] == "HTTP 500 from POST /voice/incoming"


def test_infinite_redirect_loop_is_capped() -> None:
    hotline = FakeHotline({"/voice/incoming": twiml(lambda r: r.redirect("/voice/incoming"))})
    result = hotline.call(max_requests=25)

    assert result.ended_by == "limit"
    assert len(hotline.hits_to("/voice/incoming")) == 25
    assert "request limit reached" in result.errors[0]
    assert hotline.hits_to("/voice/status")  # still sent


def test_endless_waiting_is_capped_by_simulated_time() -> None:
    hotline = queue_app(twiml(lambda r: r.pause(length=60)))
    result = hotline.call(max_seconds=600)
    assert result.ended_by == "limit"
    assert "simulated time limit" in result.errors[0]
    assert result.lines[-1].t <= 600


# --- Clock, transcript, status callback ----------------------------------------------------


def test_status_callback_reports_duration_and_can_be_disabled() -> None:
    def build(r: VoiceResponse) -> None:
        r.say("x" * 120)  # 10 s of speech
        r.pause(length=7)
        r.play("/media/unknown.mp3", loop=2)  # unmeasurable: 30 s each

    hotline = FakeHotline({"/voice/incoming": twiml(build)})
    result = hotline.call()
    status = hotline.hits_to("/voice/status")[0].form
    assert status["CallStatus"] == "completed"
    assert status["CallDuration"] == "77"
    assert status["Timestamp"].endswith("+0000") and status["SequenceNumber"] == "0"
    assert texts(result, "status") == ["status callback: completed, CallDuration 77 s"]

    quiet = FakeHotline({"/voice/incoming": twiml(build)})
    quiet.call(status_path=None)
    assert quiet.hits_to("/voice/status") == []


def test_play_measures_wav_files_under_media_root(tmp_path: Path) -> None:
    hold = tmp_path / "hold"
    hold.mkdir()
    with wave.open(str(hold / "hold-music.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(1000)
        wav.writeframes(b"\x80" * 40_000)

    hotline = FakeHotline(
        {"/voice/incoming": twiml(lambda r: (r.play("/media/hold/hold-music.wav"), r.say("x")))}
    )
    result = hotline.call(media_root=tmp_path)
    assert "/media/hold/hold-music.wav (40 s)" in texts(result, "play")
    assert next(line.t for line in result.lines if line.kind == "say") == 40


def test_say_duration_estimates() -> None:
    assert estimate_say_seconds("Hello") == 1
    assert estimate_say_seconds("a" * 36) == 3
    assert estimate_say_seconds("您好，这里是心理援助热线。") == 4  # 13 wide characters
    assert estimate_say_seconds("") == 1


def test_transcript_renders_language_voice_and_times() -> None:
    def menu(r: VoiceResponse) -> None:
        r.say("Goodbye.", voice="Polly.Amy-Neural", language="en-GB", loop=2)

    hotline = FakeHotline({"/voice/incoming": twiml(welcome_menu), "/voice/menu": twiml(menu)})
    printed: list[TranscriptLine] = []
    result = hotline.call(CallScript(keys=["1"]), out=printed.append)

    assert printed == result.lines
    text = result.render()
    assert "[00:00] → POST /voice/incoming" in text
    assert "[00:00] 🔊 cmn-CN · Google.cmn-CN-Wavenet-A: 您好，这里是心理援助热线。" in text
    assert "[00:04] ⌨  caller presses 1" in text
    assert "🔊 en-GB · Polly.Amy-Neural: Goodbye.  (×2)" in text
    assert render_line(TranscriptLine(t=3725, kind="hangup", text="caller hangs up")) == (
        "[1:02:05] ✆  caller hangs up"
    )


# --- Real HTTP and the command line --------------------------------------------------------


@pytest.fixture
def live_server() -> Iterator[tuple[str, FakeHotline]]:
    def incoming(r: VoiceResponse) -> None:
        gather: Gather = r.gather(action="/voice/menu?step=1", num_digits=1, timeout=3)
        gather.say("您好，这里是心理援助热线。", **MANDARIN)

    hotline = FakeHotline(
        {
            "/voice/incoming": twiml(incoming),
            "/voice/menu": twiml(lambda r: r.say("Press received.", language="en-GB")),
        }
    )
    server = make_server("127.0.0.1", 0, hotline.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", hotline
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_http_transport_against_a_real_server(live_server: tuple[str, FakeHotline]) -> None:
    url, hotline = live_server
    simulator = Simulator(HttpTransport(timeout=5), public_base=url, auth_token=TOKEN)
    result = simulator.run(CallScript(keys=["3"]))

    assert result.errors == []
    assert [status for _, _, status in result.requests] == [200, 200, 204]
    menu = hotline.hits_to("/voice/menu")[0]
    assert menu.args == {"step": "1"} and menu.form["Digits"] == "3"
    assert "您好，这里是心理援助热线。" in texts(result, "say")


def test_http_transport_reports_unreachable_server() -> None:
    simulator = Simulator(
        HttpTransport(timeout=1), public_base="http://127.0.0.1:9", auth_token=TOKEN
    )
    result = simulator.run(CallScript())
    assert result.ended_by == "error"
    assert "POST /voice/incoming failed" in result.errors[0]


def test_cli_against_a_live_server(live_server: tuple[str, FakeHotline]) -> None:
    url, hotline = live_server
    runner = CliRunner()
    env = {"TWILIO_AUTH_TOKEN": TOKEN, "HOTLINE_PUBLIC_URL": url}

    ok = runner.invoke(
        simulate_command, ["--url", url, "--keys", "2", "--to", "+8613800138000"], env=env
    )
    assert ok.exit_code == 0, ok.output
    assert "→ POST /voice/incoming" in ok.output
    assert "⌨  caller presses 2" in ok.output
    assert "ended by document-end" in ok.output
    assert hotline.hits_to("/voice/incoming")[0].form["ToCountry"] == "CN"

    bad = runner.invoke(simulate_command, ["--url", url], env={**env, "TWILIO_AUTH_TOKEN": "wrong"})
    assert bad.exit_code == 1
    assert "HTTP 403" in bad.output


def test_cli_interactive_reads_keys_from_stdin(live_server: tuple[str, FakeHotline]) -> None:
    url, hotline = live_server
    result = CliRunner().invoke(
        simulate_command,
        ["--url", url, "--interactive"],
        input="4\n",
        env={"TWILIO_AUTH_TOKEN": TOKEN, "HOTLINE_PUBLIC_URL": url},
    )
    assert result.exit_code == 0, result.output
    assert "keys for this menu (1 digit, end with #" in result.output
    assert hotline.hits_to("/voice/menu")[0].form["Digits"] == "4"


def test_cli_signs_public_url_and_connects_to_local_server(
    live_server: tuple[str, FakeHotline],
) -> None:
    # Behind a tunnel the app sees its public URL (here via X-Forwarded-*); simulate that.
    from werkzeug.middleware.proxy_fix import ProxyFix

    url, hotline = live_server
    hotline.app.wsgi_app = ProxyFix(hotline.app.wsgi_app, x_proto=1, x_host=1)  # type: ignore[method-assign]
    result = CliRunner().invoke(
        simulate_command,
        ["--url", url, "--keys", "1"],
        env={"TWILIO_AUTH_TOKEN": TOKEN, "HOTLINE_PUBLIC_URL": "https://public.example.org"},
    )
    assert result.exit_code == 0, result.output
    assert hotline.hits_to("/voice/menu")[0].form["Digits"] == "1"
