"""The IVR engine: (flow, node, call state, caller input) -> what the caller hears next.

Pure: no Flask, no Twilio, no I/O. Nodes that need no input (say, emergency, hours) chain
into each other within one answer; a menu or a queue ends the answer and names the request
Twilio will send next.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..callbacks.rules import NumberRules, is_refusal
from ..emergency import EmergencyInfo, describe
from ..phone import spell_digits
from .model import (
    CallbackNode,
    Choice,
    DialNode,
    EmergencyNode,
    Flow,
    HangupNode,
    HoursNode,
    MenuNode,
    QueueNode,
    SayNode,
    VoicemailNode,
)
from .steps import (
    Audible,
    CallbackAsk,
    CallState,
    Dial,
    Enqueue,
    Event,
    Gather,
    Hangup,
    Leave,
    Next,
    Pause,
    Play,
    Record,
    Redirect,
    Say,
    Turn,
)

MAX_CHAIN = 64  # the loader rejects loops of passive nodes; this only guards the engine

# Twilio's QueueResult values, and what each means for the call.
QUEUE_ENDED = {"bridged", "bridging-in-process", "redirected"}
QUEUE_HANGUP = {"hangup"}
QUEUE_TIMEOUT = {"leave"}


@dataclass(frozen=True)
class Caller:
    """What the engine may know about the person calling, derived per request."""

    region: str | None
    emergency: EmergencyInfo
    number: str | None = None  # Twilio's From, for a callback to the caller's own number


class Engine:
    def __init__(
        self,
        flow: Flow,
        staffed: Callable[[str], bool] | None = None,
        rules: NumberRules | None = None,
    ) -> None:
        """`staffed(language)` says whether anyone who speaks it is on call now; without
        it the engine assumes someone is. `rules`: which numbers may be called back."""
        self.flow = flow
        self.staffed = staffed
        self.rules = rules or NumberRules.from_setting(None)

    # ---- entry points, one per webhook ---------------------------------------------
    def start(self, caller: Caller, now: dt.datetime) -> Turn:
        state = CallState(flow=self.flow.name)
        turn = Turn(events=[Event("flow_started", {"flow": self.flow.name})])
        return self._run(self.flow.start, state, caller, now, turn)

    def menu_input(
        self, node_id: str, state: CallState, caller: Caller, now: dt.datetime, digits: str | None
    ) -> Turn:
        """The answer to a menu: keys pressed, or none (timeout)."""
        node = self.flow.nodes.get(node_id)
        turn = Turn()
        if not isinstance(node, MenuNode):
            # A stale or forged URL: carry on from the start rather than fail the caller.
            turn.events.append(Event("unknown_node", {"node": node_id[:64]}))
            return self._run(self.flow.start, state, caller, now, turn)
        key = (digits or "").strip()[:1]
        if key and key == self.flow.danger_key and self.flow.danger_node:
            state = replace(state, urgent=True, tries=0)
            turn.events.append(Event("marked_urgent", {"node": node.id}))
            return self._run(self.flow.danger_node, state, caller, now, turn)
        if key in node.options:
            turn.events.append(Event("menu_choice", {"node": node.id, "key": key}))
            return self._choose(node.options[key], state, caller, now, turn)
        tries = state.tries + 1
        turn.events.append(
            Event("menu_no_input" if not key else "menu_invalid", {"node": node.id, "try": tries})
        )
        if tries > node.retries:
            turn.events.append(Event("menu_failed", {"node": node.id}))
            return self._choose(node.on_failure, replace(state, tries=0), caller, now, turn)
        state = replace(state, tries=tries)
        return self._menu(node, state, turn, retry=True)

    def queue_wait(
        self,
        node_id: str,
        state: CallState,
        caller: Caller,
        queue_time: int,
        position: int | None,
        last_announced: int | None,
        seconds_per_caller: float | None = None,
    ) -> Turn:
        """One round of the waitUrl loop: maybe an announcement, then hold music."""
        node = self.flow.nodes.get(node_id)
        turn = Turn(state=state)
        if not isinstance(node, QueueNode):
            turn.events.append(Event("unknown_node", {"node": node_id[:64]}))
            turn.steps.append(Leave())
            return turn
        if queue_time >= node.max_wait:
            turn.events.append(Event("queue_max_wait", {"queue_time": queue_time}))
            turn.steps.append(Leave())
            return turn
        if node.partner_after is not None and queue_time >= node.partner_after:
            turn.events.append(Event("queue_partner_rollover", {"queue_time": queue_time}))
            turn.steps.append(Leave())
            return turn
        lang = self._lang(state)
        announced = last_announced
        if position is not None and (
            last_announced is None or queue_time - last_announced >= node.announce_every
        ):
            ahead = max(0, position - 1)
            per_caller: float = node.seconds_per_caller
            if seconds_per_caller is not None and math.isfinite(seconds_per_caller):
                per_caller = seconds_per_caller if seconds_per_caller > 0 else per_caller
            minutes = max(1, math.ceil(position * per_caller / 60))
            values = {"ahead": str(ahead), "position": str(position), "minutes": str(minutes)}
            if ahead == 0 and node.say_next:
                turn.steps.extend(self._prompts(node.say_next, lang, values))
            else:
                turn.steps.extend(self._prompts(node.say_position, lang, values))
                turn.steps.extend(self._prompts(node.say_estimate, lang, values))
            turn.events.append(
                Event("position_announced", {"position": position, "minutes": minutes})
            )
            announced = queue_time
            if node.options:
                # The announcement is the moment to offer a callback or a message: the
                # caller can press a key while it plays, or just stay on the line.
                said = [s for s in turn.steps if isinstance(s, Say | Play)]
                said.extend(self._prompts(node.say_options, lang))
                turn.steps = [
                    Gather(
                        tuple(said),
                        num_digits=1,
                        timeout=3,
                        action=Next("queue_key", node.id, state, {"a": str(announced)}),
                    )
                ]
        if node.music:
            turn.steps.append(Play(node.music))
        else:
            turn.steps.append(Pause(10))
        extra = {"a": str(announced)} if announced is not None else {}
        turn.steps.append(Redirect(Next("queue_wait", node.id, state, extra)))
        return turn

    def queue_key(
        self, node_id: str, state: CallState, digits: str | None, announced: str | None
    ) -> Turn:
        """A key pressed during the wait announcement: leave the queue for that option (the
        voice layer remembers `queue_choice` for the Enqueue action), or keep waiting."""
        node = self.flow.nodes.get(node_id)
        turn = Turn(state=state)
        key = (digits or "").strip()[:1]
        if isinstance(node, QueueNode) and key in node.options:
            turn.events.append(Event("queue_choice", {"node": node.id, "key": key}))
            turn.queue_choice = key
            turn.steps.append(Leave())
            return turn
        extra = {"a": announced} if announced else {}
        turn.steps.append(Redirect(Next("queue_wait", node_id if node else "", state, extra)))
        return turn

    def queue_done(
        self,
        node_id: str,
        state: CallState,
        caller: Caller,
        now: dt.datetime,
        result: str,
        queue_time: int | None,
        choice: str | None = None,
    ) -> Turn:
        """Twilio's Enqueue action: the caller has left the queue, one way or another.
        `choice`: the key they pressed while waiting, if that is why they left."""
        node = self.flow.nodes.get(node_id)
        turn = Turn(events=[Event("left_queue", {"result": result[:32], "queue_time": queue_time})])
        if result in QUEUE_ENDED or result in QUEUE_HANGUP:
            # Bridged calls reach here only once the conversation is over.
            turn.steps.append(Hangup())
            turn.state = state
            return turn
        if not isinstance(node, QueueNode):
            turn.events.append(Event("unknown_node", {"node": node_id[:64]}))
            return self._safe_end(state, turn)
        if result in QUEUE_TIMEOUT and choice in node.options:
            return self._choose(node.options[choice], state, caller, now, turn)
        target = node.on_timeout if result in QUEUE_TIMEOUT else node.on_error
        reason = "max_wait" if result in QUEUE_TIMEOUT else result[:32]
        if (
            result in QUEUE_TIMEOUT
            and node.partner
            and node.partner_after is not None
            and queue_time is not None
            and node.partner_after <= queue_time < node.max_wait
        ):
            target, reason = node.partner, "partner"
        turn.events.append(Event("overflow", {"reason": reason}))
        return self._run(target, state, caller, now, turn)

    # ---- callbacks and messages --------------------------------------------------------
    def callback_input(
        self,
        node_id: str,
        state: CallState,
        caller: Caller,
        now: dt.datetime,
        stage: str,
        digits: str | None,
        answers: dict[str, str],
    ) -> Turn:
        """One answer inside a callback node. Stages: m (may we leave a message), own (your
        number read back: 1 confirm, 2 another), safe (is it safe to call it), unsafe (1
        another number, 2 a message instead), enter (type a number, then #)."""
        node = self.flow.nodes.get(node_id)
        turn = Turn()
        if not isinstance(node, CallbackNode):
            turn.events.append(Event("unknown_node", {"node": node_id[:64]}))
            return self._safe_end(state, turn)
        keep = {"m": answers["m"]} if answers.get("m") in ("0", "1") else {}
        typed = "".join(ch for ch in (digits or "") if ch.isdigit())
        key = (digits or "").strip()[:1]
        fresh = replace(state, tries=0)
        if stage == "m" and key in ("1", "2"):
            turn.events.append(Event("callback_answer", {"may_leave_message": key == "1"}))
            return self._callback_number(
                node, fresh, caller, turn, {"m": "1" if key == "1" else "0"}
            )
        if stage == "own" and key in ("1", "2"):
            if key == "2":
                return self._callback_stage(node, fresh, "enter", turn, keep)
            return self._callback_stage(node, fresh, "safe", turn, keep)
        if stage == "safe" and key in ("1", "2"):
            turn.events.append(Event("callback_answer", {"safe_to_call": key == "1"}))
            if key == "2":
                return self._callback_stage(node, fresh, "unsafe", turn, keep)
            own = self.rules.check_own(caller.number)
            if is_refusal(own):  # the URL was replayed from another call
                return self._callback_refused(node, fresh, caller, now, turn, own)
            return self._callback_ask(node, fresh, turn, own, True, True, keep)
        if stage == "unsafe" and key == "1":
            return self._callback_stage(node, fresh, "enter", turn, keep)
        if stage == "unsafe" and key == "2" and node.voicemail:
            turn.events.append(Event("callback_to_voicemail", {}))
            return self._run(node.voicemail, fresh, caller, now, turn)
        if stage == "enter" and typed:
            number = self.rules.check_typed(typed, caller.region)
            if is_refusal(number):
                return self._callback_refused(node, fresh, caller, now, turn, number)
            # A number the caller chose themselves is taken as safe to call.
            return self._callback_ask(node, fresh, turn, number, False, True, keep)
        if stage not in ("m", "own", "safe", "unsafe", "enter"):
            return self._callback_stage(node, fresh, "m", turn, {})
        tries = state.tries + 1
        turn.events.append(Event("callback_no_input", {"stage": stage, "try": tries}))
        if tries <= node.retries:
            return self._callback_stage(node, replace(state, tries=tries), stage, turn, keep, True)
        if stage == "m":  # no answer: the cautious one
            return self._callback_number(node, fresh, caller, turn, {"m": "0"})
        if stage == "enter" and is_refusal(self.rules.check_own(caller.number)):
            return self._callback_refused(node, fresh, caller, now, turn, "withheld")
        turn.events.append(Event("callback_abandoned", {"stage": stage}))
        return self._run(node.on_refused, fresh, caller, now, turn)

    def callback_decided(
        self,
        ask: CallbackAsk,
        state: CallState,
        caller: Caller,
        now: dt.datetime,
        verdict: str,
        waiting: int = 0,
        context: dict[str, object] | None = None,
    ) -> Turn:
        """The voice layer's verdict on `ask`: "new", "update" (a request was pending and
        is replaced) or "limit" (too many today). Says when to expect the call."""
        node = self.flow.nodes[ask.node]
        assert isinstance(node, CallbackNode)
        turn = Turn()
        if verdict == "limit":
            return self._callback_refused(node, state, caller, now, turn, "limit")
        lang = self._lang(state)
        if verdict == "update":
            turn.steps.extend(self._prompts((node.prompts["updated"],), lang))
        if self.flow.hours.is_open(now):
            # Every request ahead of this one, and this one, takes a counselor about
            # `seconds_per_request`; rounded up to five minutes, since it is a promise.
            minutes = math.ceil((waiting + 1) * node.seconds_per_request / 300) * 5
            turn.steps.extend(
                self._prompts((node.prompts["when_open"],), lang, {"minutes": str(minutes)})
            )
        else:
            opens = self.flow.hours.next_open(now)
            if opens is not None:
                at = opens.astimezone(self.flow.hours.tz).strftime("%H:%M")
                turn.steps.extend(self._prompts((node.prompts["when_closed"],), lang, {"time": at}))
        turn.events.append(
            Event(
                "callback_requested",
                {
                    **(context or {}),
                    "number": ask.number,
                    "own_number": ask.own,
                    "safe_to_call": ask.safe_to_call,
                    "may_leave_message": ask.may_leave_message,
                    "language": lang,
                    "update": verdict == "update",
                },
            )
        )
        return self._run(node.next, state, caller, now, turn)

    def voicemail_done(
        self,
        node_id: str,
        state: CallState,
        caller: Caller,
        now: dt.datetime,
        recording_sid: str | None,
        duration: int | None,
    ) -> Turn:
        """The <Record> action: the message is saved (the recording webhook fetches it)."""
        node = self.flow.nodes.get(node_id)
        turn = Turn()
        if not isinstance(node, VoicemailNode):
            turn.events.append(Event("unknown_node", {"node": node_id[:64]}))
            return self._safe_end(state, turn)
        if recording_sid:
            turn.events.append(
                Event(
                    "voicemail",
                    {"recording_sid": recording_sid, "duration": duration, "node": node.id},
                )
            )
        else:
            turn.events.append(Event("voicemail_empty", {"node": node.id}))
        return self._run(node.next, state, caller, now, turn)

    def _callback_number(
        self, node: CallbackNode, state: CallState, caller: Caller, turn: Turn, keep: dict[str, str]
    ) -> Turn:
        own = self.rules.check_own(caller.number)
        if own == "withheld":
            return self._callback_stage(node, state, "enter", turn, keep)
        if is_refusal(own):
            # Their own number cannot be called (a country we do not call, a costly
            # number): say why, then let them type another.
            turn.events.append(Event("callback_refused", {"reason": own, "own_number": True}))
            turn.steps.extend(self._prompts((node.prompts[own],), self._lang(state)))
            return self._callback_stage(node, state, "enter", turn, keep)
        return self._callback_stage(node, state, "own", turn, keep, number=own)

    def _callback_stage(
        self,
        node: CallbackNode,
        state: CallState,
        stage: str,
        turn: Turn,
        keep: dict[str, str],
        retry: bool = False,
        number: str | None = None,
    ) -> Turn:
        lang = self._lang(state)
        role = {
            "m": "may_leave_message", "own": "confirm_number", "safe": "safe",
            "unsafe": "unsafe", "enter": "enter_number",
        }[stage]  # fmt: skip
        children: list[Audible] = []
        if retry:
            children.extend(self._prompts((node.prompts["retry"],), lang))
        if stage == "own" and number is None:
            return self._callback_stage(node, state, "m", turn, {})
        values = {"number": spell_digits(number)} if number else None
        children.extend(self._prompts((node.prompts[role],), lang, values))
        action = Next("callback", node.id, state, {"s": stage, **keep})
        enter = stage == "enter"
        turn.steps.append(
            Gather(
                tuple(children),
                num_digits=15 if enter else 1,
                timeout=15 if enter else node.timeout,
                action=action,
                finish_on_key="#" if enter else None,
            )
        )
        turn.steps.append(Redirect(action))
        turn.state = state
        return turn

    def _callback_ask(
        self,
        node: CallbackNode,
        state: CallState,
        turn: Turn,
        number: str,
        own: bool,
        safe: bool,
        keep: dict[str, str],
    ) -> Turn:
        turn.callback = CallbackAsk(node.id, number, own, safe, keep.get("m") == "1")
        turn.state = state
        return turn

    def _callback_refused(
        self,
        node: CallbackNode,
        state: CallState,
        caller: Caller,
        now: dt.datetime,
        turn: Turn,
        reason: str,
    ) -> Turn:
        turn.events.append(Event("callback_refused", {"reason": reason}))
        turn.steps.extend(self._prompts((node.prompts[reason],), self._lang(state)))
        return self._run(node.on_refused, state, caller, now, turn)

    # ---- the counselor's leg --------------------------------------------------------
    def counselor_language(self, counselor_languages: tuple[str, ...] | list[str]) -> str:
        """Counselors are in China: Mandarin for the whisper when they speak it."""
        if self.flow.default_language in counselor_languages:
            return self.flow.default_language
        for lang in counselor_languages:
            if lang in self.flow.languages:
                return lang
        return self.flow.default_language

    def whisper(
        self,
        caller_language: str,
        waited_seconds: float,
        counselor_languages: tuple[str, ...] | list[str],
    ) -> list[Say | Play]:
        lang = self.counselor_language(counselor_languages)
        name = self.flow.language_names.get(lang, {}).get(caller_language, caller_language)
        waited = str(max(0, math.floor(waited_seconds / 60)))
        return self._prompts(("whisper",), lang, {"language": name, "waited": waited})

    def callback_whisper(
        self,
        caller_language: str,
        requested_at: str,
        waited_seconds: float,
        safety: tuple[str, ...],
        counselor_languages: tuple[str, ...] | list[str],
    ) -> list[Say | Play]:
        """A callback offered to a counselor: whom, since when, and what the caller said
        about the number (`safety`: callback_whisper_safe / _message_ok / _no_message)."""
        if "callback_whisper" not in self.flow.prompts:
            return self.whisper(caller_language, waited_seconds, counselor_languages)
        lang = self.counselor_language(counselor_languages)
        name = self.flow.language_names.get(lang, {}).get(caller_language, caller_language)
        waited = str(max(0, math.floor(waited_seconds / 60)))
        said = " ".join(self.flow.prompts[p][lang] for p in safety if p in self.flow.prompts)
        values = {"language": name, "waited": waited, "time": requested_at, "safety": said}
        return self._prompts(("callback_whisper",), lang, values)

    def callback_intro(self, caller_language: str, named: bool) -> list[Say | Play]:
        prompt = "callback_intro_named" if named else "callback_intro_neutral"
        if prompt not in self.flow.prompts:
            return []
        lang = (
            caller_language
            if caller_language in self.flow.languages
            else self.flow.default_language
        )
        return self._prompts((prompt,), lang)

    def counselor_prompt(
        self, prompt_id: str, counselor_languages: tuple[str, ...] | list[str]
    ) -> list[Say | Play]:
        return self._prompts((prompt_id,), self.counselor_language(counselor_languages))

    def safe_answer(self, state: CallState | None) -> Turn:
        """What a caller hears when something broke: an apology and another number."""
        return self._safe_end(state or CallState(flow=self.flow.name), Turn())

    # ---- the walk through the graph ----------------------------------------------
    def _run(
        self, node_id: str, state: CallState, caller: Caller, now: dt.datetime, turn: Turn
    ) -> Turn:
        for _ in range(MAX_CHAIN):
            node = self.flow.nodes[node_id]
            lang = self._lang(state)
            turn.steps.extend(self._prompts(node.say, lang))
            if isinstance(node, SayNode):
                node_id = node.next
            elif isinstance(node, EmergencyNode):
                turn.steps.extend(self._emergency(node, caller, lang))
                if node.urgent and not state.urgent:
                    state = replace(state, urgent=True)
                node_id = node.next
            elif isinstance(node, HoursNode):
                is_open = self.flow.hours.is_open(now)
                if not is_open:
                    turn.events.append(Event("after_hours", {}))
                node_id = node.open if is_open else node.closed
            elif isinstance(node, MenuNode):
                return self._menu(node, replace(state, tries=0), turn, retry=False, said=True)
            elif isinstance(node, QueueNode):
                # A language the flow does not offer (a stale URL) would name a queue that
                # no counselor serves; the prompts fall back to the default, so does the queue.
                language = self._lang(state)
                if self.staffed is not None and not self.staffed(language):
                    turn.events.append(Event("nobody_on_call", {"language": language}))
                    # Offer another language once; for the default one there is none left.
                    detour = node.on_nobody if language != self.flow.default_language else None
                    if detour is None:
                        turn.events.append(Event("overflow", {"reason": "nobody_on_call"}))
                    node_id = detour or node.on_error
                    continue
                queue = node.queue_name(language)
                turn.events.append(
                    Event("queued", {"queue": queue, "language": language, "urgent": state.urgent})
                )
                turn.steps.append(
                    Enqueue(
                        queue=queue,
                        wait=Next("queue_wait", node.id, state),
                        action=Next("queue_done", node.id, state),
                    )
                )
                turn.state = state
                return turn
            elif isinstance(node, DialNode):
                turn.steps.append(Dial(node.number, node.timeout))
                turn.events.append(Event("transferred", {"node": node.id}))
                node_id = node.next
            elif isinstance(node, CallbackNode):
                turn.events.append(Event("callback_offered", {"node": node.id}))
                return self._callback_stage(node, replace(state, tries=0), "m", turn, {})
            elif isinstance(node, VoicemailNode):
                done = Next("voicemail_done", node.id, state)
                turn.steps.append(
                    Record(done, Next("recording", node.id, state), max_length=node.max_length)
                )
                # Silence records nothing and Twilio moves on without calling the action.
                turn.steps.append(Redirect(done))
                turn.events.append(Event("voicemail_started", {"node": node.id}))
                turn.state = state
                return turn
            elif isinstance(node, HangupNode):
                turn.steps.append(Hangup())
                turn.events.append(Event("ended_by_flow", {"node": node.id}))
                turn.state = state
                return turn
            else:  # pragma: no cover - the loader only builds the types above
                raise TypeError(f"unknown node type {type(node).__name__}")
        return self._safe_end(state, turn)

    def _choose(
        self, choice: Choice, state: CallState, caller: Caller, now: dt.datetime, turn: Turn
    ) -> Turn:
        if choice.language and choice.language != state.language:
            state = replace(state, language=choice.language)
            turn.events.append(Event("language_chosen", {"language": choice.language}))
        if choice.second_language and choice.second_language != state.language:
            state = replace(state, second_language=choice.second_language)
            turn.events.append(Event("second_language", {"language": choice.second_language}))
        return self._run(choice.next, replace(state, tries=0), caller, now, turn)

    def _menu(
        self, node: MenuNode, state: CallState, turn: Turn, *, retry: bool, said: bool = False
    ) -> Turn:
        lang = self._lang(state)
        children: list[Audible] = []
        if retry:
            children.extend(self._prompts(node.retry_say, lang))
            children.extend(self._prompts(node.say, lang))
        elif said:
            # The node's own prompts were appended by _run; they belong inside the Gather so
            # the caller can answer before they end.
            count = len(self._prompts(node.say, lang))
            if count:
                moved = turn.steps[-count:]
                del turn.steps[-count:]
                children.extend(s for s in moved if isinstance(s, Say | Play))
        action = Next("menu", node.id, state)
        turn.steps.append(
            Gather(tuple(children), num_digits=1, timeout=node.timeout, action=action)
        )
        # No key pressed: Twilio moves past <Gather>, and the redirect reports the silence.
        turn.steps.append(Redirect(action))
        turn.state = state
        return turn

    def _emergency(self, node: EmergencyNode, caller: Caller, lang: str) -> list[Say | Play]:
        spoken = None
        if caller.emergency.known:
            spoken = describe(caller.emergency, self.flow.emergency_labels[lang])
        if spoken:
            return self._prompts(node.say_known, lang, {"emergency": spoken})
        return self._prompts(node.say_unknown, lang)

    def _safe_end(self, state: CallState, turn: Turn) -> Turn:
        lang = self._lang(state)
        turn.steps.extend(self._prompts(("error",), lang))
        if self.flow.fallback_number:
            turn.steps.extend(self._prompts(("fallback",), lang))
        if "goodbye" in self.flow.prompts:
            turn.steps.extend(self._prompts(("goodbye",), lang))
        turn.steps.append(Hangup())
        turn.events.append(Event("safe_answer", {}))
        turn.state = state
        return turn

    # ---- prompts --------------------------------------------------------------------
    def _lang(self, state: CallState) -> str:
        lang = state.language
        return lang if lang in self.flow.languages else self.flow.default_language

    def _prompts(
        self, prompt_ids: tuple[str, ...], lang: str, values: dict[str, str] | None = None
    ) -> list[Say | Play]:
        out: list[Say | Play] = []
        language = self.flow.languages[lang]
        filled = {
            "fallback": self._fallback_spoken(),
            "hotline": self.flow.hotline_name.get(lang, ""),
            "emergency": "",
            "ahead": "",
            "position": "",
            "minutes": "",
            # The caller's own language, named in it: what "no counselor speaks {language}" means.
            "language": self.flow.language_names.get(lang, {}).get(lang, ""),
            "waited": "",
            "number": "",
            "time": "",
            "safety": "",
            **(values or {}),
        }
        for prompt_id in prompt_ids:
            recorded = self.flow.recorded.get((prompt_id, lang))
            if recorded:
                out.append(Play(recorded, prompt=prompt_id))
                continue
            text = self.flow.prompts[prompt_id][lang].format_map(filled)
            out.append(Say(text, language.say_language, language.voice, prompt_id))
        return out

    def _fallback_spoken(self) -> str:
        number = self.flow.fallback_number
        return spell_digits(number) if number else ""
