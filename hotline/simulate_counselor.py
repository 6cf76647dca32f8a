"""The counselor's side of a simulated call, and the bit of Twilio's REST API it needs.

`hotline simulate --counselor 1` runs the app in this process, points its Twilio REST client
at a small local stand-in for Twilio's API, and, while the simulated caller waits in the
queue, lets the worker's jobs run: when they ring a counselor, this module answers that leg
the way Twilio would (whisper, then the counselor's key), and when the bridge job takes the
caller out of the queue, the caller's call continues at the URL it was given.
"""

from __future__ import annotations

import itertools
import json
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from .simulate import QueueState, Transport, mask_number
from .telephony.signature import sign

_ids = itertools.count(1)


def _sid(prefix: str) -> str:
    return f"{prefix}{next(_ids):032x}"


@dataclass
class RestRecord:
    """What the app asked Twilio's REST API to do."""

    created: list[dict[str, str]] = field(default_factory=list)
    dequeued: list[dict[str, str]] = field(default_factory=list)
    updated: list[dict[str, str]] = field(default_factory=list)


class MockTwilioRest:
    """Twilio's REST endpoints the hotline uses, on 127.0.0.1 (calls, queue members)."""

    def __init__(self) -> None:
        self.record = RestRecord()
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> MockTwilioRest:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        form = dict(parse_qsl(request.get_data(as_text=True)))
        parts = request.path.strip("/").split("/")
        body: dict[str, Any]
        with self._lock:
            if request.method == "POST" and parts[-1] == "Calls.json":
                sid = _sid("CA")
                self.record.created.append({**form, "Sid": sid})
                body, status = {"sid": sid, "status": "queued"}, 201
            elif request.method == "POST" and "Members" in parts:
                self.record.dequeued.append(
                    {**form, "QueueSid": parts[-3], "CallSid": parts[-1].removesuffix(".json")}
                )
                body, status = {"call_sid": parts[-1].removesuffix(".json")}, 200
            elif "Calls" in parts:
                sid = parts[-1].removesuffix(".json")
                if request.method == "POST":
                    self.record.updated.append({**form, "Sid": sid})
                body, status = {"sid": sid, "status": "in-progress"}, 200
            else:
                body, status = {"code": 20404, "message": "not found", "status": 404}, 404
        response = Response(json.dumps(body), status=status, mimetype="application/json")
        return response(environ, start_response)


class CounselorSide:
    """Plays every counselor leg the app rings, with one key for the whisper's question."""

    def __init__(
        self,
        transport: Transport,
        public_base: str,
        auth_token: str,
        rest: MockTwilioRest,
        run_jobs: Callable[[], None],
        key: str = "1",
        out: Callable[[str], None] = print,
    ) -> None:
        self.transport = transport
        self.public_base = public_base.rstrip("/")
        self.token = auth_token
        self.rest = rest
        self.run_jobs = run_jobs
        self.key = key
        self.out = out
        self._handled = 0
        self.accepted: list[tuple[str, dict[str, str]]] = []

    def _post(self, url: str, params: dict[str, str]) -> ET.Element:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        full = self.public_base + path
        headers = {"X-Twilio-Signature": sign(self.token, full, params)}
        status, body = self.transport.post(full, params, headers)
        if status != 200:
            raise RuntimeError(f"HTTP {status} from {path}")
        return ET.fromstring(body)

    def _hear(self, root: ET.Element) -> None:
        for say in root.iter("Say"):
            self.out(f"          👩‍⚕ counselor hears ({say.get('language')}): {say.text}")

    def on_queue_wait(self, state: QueueState) -> str | None:
        self.run_jobs()
        while self._handled < len(self.rest.record.created):
            leg = self.rest.record.created[self._handled]
            self._handled += 1
            self._answer(leg)
        for dequeue in self.rest.record.dequeued:
            if dequeue["CallSid"] == state.call_sid:
                return "redirect:" + dequeue["Url"]
        return None

    def _answer(self, leg: dict[str, str]) -> None:
        self.out(
            f"          ☎  the worker rings counselor {mask_number(leg['To'])} from {leg['From']}"
        )
        params = {
            "CallSid": leg["Sid"],
            "AccountSid": "AC" + "0" * 32,
            "From": leg["From"],
            "To": leg["To"],
            "CallStatus": "in-progress",
            "Direction": "outbound-api",
        }
        whisper = self._post(leg["Url"], params)
        self._hear(whisper)
        gather = whisper.find("Gather")
        if gather is None:
            return
        action = gather.get("action", "")
        self.out(f"          ⌨  counselor presses {self.key or 'nothing'}")
        answer = self._post(action, {**params, "Digits": self.key})
        self._hear(answer)
        room = answer.find("Dial/Conference")
        if room is not None:
            self.out(f"          ☎  counselor waits in conference {room.text}")
            self.accepted.append((leg["StatusCallback"], params))
            self.run_jobs()  # the bridge job takes the caller out of the queue
        else:
            # Not accepted: Twilio reports the leg's end; the next counselor may be rung.
            self._post(leg["StatusCallback"], {**params, "CallStatus": "completed"})

    def finish(self, talk_seconds: int) -> None:
        """The conversation is over: the counselor's leg reports completed (wrap-up)."""
        for status_url, params in self.accepted:
            self._post(
                status_url, {**params, "CallStatus": "completed", "CallDuration": str(talk_seconds)}
            )
        self.run_jobs()
