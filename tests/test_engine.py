"""The IVR engine on the real flow: pure, with fixed clocks and callers from several countries."""

from __future__ import annotations

import datetime as dt
import math
import re
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.emergency import emergency_for
from hotline.flows import Caller, CallState, Engine, Flow, Next, Turn, load_flow, load_flows
from hotline.flows.model import QueueNode
from hotline.flows.steps import (
    Dial,
    Enqueue,
    Event,
    Gather,
    Hangup,
    Leave,
    Pause,
    Play,
    Redirect,
    Say,
    Step,
)

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "ivr_flows"
RECORDINGS = ROOT / "recordings"
SHANGHAI = ZoneInfo("Asia/Shanghai")
OPEN = dt.datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)  # a Wednesday
CLOSED = dt.datetime(2026, 12, 2, 3, 0, tzinfo=SHANGHAI)
HOLIDAY = dt.datetime(2027, 2, 8, 10, 0, tzinfo=SHANGHAI)  # Spring Festival, a Monday
LANGUAGES = {"1": "mandarin", "2": "cantonese", "3": "english"}
FALLBACK_SPOKEN = "8 6 2 4 1 2 3 4 5 6 7 8"


# The real flow, without its recordings directory: every prompt is text-to-speech, so the
# tests do not change when someone records a prompt. (test_recorded_prompt_is_played covers
# recordings.) load_flows with recordings is covered by tests/test_flows_loader.py.
FLOW: Flow = load_flow(FLOWS / "hotline.yaml")
ENGINE = Engine(FLOW)


def caller(region: str | None) -> Caller:
    return Caller(region=region, emergency=emergency_for(region))


ITALY = caller("IT")
JAPAN = caller("JP")
USA = caller("US")
UK = caller("GB")
UNKNOWN = caller(None)


def fresh() -> CallState:
    return CallState(flow=FLOW.name)


def in_language(language: str | None) -> CallState:
    return CallState(flow=FLOW.name, language=language)


# ---- reading turns ------------------------------------------------------------------------
def says(turn: Turn) -> list[Say]:
    """Every Say the caller hears, in order, including those inside a Gather."""
    out: list[Say] = []
    for step in turn.steps:
        children = step.children if isinstance(step, Gather) else (step,)
        out.extend(s for s in children if isinstance(s, Say))
    return out


def prompts(turn: Turn) -> list[str]:
    return [s.prompt for s in says(turn)]


def text_of(turn: Turn, prompt: str) -> str:
    found = [s.text for s in says(turn) if s.prompt == prompt]
    assert len(found) == 1, (prompt, prompts(turn))
    return found[0]


def kinds(turn: Turn) -> list[str]:
    return [e.kind for e in turn.events]


def event(turn: Turn, kind: str) -> Event:
    found = [e for e in turn.events if e.kind == kind]
    assert len(found) == 1, (kind, kinds(turn))
    return found[0]


def assert_spoken_in(turn: Turn, language: str) -> None:
    """Every Say is in the language's voice, and is that language's text of its prompt."""
    lang = FLOW.languages[language]
    assert says(turn)
    for say in says(turn):
        assert (say.say_language, say.voice) == (lang.say_language, lang.voice), say
        assert _matches_template(say.text, FLOW.prompts[say.prompt][language]), say


class _Hole(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "\0"


def _matches_template(spoken: str, template: str) -> bool:
    """Whether `spoken` is `template` with its placeholders filled in somehow."""
    parts = template.format_map(_Hole()).split("\0")
    return re.fullmatch(".*?".join(map(re.escape, parts)), spoken, re.DOTALL) is not None


def assert_waits_on_menu(turn: Turn, node: str = "language_menu") -> Gather:
    *_, gather, redirect = turn.steps
    assert isinstance(gather, Gather)
    assert gather.num_digits == 1
    assert gather.action.endpoint == "menu"
    assert gather.action.node == node
    assert gather.action.state == turn.state
    assert redirect == Redirect(gather.action)
    return gather


def enqueue_of(turn: Turn) -> Enqueue:
    last = turn.steps[-1]
    assert isinstance(last, Enqueue), turn.steps
    return last


def choose(key: str, who: Caller = ITALY, now: dt.datetime = OPEN) -> Turn:
    """Call in and press `key` at the language menu."""
    start = ENGINE.start(who, now)
    assert start.state is not None
    return ENGINE.menu_input("language_menu", start.state, who, now, key)


# ---- the first answer ---------------------------------------------------------------------
def test_start_greets_in_mandarin_and_waits_on_the_language_menu() -> None:
    turn = ENGINE.start(ITALY, OPEN)
    assert turn.state == fresh()
    assert turn.events == [Event("flow_started", {"flow": "hotline"})]
    first = turn.steps[0]
    assert first == Say(
        FLOW.prompts["welcome"]["mandarin"], "cmn-CN", "Google.cmn-CN-Wavenet-A", "welcome"
    )
    assert len(turn.steps) == 3
    gather = assert_waits_on_menu(turn)
    assert gather.timeout == 6
    assert [s.prompt for s in gather.children if isinstance(s, Say)] == ["language_menu"]
    assert_spoken_in(turn, "mandarin")


def test_start_is_the_same_for_every_caller_and_hour() -> None:
    first = ENGINE.start(ITALY, OPEN)
    for who in (JAPAN, USA, UK, UNKNOWN):
        for now in (OPEN, CLOSED, HOLIDAY):
            assert ENGINE.start(who, now).steps == first.steps


def test_recorded_prompt_is_played(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    (recordings / "hold").mkdir(parents=True)
    (recordings / "mandarin").mkdir()
    shutil.copy(RECORDINGS / "hold" / "hold-music.wav", recordings / "hold" / "hold-music.wav")
    (recordings / "mandarin" / "welcome.wav").write_bytes(b"RIFF")
    # A prompt with blanks to fill in is always spoken, even with a recording.
    (recordings / "mandarin" / "emergency_known.mp3").write_bytes(b"ID3")
    flow = load_flows(FLOWS, recordings).flows["hotline"]
    assert flow.recorded == {("welcome", "mandarin"): "mandarin/welcome.wav"}
    engine = Engine(flow)
    turn = engine.start(ITALY, OPEN)
    assert turn.steps[0] == Play("mandarin/welcome.wav", prompt="welcome")
    chosen = engine.menu_input("language_menu", fresh(), ITALY, OPEN, "1")
    assert "emergency_known" in prompts(chosen)


# ---- choosing a language ------------------------------------------------------------------
@pytest.mark.parametrize(("key", "language"), LANGUAGES.items())
def test_key_chooses_the_language_of_everything_after(key: str, language: str) -> None:
    turn = choose(key)
    assert kinds(turn)[:2] == ["menu_choice", "language_chosen"]
    assert event(turn, "menu_choice").data == {"node": "language_menu", "key": key}
    assert event(turn, "language_chosen").data == {"language": language}
    assert turn.state == in_language(language)
    assert_spoken_in(turn, language)
    assert prompts(turn) == ["emergency_known", "confidentiality", "queue_enter"]
    enqueue = enqueue_of(turn)
    assert enqueue.queue == f"hotline-{language}"
    assert enqueue.wait == Next("queue_wait", "queue", in_language(language))
    assert enqueue.action == Next("queue_done", "queue", in_language(language))
    assert event(turn, "queued").data == {
        "queue": f"hotline-{language}",
        "language": language,
        "urgent": False,
    }

    state = turn.state
    assert state is not None
    wait = ENGINE.queue_wait("queue", state, ITALY, 0, 2, None)
    assert_spoken_in(wait, language)
    done = ENGINE.queue_done("queue", state, ITALY, OPEN, "leave", 900)
    assert_spoken_in(done, language)
    closed = ENGINE.menu_input("language_menu", fresh(), ITALY, CLOSED, key)
    assert_spoken_in(closed, language)
    assert_spoken_in(ENGINE.safe_answer(state), language)


def test_texts_are_the_flow_prompts() -> None:
    turn = choose("3")
    for say in says(turn):
        assert _matches_template(say.text, FLOW.prompts[say.prompt]["english"]), say


# ---- the emergency notice -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("who", "english", "mandarin"),
    [
        (ITALY, "call the emergency number 1 1 2.", "拨打当地紧急电话 1 1 2。"),
        (
            JAPAN,
            "call the police on 1 1 0, an ambulance on 1 1 9.",
            "报警电话 1 1 0, 急救电话 1 1 9",
        ),
        (USA, "call the emergency number 9 1 1.", "拨打当地紧急电话 9 1 1。"),
        (UK, "call the emergency number 9 9 9.", "拨打当地紧急电话 9 9 9。"),
    ],
    ids=["IT", "JP", "US", "GB"],
)
def test_emergency_notice_names_the_callers_numbers(
    who: Caller, english: str, mandarin: str
) -> None:
    assert text_of(choose("3", who), "emergency_known").endswith(english)
    assert mandarin in text_of(choose("1", who), "emergency_known")
    assert "emergency_unknown" not in prompts(choose("2", who))


@pytest.mark.parametrize("who", [UNKNOWN, caller("AQ"), caller("KP")], ids=["none", "AQ", "KP"])
def test_emergency_notice_without_known_numbers_is_generic(who: Caller) -> None:
    for key, language in LANGUAGES.items():
        turn = choose(key, who)
        assert "emergency_known" not in prompts(turn)
        assert text_of(turn, "emergency_unknown") == FLOW.prompts["emergency_unknown"][language]


def test_japanese_police_and_ambulance_both_said_in_cantonese() -> None:
    text = text_of(choose("2", JAPAN), "emergency_known")
    assert "報警電話 1 1 0" in text
    assert "救護車電話 1 1 9" in text


# ---- no key, a wrong key ------------------------------------------------------------------
@pytest.mark.parametrize(("digits", "kind"), [(None, "menu_no_input"), ("7", "menu_invalid")])
def test_two_misses_are_retried_and_the_third_continues_in_mandarin(
    digits: str | None, kind: str
) -> None:
    state = ENGINE.start(USA, OPEN).state
    assert state is not None
    for attempt in (1, 2):
        turn = ENGINE.menu_input("language_menu", state, USA, OPEN, digits)
        assert event(turn, kind).data == {"node": "language_menu", "try": attempt}
        assert turn.state == CallState(flow="hotline", tries=attempt)
        gather = assert_waits_on_menu(turn)
        assert [s.prompt for s in gather.children if isinstance(s, Say)] == [
            "menu_retry",
            "language_menu",
        ]
        assert len(turn.steps) == 2  # everything is inside the Gather
        assert_spoken_in(turn, "mandarin")
        state = gather.action.state  # what Twilio sends back

    turn = ENGINE.menu_input("language_menu", state, USA, OPEN, digits)
    assert kinds(turn)[:3] == [kind, "menu_failed", "language_chosen"]
    assert event(turn, "language_chosen").data == {"language": "mandarin"}
    assert turn.state == in_language("mandarin")
    assert prompts(turn) == ["emergency_known", "confidentiality", "queue_enter"]
    assert_spoken_in(turn, "mandarin")
    assert enqueue_of(turn).queue == "hotline-mandarin"


def test_a_good_key_after_a_miss_resets_the_tries() -> None:
    missed = ENGINE.menu_input("language_menu", fresh(), UK, OPEN, None)
    assert missed.state is not None and missed.state.tries == 1
    turn = ENGINE.menu_input("language_menu", missed.state, UK, OPEN, "3")
    assert turn.state == in_language("english")
    assert enqueue_of(turn).wait.state.tries == 0


def test_only_the_first_key_counts() -> None:
    turn = ENGINE.menu_input("language_menu", fresh(), UK, OPEN, "32")
    assert turn.state == in_language("english")


# ---- the danger key -----------------------------------------------------------------------
def test_danger_key_marks_urgent_and_queues_first() -> None:
    turn = ENGINE.menu_input("language_menu", fresh(), ITALY, OPEN, "9")
    assert turn.events[0] == Event("marked_urgent", {"node": "language_menu"})
    assert turn.state == CallState(flow="hotline", urgent=True)
    assert prompts(turn) == ["danger_known", "queue_enter"]
    assert text_of(turn, "danger_known") == FLOW.prompts["danger_known"]["mandarin"].format(
        emergency="当地紧急电话 1 1 2"
    )
    assert_spoken_in(turn, "mandarin")
    enqueue = enqueue_of(turn)
    assert enqueue.queue == "hotline-mandarin"
    assert enqueue.wait.state.urgent
    assert enqueue.action.state.urgent
    assert event(turn, "queued").data["urgent"] is True
    assert "u" in enqueue.wait.state.params()

    # Urgent survives the wait loop and the way out of the queue.
    wait = ENGINE.queue_wait("queue", enqueue.wait.state, ITALY, 0, 1, None)
    redirect = wait.steps[-1]
    assert isinstance(redirect, Redirect)
    assert redirect.target.state.urgent
    done = ENGINE.queue_done("queue", enqueue.action.state, ITALY, OPEN, "leave", 900)
    assert done.state is not None and done.state.urgent


def test_danger_key_after_choosing_a_language_and_a_miss() -> None:
    state = CallState(flow="hotline", language="english", tries=2)
    turn = ENGINE.menu_input("language_menu", state, JAPAN, OPEN, "9")
    assert turn.state == CallState(flow="hotline", language="english", urgent=True)
    assert "police on 1 1 0, an ambulance on 1 1 9" in text_of(turn, "danger_known")
    assert_spoken_in(turn, "english")


def test_danger_key_with_unknown_numbers_and_when_closed() -> None:
    turn = ENGINE.menu_input("language_menu", fresh(), UNKNOWN, CLOSED, "9")
    assert kinds(turn)[0] == "marked_urgent"
    assert prompts(turn) == [
        "danger_unknown",
        "after_hours",
        "emergency_unknown",
        "offer_callback",
    ]
    assert isinstance(turn.steps[-2], Gather)  # a callback or a message, while closed
    assert turn.state is not None and turn.state.urgent


def test_a_stale_language_still_queues_where_counselors_are() -> None:
    state = CallState(flow="hotline", language="klingon")
    turn = ENGINE.menu_input("language_menu", state, USA, OPEN, "9")
    assert enqueue_of(turn).queue == "hotline-mandarin"
    assert_spoken_in(turn, "mandarin")


# ---- hours --------------------------------------------------------------------------------
def test_closed_says_after_hours_offers_a_callback_then_hangs_up() -> None:
    turn = choose("3", UK, CLOSED)
    assert prompts(turn) == [
        "emergency_known",
        "confidentiality",
        "after_hours",
        "emergency_known",
        "offer_callback",
    ]
    assert_waits_on_menu(turn, "after_hours_offer")
    assert not any(isinstance(s, Enqueue) for s in turn.steps)
    assert "after_hours" in kinds(turn)
    assert_spoken_in(turn, "english")
    assert turn.state is not None
    silence = ENGINE.menu_input("after_hours_offer", turn.state, UK, CLOSED, None)
    assert prompts(silence) == ["goodbye"]
    assert silence.steps[-1] == Hangup()
    assert event(silence, "ended_by_flow").data == {"node": "goodbye"}


def test_spring_festival_is_closed() -> None:
    assert FLOW.hours.is_holiday(HOLIDAY.date())
    ordinary_monday = HOLIDAY - dt.timedelta(days=7)
    assert not FLOW.hours.is_holiday(ordinary_monday.date())
    assert isinstance(choose("1", USA, ordinary_monday).steps[-1], Enqueue)
    turn = choose("1", USA, HOLIDAY)
    assert "after_hours" in kinds(turn)
    assert not any(isinstance(s, Enqueue) for s in turn.steps)


@pytest.mark.parametrize(
    ("now", "is_open"),
    [
        (dt.datetime(2026, 12, 2, 8, 29, tzinfo=SHANGHAI), False),
        (dt.datetime(2026, 12, 2, 8, 30, tzinfo=SHANGHAI), True),
        (dt.datetime(2026, 12, 2, 23, 59, tzinfo=SHANGHAI), True),
        (dt.datetime(2026, 12, 3, 0, 0, tzinfo=SHANGHAI), False),
        # The same instants seen from a caller's own time zone.
        (dt.datetime(2026, 12, 2, 3, 0, tzinfo=ZoneInfo("Europe/Rome")), True),
        (dt.datetime(2026, 12, 1, 19, 0, tzinfo=ZoneInfo("America/New_York")), False),
        # New Year's Eve closes early (an override).
        (dt.datetime(2026, 12, 31, 17, 59, tzinfo=SHANGHAI), True),
        (dt.datetime(2026, 12, 31, 18, 0, tzinfo=SHANGHAI), False),
    ],
)
def test_hours_decide_between_queue_and_after_hours(now: dt.datetime, is_open: bool) -> None:
    turn = choose("1", ITALY, now)
    assert isinstance(turn.steps[-1], Enqueue if is_open else Redirect)
    assert ("after_hours" in kinds(turn)) is not is_open


# ---- waiting in the queue -----------------------------------------------------------------
def test_first_wait_round_announces_position_and_estimate() -> None:
    state = in_language("english")
    turn = ENGINE.queue_wait("queue", state, ITALY, 0, 3, None)
    assert prompts(turn) == ["queue_position", "queue_estimate", "queue_options"]
    assert text_of(turn, "queue_position") == "There are 2 callers ahead of you."
    minutes = math.ceil(3 * 240 / 60)
    assert minutes == 12
    assert text_of(turn, "queue_estimate") == (
        "The expected wait is about 12 minutes. Thank you for waiting."
    )
    gather = turn.steps[0]
    assert isinstance(gather, Gather) and gather.num_digits == 1
    assert gather.action == Next("queue_key", "queue", state, {"a": "0"})
    assert turn.steps[1:] == [
        Play("hold/hold-music.wav"),
        Redirect(Next("queue_wait", "queue", state, {"a": "0"})),
    ]
    assert turn.events == [Event("position_announced", {"position": 3, "minutes": 12})]
    assert turn.state == state


def test_next_in_line_hears_the_next_prompt() -> None:
    turn = ENGINE.queue_wait("queue", in_language("mandarin"), ITALY, 5, 1, None)
    assert prompts(turn) == ["queue_next", "queue_options"]
    assert_spoken_in(turn, "mandarin")
    assert turn.steps[1:] == [
        Play("hold/hold-music.wav"),
        Redirect(Next("queue_wait", "queue", in_language("mandarin"), {"a": "5"})),
    ]


def test_announcements_repeat_only_every_announce_every_seconds() -> None:
    state = in_language("cantonese")
    quiet = ENGINE.queue_wait("queue", state, ITALY, 59, 2, 0)
    assert quiet.steps == [
        Play("hold/hold-music.wav"),
        Redirect(Next("queue_wait", "queue", state, {"a": "0"})),
    ]
    assert quiet.events == []
    again = ENGINE.queue_wait("queue", state, ITALY, 60, 2, 0)
    assert prompts(again) == ["queue_position", "queue_estimate", "queue_options"]
    assert "1位" in text_of(again, "queue_position")
    assert "8分鐘" in text_of(again, "queue_estimate")
    assert again.steps[-1] == Redirect(Next("queue_wait", "queue", state, {"a": "60"}))


def test_no_position_means_music_only() -> None:
    turn = ENGINE.queue_wait("queue", fresh(), ITALY, 10, None, None)
    assert turn.steps == [
        Play("hold/hold-music.wav"),
        Redirect(Next("queue_wait", "queue", fresh())),
    ]


@pytest.mark.parametrize(
    ("seconds_per_caller", "minutes"),
    [(120.0, 6), (None, 12), (0.0, 12), (-5.0, 12), (float("nan"), 12), (float("inf"), 12)],
)
def test_estimate_uses_a_measured_pace_when_it_is_sensible(
    seconds_per_caller: float | None, minutes: int
) -> None:
    turn = ENGINE.queue_wait("queue", in_language("english"), ITALY, 0, 3, None, seconds_per_caller)
    assert event(turn, "position_announced").data == {"position": 3, "minutes": minutes}
    assert f"about {minutes} minutes" in text_of(turn, "queue_estimate")


@pytest.mark.parametrize("queue_time", [900, 901, 5000])
def test_max_wait_leaves_the_queue(queue_time: int) -> None:
    turn = ENGINE.queue_wait("queue", in_language("english"), ITALY, queue_time, 3, 840)
    assert turn.steps == [Leave()]
    assert turn.events == [Event("queue_max_wait", {"queue_time": queue_time})]


def test_just_before_the_partner_rollover_still_waits() -> None:
    node = ENGINE.flow.nodes["queue"]
    assert isinstance(node, QueueNode) and node.partner_after == 840
    turn = ENGINE.queue_wait("queue", in_language("english"), ITALY, 839, 3, 800)
    assert isinstance(turn.steps[-1], Redirect)


def test_a_long_wait_rolls_over_to_the_partner_line() -> None:
    state = in_language("english")
    turn = ENGINE.queue_wait("queue", state, ITALY, 840, 3, 800)
    assert turn.steps == [Leave()]
    assert turn.events == [Event("queue_partner_rollover", {"queue_time": 840})]
    done = ENGINE.queue_done("queue", state, ITALY, OPEN, "leave", 841)
    assert event(done, "overflow").data == {"reason": "partner"}
    dials = [s for s in done.steps if isinstance(s, Dial)]
    assert dials == [Dial("+862412345678", 40)]
    assert "partner support line" in " ".join(s.text for s in done.steps if isinstance(s, Say))
    # After the partner line: the overflow offers a callback or a message.
    assert isinstance(done.steps[-2], Gather)


def test_nobody_on_call_for_the_language_is_said_at_once() -> None:
    engine = Engine(ENGINE.flow, staffed=lambda language: language == "mandarin")
    turn = engine.menu_input("language_menu", CallState(flow="hotline"), ITALY, OPEN, "3")
    assert not any(isinstance(s, Enqueue) for s in turn.steps)
    assert "no counselor who speaks English is on duty" in " ".join(
        c.text
        for g in turn.steps
        if isinstance(g, Gather)
        for c in g.children
        if isinstance(c, Say)
    )
    assert event(turn, "nobody_on_call").data == {"language": "english"}
    # Pressing 1 takes the Mandarin queue, which is staffed.
    again = engine.menu_input("nobody_on_call", turn.state, ITALY, OPEN, "1")  # type: ignore[arg-type]
    enqueue = next(s for s in again.steps if isinstance(s, Enqueue))
    assert enqueue.queue == "hotline-mandarin"


def test_nobody_on_call_at_all_goes_to_overflow() -> None:
    engine = Engine(ENGINE.flow, staffed=lambda language: False)
    turn = engine.menu_input("language_menu", CallState(flow="hotline"), ITALY, OPEN, "1")
    assert not any(isinstance(s, Enqueue) for s in turn.steps)
    assert event(turn, "overflow").data == {"reason": "nobody_on_call"}
    assert_waits_on_menu(turn, "overflow")


def test_the_whisper_speaks_the_counselors_language() -> None:
    steps = ENGINE.whisper("cantonese", 185, ["mandarin", "english"])
    assert [s.text for s in steps if isinstance(s, Say)] == [
        "这里是心理援助热线。一位说粤语的来电者已经等待了3分钟。接听请按1，拒绝请按2。"
    ]
    english_only = ENGINE.whisper("cantonese", 30, ["english"])
    assert "A caller speaking Cantonese has waited 0 minutes" in english_only[0].text  # type: ignore[union-attr]


# ---- leaving the queue --------------------------------------------------------------------
@pytest.mark.parametrize("result", ["bridged", "hangup", "bridging-in-process", "redirected"])
def test_queue_done_after_a_call_or_a_hangup_just_hangs_up(result: str) -> None:
    state = in_language("english")
    turn = ENGINE.queue_done("queue", state, ITALY, OPEN, result, 120)
    assert turn.steps == [Hangup()]
    assert turn.events == [Event("left_queue", {"result": result, "queue_time": 120})]
    assert turn.state == state


def test_queue_done_leave_overflows_with_the_fallback_number() -> None:
    turn = ENGINE.queue_done("queue", in_language("english"), UK, OPEN, "leave", 900)
    assert prompts(turn) == ["overflow", "fallback", "offer_callback"]
    assert text_of(turn, "fallback") == f"You can call the 24-hour support line: {FALLBACK_SPOKEN}."
    assert_waits_on_menu(turn, "overflow")
    assert kinds(turn) == ["left_queue", "overflow"]
    assert event(turn, "overflow").data == {"reason": "max_wait"}
    assert_spoken_in(turn, "english")


@pytest.mark.parametrize("result", ["error", "queue-full", "system-error", "", "gibberish" * 10])
def test_queue_done_errors_overflow_via_on_error(result: str) -> None:
    turn = ENGINE.queue_done("queue", in_language("mandarin"), UK, OPEN, result, None)
    assert prompts(turn) == ["overflow", "fallback", "offer_callback"]
    assert FALLBACK_SPOKEN in text_of(turn, "fallback")
    assert_waits_on_menu(turn, "overflow")
    assert event(turn, "overflow").data == {"reason": result[:32]}
    assert event(turn, "left_queue").data == {"result": result[:32], "queue_time": None}


# ---- stale or forged node ids -------------------------------------------------------------
@pytest.mark.parametrize("node", ["nope", "queue", "welcome", "", "x" * 500])
def test_menu_input_on_an_unknown_menu_starts_over(node: str) -> None:
    turn = ENGINE.menu_input(node, in_language("english"), ITALY, OPEN, "1")
    assert event(turn, "unknown_node").data == {"node": node[:64]}
    assert_waits_on_menu(turn)
    assert prompts(turn) == ["welcome", "language_menu"]


@pytest.mark.parametrize("node", ["nope", "language_menu", ""])
def test_queue_wait_on_an_unknown_queue_leaves(node: str) -> None:
    turn = ENGINE.queue_wait(node, fresh(), ITALY, 10, 2, None)
    assert turn.steps == [Leave()]
    assert kinds(turn) == ["unknown_node"]


@pytest.mark.parametrize("node", ["nope", "goodbye", ""])
def test_queue_done_on_an_unknown_queue_ends_safely(node: str) -> None:
    turn = ENGINE.queue_done(node, in_language("english"), ITALY, OPEN, "leave", 30)
    assert prompts(turn) == ["error", "fallback", "goodbye"]
    assert turn.steps[-1] == Hangup()
    assert kinds(turn) == ["left_queue", "unknown_node", "safe_answer"]
    assert ENGINE.queue_done(node, fresh(), ITALY, OPEN, "bridged", 30).steps == [Hangup()]


# ---- the safe answer ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("state", "language"),
    [
        (None, "mandarin"),
        (in_language("english"), "english"),
        (in_language("cantonese"), "cantonese"),
        (in_language("klingon"), "mandarin"),
    ],
)
def test_safe_answer_apologises_gives_the_fallback_and_hangs_up(
    state: CallState | None, language: str
) -> None:
    turn = ENGINE.safe_answer(state)
    assert prompts(turn) == ["error", "fallback", "goodbye"]
    assert FALLBACK_SPOKEN in text_of(turn, "fallback")
    assert turn.steps[-1] == Hangup()
    assert kinds(turn) == ["safe_answer"]
    assert_spoken_in(turn, language)
    assert turn.state == (state or fresh())


# ---- any input at the menu ----------------------------------------------------------------
def _ends_well(steps: list[Step]) -> bool:
    if len(steps) >= 2 and isinstance(steps[-2], Gather) and isinstance(steps[-1], Redirect):
        return steps[-1].target == steps[-2].action
    return bool(steps) and isinstance(steps[-1], Enqueue | Hangup)


@settings(deadline=None, max_examples=200)
@given(
    digits=st.none() | st.text(alphabet="0123456789*#", max_size=5),
    tries=st.integers(0, 10),
    language=st.sampled_from([*FLOW.languages, None]),
    urgent=st.booleans(),
    now=st.sampled_from([OPEN, CLOSED, HOLIDAY]),
    who=st.sampled_from([ITALY, JAPAN, USA, UK, UNKNOWN]),
)
def test_menu_input_always_ends_the_answer_properly(
    digits: str | None,
    tries: int,
    language: str | None,
    urgent: bool,
    now: dt.datetime,
    who: Caller,
) -> None:
    state = CallState(flow=FLOW.name, language=language, urgent=urgent, tries=tries)
    turn = ENGINE.menu_input("language_menu", state, who, now, digits)
    assert _ends_well(turn.steps), turn.steps
    assert turn.state is not None
    assert not any(isinstance(s, Pause | Leave) for s in turn.steps)
    spoken = turn.state.language or "mandarin"
    assert_spoken_in(turn, spoken)
    if digits and digits[0] == "9":
        assert turn.state.urgent


def test_a_menu_can_record_a_second_language(tmp_path: Path) -> None:
    text = (FLOWS / "hotline.yaml").read_text(encoding="utf-8")
    text = text.replace(
        '"2": {language: cantonese, next: emergency_notice}',
        '"2": {language: cantonese, second_language: mandarin, next: emergency_notice}',
    )
    path = tmp_path / "hotline.yaml"
    path.write_text(text, encoding="utf-8")
    engine = Engine(load_flow(path))
    turn = engine.menu_input("language_menu", CallState(flow="hotline"), ITALY, OPEN, "2")
    enqueue = next(s for s in turn.steps if isinstance(s, Enqueue))
    assert enqueue.queue == "hotline-cantonese"
    assert enqueue.wait.state.second_language == "mandarin"
    assert enqueue.wait.state.params()["s"] == "mandarin"
    assert event(turn, "second_language").data == {"language": "mandarin"}
