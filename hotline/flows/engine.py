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

from ..emergency import EmergencyInfo, describe
from ..phone import spell_digits
from .model import (
    Choice,
    DialNode,
    EmergencyNode,
    Flow,
    HangupNode,
    HoursNode,
    MenuNode,
    QueueNode,
    SayNode,
)
from .steps import (
    Audible,
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


class Engine:
    def __init__(self, flow: Flow, staffed: Callable[[str], bool] | None = None) -> None:
        """`staffed(language)` says whether anyone who speaks it is on call now; without
        it the engine assumes someone is."""
        self.flow = flow
        self.staffed = staffed

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
        if node.music:
            turn.steps.append(Play(node.music))
        else:
            turn.steps.append(Pause(10))
        extra = {"a": str(announced)} if announced is not None else {}
        turn.steps.append(Redirect(Next("queue_wait", node.id, state, extra)))
        return turn

    def queue_done(
        self,
        node_id: str,
        state: CallState,
        caller: Caller,
        now: dt.datetime,
        result: str,
        queue_time: int | None,
    ) -> Turn:
        """Twilio's Enqueue action: the caller has left the queue, one way or another."""
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
