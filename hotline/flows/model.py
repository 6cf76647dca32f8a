"""What a flow file describes, once validated. Immutable, shared by every request."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..hours import ServiceHours


@dataclass(frozen=True)
class Language:
    id: str
    label: str
    say_language: str  # Twilio <Say language="...">
    voice: str  # Twilio <Say voice="...">


@dataclass(frozen=True)
class Choice:
    next: str
    language: str | None = None
    # Another language the caller can talk in: offered to its counselors after a while.
    second_language: str | None = None


@dataclass(frozen=True)
class Node:
    id: str
    line: int
    say: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return type(self).__name__.removesuffix("Node").lower()

    def targets(self) -> tuple[str, ...]:
        """Node ids this node can lead to (for reachability and reference checks)."""
        return ()


@dataclass(frozen=True)
class SayNode(Node):
    next: str = ""

    def targets(self) -> tuple[str, ...]:
        return (self.next,)


@dataclass(frozen=True)
class MenuNode(Node):
    options: dict[str, Choice] = field(default_factory=dict)
    on_failure: Choice = Choice(next="")
    retries: int = 2
    timeout: int = 6
    retry_say: tuple[str, ...] = ()

    def targets(self) -> tuple[str, ...]:
        return (*(c.next for c in self.options.values()), self.on_failure.next)


@dataclass(frozen=True)
class EmergencyNode(Node):
    say_known: tuple[str, ...] = ()
    say_unknown: tuple[str, ...] = ()
    urgent: bool = False
    next: str = ""

    def targets(self) -> tuple[str, ...]:
        return (self.next,)


@dataclass(frozen=True)
class HoursNode(Node):
    open: str = ""
    closed: str = ""

    def targets(self) -> tuple[str, ...]:
        return (self.open, self.closed)


@dataclass(frozen=True)
class QueueNode(Node):
    queue: str = "hotline-{language}"
    max_wait: int = 900
    announce_every: int = 60
    seconds_per_caller: int = 240
    music: str | None = None
    say_position: tuple[str, ...] = ()
    say_next: tuple[str, ...] = ()
    say_estimate: tuple[str, ...] = ()
    on_timeout: str = ""
    on_error: str = ""
    # Nobody who speaks the caller's language is on call: go here at once instead of waiting.
    on_nobody: str | None = None
    # Crisis networks hand long waits to a partner line: after this many seconds, go there.
    partner_after: int | None = None
    partner: str | None = None
    # Keys offered while waiting (e.g. 1: be called back, 2: leave a message), said with
    # `say_options` around each announcement; pressing one leaves the queue for that node.
    options: dict[str, Choice] = field(default_factory=dict)
    say_options: tuple[str, ...] = ()
    # After this long without a counselor of the first language, counselors of the
    # caller's second language (if they named one) may take the call.
    widen_after: int = 60

    def targets(self) -> tuple[str, ...]:
        extra = tuple(t for t in (self.on_nobody, self.partner) if t)
        return (self.on_timeout, self.on_error, *extra, *(c.next for c in self.options.values()))

    def queue_name(self, language: str) -> str:
        return self.queue.format(language=language)


@dataclass(frozen=True)
class HangupNode(Node):
    """Say its prompts, then end the call."""


@dataclass(frozen=True)
class DialNode(Node):
    """Connect the caller to another line (a partner crisis line), showing the hotline's
    own number as caller ID."""

    number: str = ""
    timeout: int = 30
    next: str = ""

    def targets(self) -> tuple[str, ...]:
        return (self.next,)


# What a callback node says at each step, by role; a flow may rename any of them.
CALLBACK_ROLES = (
    "may_leave_message", "confirm_number", "safe", "unsafe", "enter_number", "when_open",
    "when_closed", "updated", "invalid", "withheld", "country", "costly", "limit", "retry",
)  # fmt: skip


@dataclass(frozen=True)
class CallbackNode(Node):
    """The caller asks to be called back: the safe-contact questions, the number (their own,
    read back, or one they type), then a decision the voice layer completes (the daily limit
    lives in Redis). Each refusal has its own prompt, then the call goes to `on_refused`."""

    next: str = ""
    on_refused: str = ""
    voicemail: str | None = None  # "not safe at this number": leave a message instead
    timeout: int = 8
    retries: int = 1
    # For "we will call you within about N minutes": one request takes this long.
    seconds_per_request: int = 600
    prompts: dict[str, str] = field(
        default_factory=lambda: {role: f"callback_{role}" for role in CALLBACK_ROLES}
    )

    def targets(self) -> tuple[str, ...]:
        return (self.next, self.on_refused, *((self.voicemail,) if self.voicemail else ()))


@dataclass(frozen=True)
class VoicemailNode(Node):
    """A recorded message: `say` must tell the caller it is recorded and who will hear it."""

    max_length: int = 180
    next: str = ""

    def targets(self) -> tuple[str, ...]:
        return (self.next,)


NODE_TYPES: dict[str, type[Node]] = {
    "say": SayNode,
    "menu": MenuNode,
    "emergency": EmergencyNode,
    "hours": HoursNode,
    "queue": QueueNode,
    "hangup": HangupNode,
    "dial": DialNode,
    "callback": CallbackNode,
    "voicemail": VoicemailNode,
}


@dataclass(frozen=True)
class Flow:
    name: str
    source: Path
    languages: dict[str, Language]
    default_language: str
    start: str
    nodes: dict[str, Node]
    prompts: dict[str, dict[str, str]]
    hours: ServiceHours
    hotline_name: dict[str, str]
    emergency_labels: dict[str, dict[str, str]]
    numbers: tuple[str, ...] = ()
    danger_key: str | None = None
    danger_node: str | None = None
    fallback_number: str | None = None
    # (prompt id, language) -> media path below recordings/, for prompts with a recording
    recorded: dict[tuple[str, str], str] = field(default_factory=dict)
    # language_names[spoken in][named language], e.g. ["english"]["cantonese"] == "Cantonese"
    language_names: dict[str, dict[str, str]] = field(default_factory=dict)

    def language(self, language_id: str | None) -> Language:
        return self.languages.get(language_id or "", self.languages[self.default_language])


@dataclass(frozen=True)
class FlowSet:
    """All flows of the app: one per group of hotline numbers, and a default one."""

    flows: dict[str, Flow]
    default: str

    def for_number(self, number: str | None) -> Flow:
        if number:
            for flow in self.flows.values():
                if number in flow.numbers:
                    return flow
        return self.flows[self.default]

    def get(self, name: str | None) -> Flow | None:
        return self.flows.get(name or "")
