"""Play Twilio's part in a phone call against the hotline's own webhooks.

Developers and tests place a simulated call without Twilio: the simulator sends correctly
signed requests shaped exactly like Twilio's, follows the TwiML that comes back the way Twilio
does and writes a transcript of what the caller hears. Time is simulated (nothing sleeps unless
``realtime=True``), so a ten-minute wait in the queue takes milliseconds.

Behaviour that Twilio leaves open, and the choices made here:

* ``<Gather>`` inside waitUrl TwiML: the caller stays in the queue. The Gather's action is
  requested and the TwiML it returns becomes the next wait document (so a ``<Leave/>`` there
  takes the caller out of the queue, and anything else keeps them waiting). This is how
  Twilio's own in-queue menus are built (e.g. the Flex "press 1 to stay in the queue" menus,
  which answer a digit with a Redirect back to the wait document); Enqueue's action is *not*
  requested at that point.
* Every request made while the caller is in a queue (waitUrl, and Redirect or Gather actions
  from wait documents) carries QueuePosition, QueueSid, QueueTime, AvgQueueTime and
  CurrentQueueSize, so the app always knows the wait so far.
* When a wait document ends, waitUrl itself is requested again (not the last Redirect target).
* "Bridged" models the counselor answering: the two talk for ``talk_seconds``, the counselor
  hangs up, and Enqueue's action is requested with QueueResult=bridged (Twilio requests it
  when the bridged call ends); the caller is still on the line, so its TwiML is followed.
* ``loop="0"`` (repeat for ever) on Say/Play is counted once, and the transcript says so,
  because "for ever" has no duration to put on a clock.
* A response other than 200 to a request whose TwiML Twilio follows ends the call with an
  error (Twilio would play "an application error has occurred"). For requests whose answer
  Twilio ignores (status callbacks, recordingStatusCallback, Enqueue's action after the caller
  hung up) any 2xx is fine; anything else is reported but does not change how the call ended.
* HTTP redirects (3xx) are not followed: they are reported, because the signature covers the
  original URL and a redirect usually means the configured public URL is wrong.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import math
import os
import secrets
import sys
import time
import unicodedata
import urllib.error
import urllib.request
import wave
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, runtime_checkable
from urllib.parse import unquote, urlencode, urljoin, urlsplit

import click
import phonenumbers
from twilio.request_validator import RequestValidator

if TYPE_CHECKING:
    from flask import Flask

__all__ = [
    "APPLICATION_ERROR",
    "CallScript",
    "FlaskTransport",
    "HttpTransport",
    "QueueState",
    "SimulationResult",
    "Simulator",
    "SupportsGet",
    "TranscriptLine",
    "Transport",
    "estimate_say_seconds",
    "mask_number",
    "render_line",
    "simulate_command",
]

APPLICATION_ERROR = "We're sorry, an application error has occurred. Goodbye."
DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
API_VERSION = "2010-04-01"
# Twilio identifies itself like this; some apps log or filter on it.
USER_AGENT = "TwilioProxy/1.1"
# What a Play lasts when the file cannot be measured: long enough to notice in a transcript.
UNKNOWN_MEDIA_SECONDS = 30.0
DEFAULT_HOLD_MUSIC_SECONDS = 30.0
GATHER_DEFAULT_TIMEOUT = 5
RECORD_DEFAULT_FINISH_KEYS = "1234567890*#"
DIAL_DEFAULT_TIMEOUT = 30
DIAL_DEFAULT_TIME_LIMIT = 14400
# Verbs Twilio runs in waitUrl documents; anything else there is an application bug.
_WAIT_VERBS = frozenset({"Say", "Play", "Pause", "Redirect", "Leave", "Hangup", "Gather"})
_GATHER_NESTED = frozenset({"Say", "Play", "Pause"})
_DTMF = frozenset("0123456789*#")
# Config keys that may hold the hotline's own number (the app's settings may name it either way).
_HOTLINE_NUMBER_KEYS = ("HOTLINE_PHONE_NUMBER", "HOTLINE_NUMBER", "TWILIO_PHONE_NUMBER")


# --------------------------------------------------------------------------------------------
# Transports


class Transport(Protocol):
    def post(
        self, url: str, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, str]: ...


@runtime_checkable
class SupportsGet(Protocol):
    """Optional extra of a transport: TwiML may ask for GET (method="GET" on an action)."""

    def get(self, url: str, headers: dict[str, str]) -> tuple[int, str]: ...


class FlaskTransport:
    """Calls a Flask app in-process through its test client.

    The URL is split so that ``request.url`` inside the app is exactly the URL that was signed
    (scheme, host and port included), as it would be behind the app's public URL.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._client = app.test_client()

    @staticmethod
    def _split(url: str) -> tuple[str, str, str]:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}", parts.path or "/", parts.query

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        base, path, query = self._split(url)
        resp = self._client.post(
            path, base_url=base, query_string=query, data=params, headers=headers
        )
        return resp.status_code, resp.get_data(as_text=True)

    def get(self, url: str, headers: dict[str, str]) -> tuple[int, str]:
        base, path, query = self._split(url)
        resp = self._client.get(path, base_url=base, query_string=query, headers=headers)
        return resp.status_code, resp.get_data(as_text=True)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Returning None makes urllib raise HTTPError for the 3xx, which is then reported.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class HttpTransport:
    """Real HTTP with urllib.

    ``connect_to`` (e.g. ``http://127.0.0.1:5000``) sends requests to a local server while
    signing the public URL the app believes it has (HOTLINE_PUBLIC_URL); the public scheme and
    host go along as X-Forwarded-Proto/-Host, as a tunnel or reverse proxy would send them.
    """

    def __init__(self, timeout: float = 10.0, connect_to: str | None = None) -> None:
        self.timeout = timeout
        self.connect_to = connect_to.rstrip("/") if connect_to else None

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        data = urlencode(params).encode("utf-8")
        all_headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        return self._send("POST", url, data, all_headers)

    def get(self, url: str, headers: dict[str, str]) -> tuple[int, str]:
        return self._send("GET", url, None, dict(headers))

    def _send(
        self, method: str, url: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[int, str]:
        target = url
        if self.connect_to:
            parts = urlsplit(url)
            target = (
                self.connect_to + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            )
            headers.setdefault("X-Forwarded-Proto", parts.scheme)
            headers.setdefault("X-Forwarded-Host", parts.netloc)
        req = urllib.request.Request(target, data=data, headers=headers, method=method)
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if _is_loopback(urlsplit(target).hostname or ""):
            # A developer's http_proxy must not swallow requests to their own machine.
            handlers.append(urllib.request.ProxyHandler({}))
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(req, timeout=self.timeout) as resp:
                charset = resp.headers.get_content_charset() or "utf-8"
                return resp.status, resp.read().decode(charset, errors="replace")
        except urllib.error.HTTPError as exc:
            charset = exc.headers.get_content_charset() if exc.headers else None
            body = exc.read().decode(charset or "utf-8", errors="replace")
            location = exc.headers.get("Location") if exc.headers else None
            if 300 <= exc.code < 400 and location:
                body = f"redirect to {location} (not followed) {body}".strip()
            return exc.code, body


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------
# Scripts, transcripts, results


@dataclass
class QueueState:
    """What ``CallScript.on_queue_wait`` sees at the start of each wait cycle."""

    call_sid: str
    queue_name: str
    queue_sid: str
    queue_time: float  # simulated seconds in the queue so far
    position: int
    size: int
    cycle: int  # 1 for the first waitUrl request, then 2, 3, ...


@dataclass
class CallScript:
    from_number: str = "+393331234567"
    to_number: str = "+390212345678"
    # Each entry answers the next Gather: digits (finishOnKey included if pressed, e.g. "12#"),
    # "" for no input, "speech:some words" for a spoken answer, "hangup" to hang up there.
    keys: list[str] = field(default_factory=list)
    hangup_after_wait: float | None = None
    bridge_after: float | None = None
    talk_seconds: float = 300.0
    recording_seconds: float = 20.0
    queue_position: int = 1
    interactive: bool = False
    # Beyond the basics: what the other side of a <Dial> does, queue size, hanging up after
    # leaving a message (what most callers do instead of pressing a key), and a hook for a
    # counselor-side simulator: return "bridged" or "hangup" to decide a wait cycle.
    dial_status: str = "completed"
    queue_size: int | None = None
    hangup_after_recording: bool = False
    on_queue_wait: Callable[[QueueState], str | None] | None = None


@dataclass
class TranscriptLine:
    t: float
    kind: str
    text: str
    language: str | None = None
    voice: str | None = None


_SYMBOLS = {
    "say": "🔊 ",
    "play": "♪  ",
    "pause": "⏸  ",
    "input": "⌨  ",
    "request": "→ ",
    "queue": "☎  ",
    "dial": "☏  ",
    "record": "●  ",
    "hangup": "✆  ",
    "error": "⚠  ",
    "status": "ℹ  ",
}


def _clock_text(t: float) -> str:
    total = int(t)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def _duration_text(seconds: float) -> str:
    whole = math.ceil(seconds) if seconds % 1 else int(seconds)
    return f"{whole} s" if whole < 60 else _clock_text(whole)


def render_line(line: TranscriptLine) -> str:
    """One transcript line as a person reads it, e.g. ``[00:09] ⌨  caller presses 1``."""
    text = line.text
    if line.kind == "say":
        meta = " · ".join(part for part in (line.language, line.voice) if part)
        if meta:
            text = f"{meta}: {text}"
    return f"[{_clock_text(line.t)}] {_SYMBOLS.get(line.kind, '   ')}{text}"


@dataclass
class SimulationResult:
    call_sid: str
    lines: list[TranscriptLine]
    ended_by: str
    requests: list[tuple[str, dict[str, str], int]]
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors

    def render(self) -> str:
        return "\n".join(render_line(line) for line in self.lines)


# --------------------------------------------------------------------------------------------
# Helpers


def estimate_say_seconds(text: str) -> float:
    """How long text-to-speech takes: about 12 Latin characters or 4 CJK characters a second.

    An estimate good enough for queue times and call durations; at least one second.
    """
    wide = sum(1 for ch in text if unicodedata.east_asian_width(ch) in ("W", "F"))
    narrow = len(text) - wide
    return float(max(1, math.ceil(wide / 4 + narrow / 12)))


def _country(number: str) -> str:
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return ""
    return region if region and region not in ("ZZ", "001") else ""


def mask_number(number: str) -> str:
    """``+390212344567`` → ``+39 ••• 4567``: enough to check a route, not to identify anyone."""
    digits = "".join(ch for ch in number if ch.isdigit())
    tail = digits[-4:]
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return f"••• {tail}" if tail else "•••"
    return f"+{parsed.country_code} ••• {tail}"


def _new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _int_attr(el: ET.Element, name: str, default: int) -> int:
    raw = (el.get(name) or "").strip()
    try:
        return int(float(raw)) if raw else default
    except ValueError:
        return default


def _bool_attr(el: ET.Element, name: str, default: bool) -> bool:
    raw = (el.get(name) or "").strip().lower()
    return default if not raw else raw == "true"


def _text(el: ET.Element) -> str:
    # itertext keeps the words inside SSML tags (<prosody>, <say-as>, ...) in a Say.
    return " ".join("".join(el.itertext()).split())


def _parse_twiml(body: str) -> ET.Element:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        # Twilio's helper writes <amazon:effect> in Say without declaring the prefix.
        if "unbound prefix" in str(exc) and "<Response" in body:
            fixed = body.replace("<Response", '<Response xmlns:amazon="urn:amazon"', 1)
            root = ET.fromstring(fixed)
        else:
            raise
    if root.tag != "Response":
        raise ET.ParseError(f"root element is <{root.tag}>, not <Response>")
    return root


# --------------------------------------------------------------------------------------------
# The simulator


@dataclass(frozen=True)
class _Next:
    """A request whose TwiML the call follows next."""

    url: str
    method: str = "POST"
    params: dict[str, str] = field(default_factory=dict)
    # Runs once the request is answered: e.g. recordingStatusCallback comes after the action.
    then: Callable[[], None] | None = None


class _LeaveQueue:
    """Marker: a <Leave/> ended the wait."""


_LEAVE = _LeaveQueue()
_Outcome = _Next | _LeaveQueue | None


class _End(Exception):
    """Ends the call; raised from anywhere so no verb handler has to pass it back."""

    def __init__(self, ended_by: str, call_status: str = "completed") -> None:
        super().__init__(ended_by)
        self.ended_by = ended_by
        self.call_status = call_status


class _QueueEvent(Exception):
    """The caller is bridged or hangs up while waiting: unwinds to the <Enqueue>."""

    def __init__(self, result: str) -> None:
        super().__init__(result)
        self.result = result


@dataclass
class _Queue:
    name: str
    sid: str
    start: float
    position: int
    size: int
    deadline: float | None  # queue time at which deadline_result happens
    deadline_result: str


class Simulator:
    def __init__(
        self,
        transport: Transport,
        public_base: str,
        auth_token: str,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        media_root: Path | None = None,
        incoming_path: str = "/voice/incoming",
        status_path: str | None = "/voice/status",
        max_requests: int = 200,
        max_seconds: float = 7200,
        realtime: bool = False,
        out: Callable[[TranscriptLine], None] | None = None,
    ) -> None:
        self.transport = transport
        self.public_base = public_base.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.account_sid = account_sid
        self.media_root = Path(media_root) if media_root is not None else None
        self.incoming_path = incoming_path
        self.status_path = status_path
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.realtime = realtime
        self.out = out

    def run(self, script: CallScript, call_sid: str | None = None) -> SimulationResult:
        return _Call(self, script, call_sid or _new_sid("CA")).run()


class _Call:
    """The state of one simulated call."""

    def __init__(self, sim: Simulator, script: CallScript, call_sid: str) -> None:
        self.sim = sim
        self.script = script
        self.sid = call_sid
        self.clock = 0.0
        self.lines: list[TranscriptLine] = []
        self.requests: list[tuple[str, dict[str, str], int]] = []
        self.errors: list[str] = []
        self.keys: deque[str] = deque(script.keys)
        self.status = "ringing"
        self.answered = False
        self.queue: _Queue | None = None
        self.started_at = datetime.now(UTC)
        origin = urlsplit(sim.public_base)
        self.origin = f"{origin.scheme}://{origin.netloc}"

    # -- running ------------------------------------------------------------------------

    def run(self) -> SimulationResult:
        final_status = "completed"
        try:
            nxt: _Next | None = _Next(self.sim.public_base + self.sim.incoming_path)
            while nxt is not None:
                doc_url, root = self._fetch_twiml(nxt)
                outcome = self._execute(root, doc_url)
                nxt = outcome if isinstance(outcome, _Next) else None
            ended_by = "document-end"
            self._emit("hangup", "end of TwiML: Twilio hangs up")
        except _End as end:
            ended_by = end.ended_by
            final_status = end.call_status
        self.status = final_status
        self._send_status_callback(final_status)
        return SimulationResult(
            call_sid=self.sid,
            lines=self.lines,
            ended_by=ended_by,
            requests=self.requests,
            errors=self.errors,
        )

    def _emit(
        self, kind: str, text: str, language: str | None = None, voice: str | None = None
    ) -> None:
        line = TranscriptLine(t=self.clock, kind=kind, text=text, language=language, voice=voice)
        self.lines.append(line)
        if self.sim.out is not None:
            self.sim.out(line)

    def _advance(self, seconds: float) -> None:
        """Move the simulated clock, stopping early when something happens in the queue."""
        if seconds <= 0:
            return
        q = self.queue
        if q is not None and q.deadline is not None:
            remaining = q.deadline - (self.clock - q.start)
            if seconds >= remaining:
                self._tick(max(remaining, 0.0))
                raise _QueueEvent(q.deadline_result)
        self._tick(seconds)

    def _tick(self, seconds: float) -> None:
        if self.clock + seconds > self.sim.max_seconds:
            self.clock = float(self.sim.max_seconds)
            self._limit(
                f"simulated time limit reached ({_duration_text(self.sim.max_seconds)}): "
                "the call never ended"
            )
        if self.sim.realtime and seconds > 0:
            time.sleep(seconds)
        self.clock += seconds

    def _limit(self, message: str) -> NoReturn:
        self._emit("error", message)
        self.errors.append(message)
        raise _End("limit")

    def _app_error(self, message: str) -> NoReturn:
        self._emit("error", f"{message} — the caller hears “{APPLICATION_ERROR}”")
        self.errors.append(message)
        raise _End("error")

    def _warn(self, message: str) -> None:
        """A mistake in the TwiML that Twilio would log but that does not end the call."""
        self._emit("error", message)
        self.errors.append(message)

    # -- requests -----------------------------------------------------------------------

    def _display(self, url: str) -> str:
        """Our own URLs as paths, so transcripts read like route tables."""
        if url.startswith(self.origin + "/"):
            return url[len(self.origin) :]
        return url

    def _resolve(self, base: str, ref: str) -> str:
        return urljoin(base, ref.strip())

    def _base_params(self) -> dict[str, str]:
        s = self.script
        from_country, to_country = _country(s.from_number), _country(s.to_number)
        params = {
            "CallSid": self.sid,
            "AccountSid": self.sim.account_sid,
            "From": s.from_number,
            "To": s.to_number,
            "Caller": s.from_number,
            "Called": s.to_number,
            "CallStatus": self.status,
            "Direction": "inbound",
            "ApiVersion": API_VERSION,
            "FromCountry": from_country,
            "ToCountry": to_country,
            "CallerCountry": from_country,
            "CalledCountry": to_country,
        }
        # Twilio sends these, usually empty for mobile numbers; apps must cope with "".
        for who in ("From", "To", "Caller", "Called"):
            for what in ("City", "State", "Zip"):
                params[f"{who}{what}"] = ""
        return params

    def _queue_params(self, q: _Queue) -> dict[str, str]:
        waited = str(int(self.clock - q.start))
        return {
            "QueueSid": q.sid,
            "QueuePosition": str(q.position),
            "CurrentQueueSize": str(q.size),
            "QueueTime": waited,
            "AvgQueueTime": waited,
        }

    def _request(self, url: str, method: str, extra: dict[str, str]) -> tuple[int, str]:
        params = self._base_params()
        if self.queue is not None:
            params.update(self._queue_params(self.queue))
        params.update(extra)
        method = method.strip().upper() or "POST"
        if method not in ("GET", "POST"):
            self._app_error(f"invalid method {method!r} for {self._display(url)}")
        if method == "GET":
            # Twilio puts the parameters in the query string and signs that URL with no body.
            sep = "&" if urlsplit(url).query else "?"
            url = f"{url}{sep}{urlencode(params)}" if params else url
            signed: dict[str, str] = {}
        else:
            signed = params
        headers = {
            "X-Twilio-Signature": self.sim.validator.compute_signature(url, signed),
            "User-Agent": USER_AGENT,
        }
        self._emit("request", f"{method} {self._display(url)}")
        transport = self.sim.transport
        try:
            if method == "GET":
                if not isinstance(transport, SupportsGet):
                    self._app_error(f"this transport cannot GET {self._display(url)}")
                status, body = transport.get(url, headers)
            else:
                status, body = transport.post(url, params, headers)
        except _End:
            raise
        except Exception as exc:  # a simulator reports what Twilio would have seen
            self.requests.append((url, params, 0))
            self._app_error(f"{method} {self._display(url)} failed: {exc!r}")
        self.requests.append((url, params, status))
        return status, body

    def _fetch_twiml(self, nxt: _Next) -> tuple[str, ET.Element]:
        if len(self.requests) >= self.sim.max_requests:
            self._limit(
                f"request limit reached: {self.sim.max_requests} requests in one call "
                "(a TwiML loop?)"
            )
        status, body = self._request(nxt.url, nxt.method, nxt.params)
        where = f"{nxt.method.upper()} {self._display(nxt.url)}"
        if self.status == "ringing":
            self.status = "in-progress"
        if status != 200:
            self._app_error(f"HTTP {status} from {where}")
        try:
            root = _parse_twiml(body)
        except ET.ParseError as exc:
            self._app_error(f"TwiML from {where} does not parse: {exc}")
        if nxt.then is not None:
            nxt.then()
        return nxt.url, root

    def _notify(self, url: str, method: str, extra: dict[str, str]) -> None:
        """A request whose answer Twilio ignores: any 2xx is fine."""
        status, _ = self._request(url, method, extra)
        if not 200 <= status < 300:
            self._warn(f"HTTP {status} from {method.upper()} {self._display(url)}")

    def _send_status_callback(self, final_status: str) -> None:
        if self.sim.status_path is None:
            return
        self.queue = None
        duration = 0 if final_status in ("busy", "no-answer") else int(self.clock + 0.5)
        stamp = self.started_at + timedelta(seconds=self.clock)
        self._emit("status", f"status callback: {final_status}, CallDuration {duration} s")
        # A failure here is already in the transcript; the call is over anyway.
        with contextlib.suppress(_End):
            self._notify(
                self.sim.public_base + self.sim.status_path,
                "POST",
                {
                    "CallStatus": final_status,
                    "CallDuration": str(duration),
                    "Timestamp": format_datetime(stamp),
                    "CallbackSource": "call-progress-events",
                    "SequenceNumber": "0",
                },
            )

    # -- TwiML --------------------------------------------------------------------------

    def _execute(self, root: ET.Element, doc_url: str) -> _Outcome:
        in_queue = self.queue is not None
        for el in list(root):
            verb = el.tag
            if in_queue and verb not in _WAIT_VERBS:
                self._warn(f"<{verb}> is not allowed in waitUrl TwiML; skipped")
                continue
            if verb == "Reject":
                reason = el.get("reason") or "rejected"
                self._emit("hangup", f"call rejected ({reason})")
                if not self.answered:
                    raise _End("hangup", "busy" if reason == "busy" else "no-answer")
                raise _End("hangup")
            self.answered = True
            outcome: _Outcome = None
            if verb == "Say":
                self._say(el)
            elif verb == "Play":
                self._play(el, doc_url)
            elif verb == "Pause":
                self._pause(el)
            elif verb == "Gather":
                outcome = self._gather(el, doc_url)
            elif verb == "Redirect":
                target = _text(el)
                if not target:
                    self._app_error("<Redirect> without a URL")
                outcome = _Next(self._resolve(doc_url, target), el.get("method") or "POST")
            elif verb == "Hangup":
                self._emit("hangup", "call ends (<Hangup/>)")
                raise _End("hangup")
            elif verb == "Leave":
                if in_queue:
                    return _LEAVE
                self._warn("<Leave/> outside a queue is ignored")
            elif verb == "Enqueue":
                outcome = self._enqueue(el, doc_url)
            elif verb == "Record":
                outcome = self._record(el, doc_url)
            elif verb == "Dial":
                outcome = self._dial(el, doc_url)
            else:
                self._warn(f"<{verb}> is not simulated; skipped")
            if outcome is not None:
                return outcome
        return None

    def _say(self, el: ET.Element) -> None:
        text = _text(el)
        loop = _int_attr(el, "loop", 1)
        note = ""
        if loop == 0:
            note = "  (loop=0: repeats until interrupted; counted once)"
        elif loop > 1:
            note = f"  (×{loop})"
        self._emit("say", text + note, language=el.get("language"), voice=el.get("voice"))
        self._advance(estimate_say_seconds(text) * max(loop, 1))

    def _media_seconds(self, url: str) -> float:
        root = self.sim.media_root
        if root is None:
            return UNKNOWN_MEDIA_SECONDS
        parts = [p for p in PurePosixPath(unquote(urlsplit(url).path)).parts if p != "/"]
        base = root.resolve()
        # The URL prefix the app serves media under is unknown: try ever shorter path tails.
        for i in range(len(parts)):
            candidate = base.joinpath(*parts[i:]).resolve()
            if not candidate.is_relative_to(base) or not candidate.is_file():
                continue
            if candidate.suffix.lower() != ".wav":
                return UNKNOWN_MEDIA_SECONDS
            try:
                with wave.open(str(candidate), "rb") as wav:
                    rate = wav.getframerate()
                    return wav.getnframes() / rate if rate else UNKNOWN_MEDIA_SECONDS
            except (wave.Error, EOFError, OSError):
                return UNKNOWN_MEDIA_SECONDS
        return UNKNOWN_MEDIA_SECONDS

    def _play(self, el: ET.Element, doc_url: str) -> None:
        digits = (el.get("digits") or "").strip()
        if digits:
            self._emit("play", f"DTMF tones {digits}")
            self._advance(max(1.0, 0.5 * len(digits)))
            return
        ref = _text(el)
        if not ref:
            self._warn("<Play> without a URL; skipped")
            return
        url = self._resolve(doc_url, ref)
        seconds = self._media_seconds(url)
        loop = _int_attr(el, "loop", 1)
        note = ""
        if loop == 0:
            note = ", loops until interrupted; counted once"
        elif loop > 1:
            note = f" × {loop}"
        prefix = "hold music " if self.queue is not None else ""
        self._emit("play", f"{prefix}{self._display(url)} ({_duration_text(seconds)}{note})")
        self._advance(seconds * max(loop, 1))

    def _pause(self, el: ET.Element) -> None:
        length = _int_attr(el, "length", 1)
        self._emit("pause", f"pause {length} s")
        self._advance(length)

    def _next_input(self, prompt: str) -> str:
        if self.keys:
            return self.keys.popleft().strip()
        if self.script.interactive:
            try:
                answer: str = click.prompt(prompt, default="", show_default=False)
            except click.Abort:
                return "hangup"  # end of input: the caller has gone
            return answer.strip()
        return ""

    def _caller_hangs_up(self, where: str) -> NoReturn:
        if self.queue is not None:
            raise _QueueEvent("hangup")
        self.status = "completed"
        self._emit("hangup", f"caller hangs up {where}")
        raise _End("caller")

    def _gather(self, el: ET.Element, doc_url: str) -> _Next | None:
        action = self._resolve(doc_url, el.get("action") or doc_url)
        method = el.get("method") or "POST"
        timeout = _int_attr(el, "timeout", GATHER_DEFAULT_TIMEOUT)
        num_digits = _int_attr(el, "numDigits", 0) or None
        finish_key = el.get("finishOnKey", "#")
        inputs = (el.get("input") or "dtmf").lower().split()
        on_empty = _bool_attr(el, "actionOnEmptyResult", False)

        for child in list(el):
            if child.tag not in _GATHER_NESTED:
                self._warn(f"<{child.tag}> cannot be nested in <Gather>; skipped")
            elif child.tag == "Say":
                self._say(child)
            elif child.tag == "Play":
                self._play(child, doc_url)
            else:
                self._pause(child)

        limits = [f"{num_digits} digit{'s' if num_digits != 1 else ''}"] if num_digits else []
        if finish_key:
            limits.append(f"end with {finish_key}")
        prompt = (
            f"[{_clock_text(self.clock)}] keys for this menu ({', '.join(limits) or 'any digits'}"
            f"; empty = no input, 'hangup' = hang up)"
        )
        left_before = len(self.keys)
        entry = self._next_input(prompt)
        if entry.lower() == "hangup":
            self._caller_hangs_up("during the menu")

        params: dict[str, str] = {}
        heard = ""
        if entry.lower().startswith("speech:"):
            words = entry.split(":", 1)[1].strip()
            if "speech" in inputs and words:
                params = {"SpeechResult": words, "Confidence": "0.92"}
                heard = f"caller says “{words}”"
        elif entry:
            digits, finished, ignored = "", "", ""
            pressed = [ch for ch in entry if ch in _DTMF]
            for i, ch in enumerate(pressed):
                if finish_key and ch == finish_key:
                    finished = ch
                    ignored = "".join(pressed[i + 1 :])
                    break
                digits += ch
                if num_digits and len(digits) >= num_digits:
                    ignored = "".join(pressed[i + 1 :])
                    break
            if "dtmf" in inputs and (digits or finished):
                heard = f"caller presses {digits}{finished}"
                if ignored:
                    heard += f" (then {ignored}, which Twilio ignores)"
                if digits or on_empty:
                    params = {"Digits": digits, "FinishedOnKey": finished}

        if heard:
            self._emit("input", heard)
            self._advance(max(1.0, 0.5 * len(entry)))
        if not params:
            if not heard:
                self._advance(timeout)
                left = "; no keys left" if left_before == 0 and not self.script.interactive else ""
                self._emit("input", f"no input (timeout {timeout} s{left})")
            if not on_empty:
                return None  # Twilio goes on with the verb after the Gather
            params = {"Digits": "", "FinishedOnKey": ""}
        return _Next(action, method, params)

    def _enqueue(self, el: ET.Element, doc_url: str) -> _Next | None:
        name = (el.text or "").strip()
        action_ref = el.get("action")
        action = self._resolve(doc_url, action_ref) if action_ref else None
        method = el.get("method") or "POST"
        wait_ref = el.get("waitUrl")
        wait_url = self._resolve(doc_url, wait_ref) if wait_ref else None
        wait_method = el.get("waitUrlMethod") or "POST"

        s = self.script
        events = [
            (t, result)
            for t, result in ((s.bridge_after, "bridged"), (s.hangup_after_wait, "hangup"))
            if t is not None
        ]
        deadline, deadline_result = min(events) if events else (None, "")
        position = max(1, s.queue_position)
        q = _Queue(
            name=name,
            # Stable per queue name, as a real queue's SID is.
            sid="QU" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:32],
            start=self.clock,
            position=position,
            size=s.queue_size if s.queue_size is not None else position,
            deadline=deadline,
            deadline_result=deadline_result,
        )
        self._emit("queue", f"waiting in queue {name or '(unnamed)'} (position {position})")

        def result_params(result: str) -> dict[str, str]:
            return {
                "QueueResult": result,
                "QueueSid": q.sid,
                "QueueTime": str(int(self.clock - q.start)),
            }

        self.queue = q
        try:
            self._wait_in_queue(q, wait_url, wait_method)
        except _QueueEvent as event:
            self.queue = None
            waited = _duration_text(self.clock - q.start)
            if event.result.startswith("redirect:"):
                # Taken out of the queue by a REST update of the queue member: the call
                # goes on at the URL given there, and Twilio does not request the action.
                self._emit("queue", f"taken out of queue {name} by a counselor after {waited}")
                return _Next(self._resolve(doc_url, event.result.removeprefix("redirect:")), "POST")
            if event.result == "hangup":
                self.status = "completed"
                self._emit("hangup", f"caller hangs up after {waited} in queue {name}")
                if action:
                    self._notify(action, method, result_params("hangup"))
                raise _End("caller") from None
            self._emit("queue", f"bridged to a counselor after {waited} in queue {name}")
            params = result_params("bridged")
            self._advance(s.talk_seconds)
            self._emit("queue", f"the counselor hangs up after {_duration_text(s.talk_seconds)}")
            return _Next(action, method, params) if action else None
        except _End as end:
            self.queue = None
            if end.ended_by == "hangup" and action:
                self.status = "completed"
                self._notify(action, method, result_params("hangup"))
            raise
        finally:
            self.queue = None
        self._emit(
            "queue", f"caller leaves queue {name} after {_duration_text(self.clock - q.start)}"
        )
        return _Next(action, method, result_params("leave")) if action else None

    def _wait_in_queue(self, q: _Queue, wait_url: str | None, wait_method: str) -> None:
        """Play wait documents until <Leave/> (returns) or something ends the wait (raises).
        The hook is asked before every wait document, since a waitUrl that redirects to
        itself never ends its document chain."""
        cycle = 0
        nxt: _Next | None = None
        while True:
            cycle += 1
            if self.script.on_queue_wait is not None:
                state = QueueState(
                    call_sid=self.sid,
                    queue_name=q.name,
                    queue_sid=q.sid,
                    queue_time=self.clock - q.start,
                    position=q.position,
                    size=q.size,
                    cycle=cycle,
                )
                decision = self.script.on_queue_wait(state)
                if decision in ("bridged", "hangup") or (decision or "").startswith("redirect:"):
                    raise _QueueEvent(decision)
                if decision is not None:
                    self._warn(
                        f"on_queue_wait returned {decision!r}; expected bridged/hangup/redirect:URL/None"
                    )
            if wait_url is None:
                self._emit("play", "hold music: Twilio's default classical playlist")
                self._advance(DEFAULT_HOLD_MUSIC_SECONDS)
                continue
            # A document that ends starts the original waitUrl again; a Redirect or a
            # Gather action names the next wait document.
            doc_url, root = self._fetch_twiml(nxt or _Next(wait_url, wait_method))
            outcome = self._execute(root, doc_url)
            if isinstance(outcome, _LeaveQueue):
                return
            nxt = outcome

    def _record(self, el: ET.Element, doc_url: str) -> _Next | None:
        action = self._resolve(doc_url, el.get("action") or doc_url)
        method = el.get("method") or "POST"
        max_length = _int_attr(el, "maxLength", 3600)
        finish_keys = el.get("finishOnKey", RECORD_DEFAULT_FINISH_KEYS)
        beep = _bool_attr(el, "playBeep", True)
        seconds = max(0.0, min(self.script.recording_seconds, float(max_length)))
        hangs_up = self.script.hangup_after_recording

        self._emit(
            "record",
            f"recording (max {max_length} s){', after a beep' if beep else ''}: "
            f"caller speaks for {_duration_text(seconds)}",
        )
        self._advance(seconds + (0.5 if beep else 0))
        if seconds <= 0 and not hangs_up:
            self._emit("record", "nothing recorded: Twilio goes on with the next verb")
            return None

        rec_sid = _new_sid("RE")
        rec_url = (
            f"https://api.twilio.com/{API_VERSION}/Accounts/{self.sim.account_sid}"
            f"/Recordings/{rec_sid}"
        )
        params = {
            "RecordingUrl": rec_url,
            "RecordingSid": rec_sid,
            "RecordingDuration": str(int(seconds)),
        }
        if hangs_up:
            params["Digits"] = "hangup"
        elif seconds < max_length and finish_keys:
            params["Digits"] = "#" if "#" in finish_keys else finish_keys[0]

        def recording_callback() -> None:
            ref = el.get("recordingStatusCallback")
            if not ref:
                return
            started = self.started_at + timedelta(seconds=self.clock - seconds)
            self._notify(
                self._resolve(doc_url, ref),
                el.get("recordingStatusCallbackMethod") or "POST",
                {
                    "RecordingSid": rec_sid,
                    "RecordingUrl": rec_url,
                    "RecordingStatus": "completed",
                    "RecordingDuration": str(int(seconds)),
                    "RecordingChannels": "1",
                    "RecordingSource": "RecordVerb",
                    "RecordingStartTime": format_datetime(started),
                },
            )

        if hangs_up:
            self.status = "completed"
            self._emit("hangup", "caller hangs up after leaving a message")
            self._notify(action, method, params)  # Twilio ignores TwiML on a finished call
            recording_callback()
            raise _End("caller")
        if "Digits" in params:
            self._emit("input", f"caller presses {params['Digits']} to finish")
        return _Next(action, method, params, then=recording_callback)

    def _dial(self, el: ET.Element, doc_url: str) -> _Next | None:
        targets: list[str] = []
        for child in list(el):
            value = _text(child)
            if child.tag == "Number":
                targets.append(mask_number(value))
            elif child.tag == "Client":
                targets.append(f"client {value}")
            elif child.tag == "Conference":
                targets.append(f"conference {value}")
            elif child.tag == "Queue":
                targets.append(f"queue {value}")
            elif child.tag == "Sip":
                targets.append("a SIP address")
            else:
                targets.append(f"<{child.tag}>")
        if not targets:
            number = (el.text or "").strip()
            if not number:
                self._app_error("<Dial> with nothing to dial")
            targets.append(mask_number(number))

        status = self.script.dial_status
        self._emit("dial", f"dialling {', '.join(targets)}")
        if status == "completed":
            duration = min(
                self.script.talk_seconds, _int_attr(el, "timeLimit", DIAL_DEFAULT_TIME_LIMIT)
            )
            self._advance(duration)
        else:
            duration = 0.0
            self._advance(
                _int_attr(el, "timeout", DIAL_DEFAULT_TIMEOUT) if status == "no-answer" else 1
            )
        self._emit("dial", f"dial ended: {status} after {_duration_text(duration)}")
        action_ref = el.get("action")
        if not action_ref:
            return None
        return _Next(
            self._resolve(doc_url, action_ref),
            el.get("method") or "POST",
            {
                "DialCallStatus": status,
                "DialCallSid": _new_sid("CA"),
                "DialCallDuration": str(int(duration)),
                "DialBridged": "true" if status == "completed" else "false",
            },
        )


# --------------------------------------------------------------------------------------------
# Command line


def _in_process_jobs(app: Any) -> Callable[[], None]:
    """Run what the worker would, in this process, whenever the caller waits a round."""
    from . import jobs
    from .queues import connect
    from .worker import make_worker

    jobs.bind_app(app)
    connection = connect(app.config["REDIS_URL"], for_web=False)

    def run() -> None:
        jobs.sync_routing(connection)
        make_worker(connection).work(burst=True, logging_level="WARNING")

    return run


def _configured_number(source: Any) -> str | None:
    for key in _HOTLINE_NUMBER_KEYS:
        value = source.get(key)
        if value:
            return str(value)
    return None


@click.command("simulate")
@click.option("--url", default=None, help="base URL of a running server; default: in-process app")
@click.option("--from", "from_number", default="+393331234567", help="the caller's number")
@click.option(
    "--to", "to_number", default=None, help="number called; default: the hotline's number"
)
@click.option(
    "--keys",
    default="",
    help="comma-separated keypresses for each menu; empty item = no input, e.g. '1,,9'",
)
@click.option(
    "--wait",
    "hangup_after_wait",
    type=float,
    default=None,
    help="seconds the caller waits in a queue before hanging up",
)
@click.option(
    "--bridge-after", type=float, default=None, help="seconds in a queue before a counselor answers"
)
@click.option(
    "--interactive/--no-interactive",
    default=None,
    help="ask for keys when the script runs out; default: when stdin is a terminal and no --keys",
)
@click.option("--realtime", is_flag=True, help="take as long as the real call would")
@click.option(
    "--counselor",
    "counselor_key",
    default=None,
    help="in-process only: play the counselor's leg too, pressing this key at the whisper "
    "(1 accept, 2 decline, '' nothing); Twilio's REST API is stood in for locally",
)
def simulate_command(
    url: str | None,
    from_number: str,
    to_number: str | None,
    keys: str,
    hangup_after_wait: float | None,
    bridge_after: float | None,
    interactive: bool | None,
    realtime: bool,
    counselor_key: str | None,
) -> None:
    """Place a simulated call against the hotline and print what the caller hears."""
    if counselor_key is not None and url is not None:
        raise click.UsageError("--counselor needs the in-process app (no --url)")
    rest = None
    if url is None:
        # Imported here: the app factory is heavy and must not load for `--url` runs.
        from hotline import create_app

        overrides = {}
        if counselor_key is not None:
            from .simulate_counselor import MockTwilioRest

            rest = MockTwilioRest().__enter__()
            overrides["TWILIO_API_BASE_URL"] = rest.base_url
        app = create_app(overrides or None)
        public_base = str(app.config.get("HOTLINE_PUBLIC_URL") or "http://localhost:5000")
        token = str(app.config.get("TWILIO_AUTH_TOKEN") or "")
        account_sid = str(app.config.get("TWILIO_ACCOUNT_SID") or DEFAULT_ACCOUNT_SID)
        media = app.config.get("RECORDINGS_DIR") or app.config.get("HOTLINE_RECORDINGS_DIR")
        transport: Transport = FlaskTransport(app)
        hotline_number = _configured_number(app.config)
    else:
        from dotenv import load_dotenv

        load_dotenv()
        token = os.environ.get("TWILIO_AUTH_TOKEN", "")
        account_sid = os.environ.get("TWILIO_ACCOUNT_SID") or DEFAULT_ACCOUNT_SID
        public_base = (os.environ.get("HOTLINE_PUBLIC_URL") or url).rstrip("/")
        media = os.environ.get("RECORDINGS_DIR") or os.environ.get("HOTLINE_RECORDINGS_DIR")
        # The server may sit behind a tunnel: sign the public URL, connect to --url.
        connect_to = None if public_base == url.rstrip("/") else url
        transport = HttpTransport(connect_to=connect_to)
        hotline_number = _configured_number(os.environ)

    if not token:
        click.echo("warning: TWILIO_AUTH_TOKEN is empty; signatures use an empty key", err=True)
    if interactive is None:
        interactive = not keys and sys.stdin.isatty()
    script = CallScript(
        from_number=from_number,
        to_number=to_number or hotline_number or CallScript.to_number,
        keys=[item.strip() for item in keys.split(",")] if keys else [],
        hangup_after_wait=hangup_after_wait,
        bridge_after=bridge_after,
        interactive=interactive,
    )
    counselor = None
    if rest is not None:
        from .simulate_counselor import CounselorSide

        counselor = CounselorSide(
            transport,
            public_base,
            token,
            rest,
            _in_process_jobs(app),
            key=counselor_key or "",
            out=click.echo,
        )
        script.on_queue_wait = counselor.on_queue_wait
    simulator = Simulator(
        transport,
        public_base=public_base,
        auth_token=token,
        account_sid=account_sid,
        media_root=Path(media) if media else None,
        realtime=realtime,
        out=lambda line: click.echo(render_line(line)),
    )
    try:
        result = simulator.run(script)
        if counselor is not None:
            counselor.finish(int(script.talk_seconds))
    finally:
        if rest is not None:
            rest.__exit__(None, None, None)
    click.echo(
        f"— call {result.call_sid} ended by {result.ended_by}; "
        f"{len(result.requests)} requests, {len(result.errors)} error(s)"
    )
    if result.errors:
        sys.exit(1)
