"""The engine's vocabulary: what the caller should hear and where the call goes next.

Nothing here knows Twilio; `hotline.telephony.twiml` turns steps into TwiML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Endpoint = Literal[
    "menu", "queue_wait", "queue_done", "queue_key", "callback", "voicemail_done", "recording"
]


@dataclass(frozen=True)
class CallState:
    """What must survive between two webhooks of one call; it travels in the URLs."""

    flow: str
    language: str | None = None
    urgent: bool = False
    tries: int = 0
    second_language: str | None = None

    def params(self) -> dict[str, str]:
        out = {"f": self.flow}
        if self.language:
            out["l"] = self.language
        if self.second_language:
            out["s"] = self.second_language
        if self.urgent:
            out["u"] = "1"
        if self.tries:
            out["t"] = str(self.tries)
        return out


@dataclass(frozen=True)
class Next:
    """Where Twilio sends its next request for this call."""

    endpoint: Endpoint
    node: str
    state: CallState
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Say:
    text: str
    say_language: str
    voice: str
    prompt: str


@dataclass(frozen=True)
class Play:
    media: str  # path below recordings/
    loop: int = 1
    prompt: str | None = None


@dataclass(frozen=True)
class Pause:
    seconds: int = 1


Audible = Say | Play | Pause


@dataclass(frozen=True)
class Gather:
    children: tuple[Audible, ...]
    num_digits: int
    timeout: int
    action: Next
    finish_on_key: str | None = None


@dataclass(frozen=True)
class Record:
    action: Next
    status: Next  # recordingStatusCallback: the recording webhook fetches the audio
    max_length: int = 180


@dataclass(frozen=True)
class Redirect:
    target: Next


@dataclass(frozen=True)
class Enqueue:
    queue: str
    wait: Next
    action: Next


@dataclass(frozen=True)
class Dial:
    number: str
    timeout: int = 30


@dataclass(frozen=True)
class Leave:
    """Leave the queue (the Enqueue action decides what follows)."""


@dataclass(frozen=True)
class Hangup:
    """End the call."""


Step = Say | Play | Pause | Gather | Record | Redirect | Enqueue | Dial | Leave | Hangup


@dataclass(frozen=True)
class Event:
    """Something worth writing to the call log."""

    kind: str
    data: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class CallbackAsk:
    """A valid callback request, waiting for the voice layer's verdict (the daily limit
    and a pending request are known only to Redis)."""

    node: str
    number: str  # E.164
    own: bool  # the number the caller is calling from
    safe_to_call: bool
    may_leave_message: bool


@dataclass
class Turn:
    """The engine's answer to one webhook."""

    steps: list[Step] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    state: CallState | None = None
    callback: CallbackAsk | None = None
    queue_choice: str | None = None
