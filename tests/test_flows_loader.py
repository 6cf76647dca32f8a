"""The flow loader: the real flow loads, and every way a manager can break a flow file is
rejected with the file, the line and the reason.

Broken flows are made from the text of the real file with small string replacements, so the
line numbers in the errors are checked against the line a manager would look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.flows import Flow, FlowError, load_flow, load_flows
from hotline.flows.loader import PROMPT_FIELDS
from hotline.flows.model import HangupNode, MenuNode, QueueNode

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "ivr_flows"
RECORDINGS = ROOT / "recordings"
REAL_FILE = FLOWS / "hotline.yaml"
REAL = REAL_FILE.read_text(encoding="utf-8")

Replacement = tuple[str, str]


def mutate(*replacements: Replacement, text: str = REAL) -> str:
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} must occur exactly once in the flow text"
        text = text.replace(old, new)
    return text


def line_of(text: str, needle: str) -> int:
    assert text.count(needle) == 1, f"{needle!r} must occur exactly once in the flow text"
    return text.count("\n", 0, text.index(needle)) + 1


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(directory: Path) -> FlowError:
    with pytest.raises(FlowError) as info:
        load_flows(directory, RECORDINGS)
    return info.value


def assert_error(
    error: FlowError, source: Path, line: int | None, where: str, *reasons: str
) -> None:
    location = f"{source}:{line}" if line else str(source)
    prefix = f"{location}: {where}: " if where else f"{location}: "
    assert str(error).startswith(prefix), str(error)
    assert error.source == str(source)
    assert error.line == line
    assert error.where == where
    # The field is named once, as `where`, not again at the start of the reason.
    assert not (where and error.message.startswith(f"{where}:")), str(error)
    for reason in reasons:
        assert reason in error.message, str(error)


# ---- the real flow ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_flow() -> Flow:
    flows = load_flows(FLOWS, RECORDINGS)
    assert flows.default == "hotline"
    return flows.flows["hotline"]


def test_the_real_flow_loads(real_flow: Flow) -> None:
    assert real_flow.source == REAL_FILE
    assert list(real_flow.languages) == ["mandarin", "cantonese", "english"]
    assert real_flow.default_language == "mandarin"
    assert real_flow.start == "welcome"
    assert real_flow.danger_key == "9"
    assert real_flow.danger_node == "danger"
    assert real_flow.fallback_number == "+862412345678"
    assert real_flow.numbers == ()
    assert isinstance(real_flow.nodes["language_menu"], MenuNode)
    assert isinstance(real_flow.nodes["goodbye"], HangupNode)
    queue = real_flow.nodes["queue"]
    assert isinstance(queue, QueueNode)
    assert queue.music == "hold/hold-music.wav"
    assert queue.queue_name("english") == "hotline-english"
    assert (RECORDINGS / queue.music).is_file()


def test_every_prompt_exists_in_all_three_languages(real_flow: Flow) -> None:
    for prompt_id, texts in real_flow.prompts.items():
        assert set(texts) == {"mandarin", "cantonese", "english"}, prompt_id
        assert all(text.strip() for text in texts.values()), prompt_id
    used = {p for node in real_flow.nodes.values() for p in _prompt_ids(node)}
    assert used <= set(real_flow.prompts)
    assert {"error", "fallback", "goodbye"} <= set(real_flow.prompts)
    for lang in real_flow.languages:
        assert real_flow.hotline_name[lang]
        assert real_flow.emergency_labels[lang]["general"]


def _prompt_ids(node: object) -> tuple[str, ...]:
    return tuple(p for field in PROMPT_FIELDS for p in getattr(node, field, ()))


def test_node_lines_are_the_lines_of_their_keys(real_flow: Flow) -> None:
    for node in real_flow.nodes.values():
        assert REAL.splitlines()[node.line - 1] == f"  {node.id}:"


def test_load_flow_without_recordings_skips_the_media_check(tmp_path: Path) -> None:
    path = write(tmp_path, "hotline.yaml", mutate(("hold/hold-music.wav", "hold/elsewhere.wav")))
    flow = load_flow(path)
    assert flow.recorded == {}
    with pytest.raises(FlowError, match="no audio file"):
        load_flow(path, RECORDINGS)


# ---- one flow file, broken in one place -------------------------------------------------
BROKEN: list[tuple[str, list[Replacement], str, str, tuple[str, ...]]] = [
    # (id, replacements, needle on the offending line, where, reason fragments)
    (
        "invalid-yaml",
        [("    next: language_menu\n", "    next: language_menu: oops\n")],
        "next: language_menu: oops",
        "",
        ("not valid YAML", "mapping values are not allowed here"),
    ),
    (
        "invalid-yaml-tab",
        [("    say: [confidentiality]\n", "\tsay: [confidentiality]\n")],
        "\tsay: [confidentiality]",
        "",
        ("not valid YAML",),
    ),
    (
        "unknown-top-level-key",
        [("start: welcome\n", "start: welcome\ncolour: blue\n")],
        "colour: blue",
        "colour",
        ("unknown setting 'colour'",),
    ),
    (
        "start-names-no-node",
        [("start: welcome\n", "start: welcom\n")],
        "start: welcom\n",
        "start",
        ("no node named 'welcom'",),
    ),
    (
        "say-next-unknown",
        [("    next: language_menu\n", "    next: language_men\n")],
        "next: language_men\n",
        "nodes.welcome.next",
        ("leads to 'language_men'", "not a node"),
    ),
    (
        "emergency-next-unknown",
        [("    next: confidentiality\n", "    next: confidentiallity\n")],
        "next: confidentiallity",
        "nodes.emergency_notice.next",
        ("leads to 'confidentiallity'",),
    ),
    (
        "menu-option-next-unknown",
        [('next: emergency_notice}\n      "3"', 'next: emergency_notise}\n      "3"')],
        "next: emergency_notise}",
        "nodes.language_menu.options.2.next",
        ("leads to 'emergency_notise'",),
    ),
    (
        "menu-on-failure-unknown",
        [
            (
                "on_failure: {language: mandarin, next: emergency_notice}",
                "on_failure: {language: mandarin, next: nowhere}",
            )
        ],
        "on_failure: {language: mandarin, next: nowhere}",
        "nodes.language_menu.on_failure.next",
        ("leads to 'nowhere'",),
    ),
    (
        "hours-open-unknown",
        [("    open: queue\n", "    open: queues\n")],
        "open: queues",
        "nodes.opening_hours.open",
        ("leads to 'queues'",),
    ),
    (
        "hours-closed-unknown",
        [("    closed: after_hours\n", "    closed: after_hour\n")],
        "closed: after_hour\n",
        "nodes.opening_hours.closed",
        ("leads to 'after_hour'",),
    ),
    (
        "queue-on-timeout-unknown",
        [("    on_timeout: overflow\n", "    on_timeout: overflw\n")],
        "on_timeout: overflw",
        "nodes.queue.on_timeout",
        ("leads to 'overflw'",),
    ),
    (
        "queue-on-error-unknown",
        [("    on_error: overflow\n", "    on_error: over_flow\n")],
        "on_error: over_flow",
        "nodes.queue.on_error",
        ("leads to 'over_flow'",),
    ),
    (
        "unreachable-node",
        [
            (
                "  goodbye:\n    type: hangup\n",
                "  orphan:\n    type: hangup\n\n  goodbye:\n    type: hangup\n",
            )
        ],
        "  orphan:",
        "nodes.orphan",
        ("unreachable from start",),
    ),
    (
        "unreachable-without-danger",
        [('danger:\n  key: "9"\n  node: danger\n', "")],
        "  danger:\n    type: emergency",
        "nodes.danger",
        ("unreachable from start",),
    ),
    (
        "unknown-node-type",
        [("    type: say\n    say: [welcome]", "    type: speak\n    say: [welcome]")],
        "type: speak",
        "nodes.welcome.type",
        ("type must be one of", "'speak'"),
    ),
    (
        "node-type-not-a-name",
        [("    type: say\n    say: [welcome]", "    type: [say]\n    say: [welcome]")],
        "type: [say]",
        "nodes.welcome.type",
        ("type must be one of",),
    ),
    (
        "prompt-missing-a-language",
        [
            (
                "    english: Hello, this is the psychological support hotline. We are here to listen.\n",
                "",
            )
        ],
        "  welcome:\n    mandarin:",
        "prompts.welcome",
        ("missing the english text",),
    ),
    (
        "prompt-unknown-language",
        [("We are here to listen.\n", "We are here to listen.\n    french: Bonjour.\n")],
        "french: Bonjour.",
        "prompts.welcome.french",
        ("'french' is not one of the flow's languages",),
    ),
    (
        "unknown-placeholder",
        [("Thank you for calling.", "Thank you for calling, {name}.")],
        "Thank you for calling, {name}.",
        "prompts.goodbye.english",
        ("unknown placeholder {name}",),
    ),
    (
        "placeholder-with-format-spec",
        [("wait is about {minutes} minutes", "wait is about {minutes:d} minutes")],
        "wait is about {minutes:d} minutes",
        "prompts.queue_estimate.english",
        ("broken placeholder", "plain {minutes}"),
    ),
    (
        "placeholder-unclosed",
        [("拨打{emergency}。\n", "拨打{emergency。\n")],
        "拨打{emergency。",
        "prompts.emergency_known.mandarin",
        ("broken placeholder",),
    ),
    (
        "node-names-unknown-prompt",
        [("    say: [confidentiality]\n", "    say: [confidentialty]\n")],
        "say: [confidentialty]",
        "nodes.confidentiality.say[0]",
        ("no prompt named 'confidentialty'",),
    ),
    (
        "node-names-unknown-prompt-second",
        [("say: [overflow, fallback, offer", "say: [overflow, fallbak, offer")],
        "say: [overflow, fallbak, offer_callback]",
        "nodes.overflow.say[1]",
        ("no prompt named 'fallbak'",),
    ),
    (
        "menu-retry-names-unknown-prompt",
        [("retry_say: [menu_retry]", "retry_say: [menu_retyr]")],
        "retry_say: [menu_retyr]",
        "nodes.language_menu.retry_say[0]",
        ("no prompt named 'menu_retyr'",),
    ),
    (
        "node-defined-twice",
        [
            (
                "  goodbye:\n    type: hangup\n",
                "  goodbye:  # first\n    type: hangup\n\n  goodbye:\n    type: hangup\n",
            )
        ],
        "  goodbye:\n    type: hangup\n    say",
        "nodes",
        ("duplicate key 'goodbye'",),
    ),
    (
        "menu-option-key-twice",
        [
            (
                '      "3": {language: english, next: emergency_notice}\n',
                '      "3": {language: english, next: emergency_notice}\n'
                "      3: {language: english, next: goodbye}\n",
            )
        ],
        "3: {language: english, next: goodbye}",
        "nodes.language_menu.options",
        ("duplicate key '3'",),
    ),
    (
        "top-level-key-twice",
        [("start: welcome\n", "start: welcome\nstart: goodbye\n")],
        "start: goodbye",
        "",
        ("duplicate key 'start'",),
    ),
    (
        "menu-key-not-a-phone-key",
        [('      "3": {language: english', '      "A": {language: english')],
        '"A": {language: english',
        "nodes.language_menu.options.A",
        ("'A' is not a key on a phone",),
    ),
    (
        "menu-key-two-digits",
        [('      "3": {language: english', '      "33": {language: english')],
        '"33": {language: english',
        "nodes.language_menu.options.33",
        ("'33' is not a key on a phone",),
    ),
    (
        "menu-option-uses-danger-key",
        [('      "3": {language: english', '      "9": {language: english')],
        '"9": {language: english',
        "nodes.language_menu.options.9",
        ("key 9 is the danger key",),
    ),
    (
        "menu-option-unknown-language",
        [('      "3": {language: english', '      "3": {language: french')],
        '"3": {language: french',
        "nodes.language_menu.options.3.language",
        ("'french' is not one of the flow's languages",),
    ),
    (
        "danger-key-not-a-phone-key",
        [('  key: "9"\n', '  key: "x"\n')],
        'key: "x"',
        "danger.key",
        ("'x' is not a key on a phone",),
    ),
    (
        "danger-node-unknown",
        [("  node: danger\n", "  node: dangr\n")],
        "node: dangr",
        "danger.node",
        ("no node named 'dangr'",),
    ),
    (
        "hours-bad-time",
        [('    mon: ["08:30-24:00"]', '    mon: ["08:30-25:00"]')],
        'mon: ["08:30-25:00"]',
        "hours.weekly.mon[0]",
        ("'25:00' is not a time HH:MM",),
    ),
    (
        "hours-bad-timezone",
        [("  timezone: Asia/Shanghai\n", "  timezone: Mars/Base\n")],
        "timezone: Mars/Base",
        "hours.timezone",
        ("unknown time zone 'Mars/Base'",),
    ),
    (
        "hours-bad-weekday",
        [('    wed: ["08:30-24:00"]', '    wdn: ["08:30-24:00"]')],
        'wdn: ["08:30-24:00"]',
        "hours.weekly.wdn",
        ("unknown weekday",),
    ),
    (
        "hours-overlapping-windows",
        [('    fri: ["08:30-24:00"]', '    fri: ["08:30-12:00", "11:00-13:00"]')],
        'fri: ["08:30-12:00", "11:00-13:00"]',
        "hours.weekly.fri[1]",
        ("overlaps",),
    ),
    (
        "hours-unknown-holiday-country",
        [("  holidays: CN\n", "  holidays: XX\n")],
        "holidays: XX",
        "hours.holidays",
        ("unknown holidays country 'XX'",),
    ),
    (
        "hours-override-impossible-date",
        [("{date: 2026-12-31,", "{date: 2026-13-31,")],
        "{date: 2026-13-31,",
        "hours.overrides[0].date",
        ("cannot read the value",),
    ),
    (
        "hours-override-twice",
        [
            (
                '    - {date: 2026-12-31, hours: ["08:30-18:00"]}\n',
                '    - {date: 2026-12-31, hours: ["08:30-18:00"]}\n'
                "    - {date: 2026-12-31, closed: true}\n",
            )
        ],
        "{date: 2026-12-31, closed: true}",
        "hours.overrides[1].date",
        ("already overridden",),
    ),
    (
        "bad-fallback-number",
        [('fallback_number: "+862412345678"', 'fallback_number: "+86 12"')],
        'fallback_number: "+86 12"',
        "fallback_number",
        ("not a valid phone number",),
    ),
    (
        "fallback-placeholder-without-number",
        [('fallback_number: "+862412345678"\n', "")],
        "心理援助热线：{fallback}",
        "prompts.fallback.mandarin",
        ("uses {fallback}", "no fallback_number"),
    ),
    (
        "loop-of-say-nodes",
        [
            (
                "    say: [confidentiality]\n    next: opening_hours\n",
                "    say: [confidentiality]\n    next: emergency_notice\n",
            )
        ],
        "  confidentiality:\n    type: say",
        "nodes.confidentiality",
        ("loops without waiting for the caller", "confidentiality -> emergency_notice"),
    ),
    (
        "queue-music-missing",
        [("music: hold/hold-music.wav", "music: hold/no-such-music.wav")],
        "music: hold/no-such-music.wav",
        "nodes.queue.music",
        ("no audio file recordings/hold/no-such-music.wav",),
    ),
    (
        "queue-music-outside-recordings",
        [("music: hold/hold-music.wav", "music: ../ivr_flows/hotline.yaml")],
        "music: ../ivr_flows/hotline.yaml",
        "nodes.queue.music",
        ("no audio file",),
    ),
    (
        "queue-template-unknown-placeholder",
        [('queue: "hotline-{language}"', 'queue: "hotline-{lang}"')],
        'queue: "hotline-{lang}"',
        "nodes.queue.queue",
        ("only {language} may be filled in",),
    ),
    (
        "queue-template-empty-placeholder",
        [('queue: "hotline-{language}"', 'queue: "hotline-{}"')],
        'queue: "hotline-{}"',
        "nodes.queue.queue",
        ("only {language} may be filled in",),
    ),
    (
        "queue-template-format-spec",
        [('queue: "hotline-{language}"', 'queue: "hotline-{language:d}"')],
        'queue: "hotline-{language:d}"',
        "nodes.queue.queue",
        ("broken placeholder",),
    ),
    (
        "retries-too-many",
        [("    retries: 2\n", "    retries: 9\n")],
        "retries: 9",
        "nodes.language_menu.retries",
        ("from 0 to 5",),
    ),
    (
        "retries-negative",
        [("    retries: 2\n", "    retries: -1\n")],
        "retries: -1",
        "nodes.language_menu.retries",
        ("from 0 to 5",),
    ),
    (
        "retries-not-a-number",
        [("    retries: 2\n", "    retries: two\n")],
        "retries: two",
        "nodes.language_menu.retries",
        ("from 0 to 5",),
    ),
    (
        "max-wait-zero",
        [("max_wait: 900", "max_wait: 0")],
        "max_wait: 0",
        "nodes.queue.max_wait",
        ("whole number above 0",),
    ),
    (
        "max-wait-negative",
        [("max_wait: 900", "max_wait: -60")],
        "max_wait: -60",
        "nodes.queue.max_wait",
        ("whole number above 0",),
    ),
    (
        "timeout-zero",
        [("    timeout: 6\n", "    timeout: 0\n")],
        "timeout: 0",
        "nodes.language_menu.timeout",
        ("whole number above 0",),
    ),
    (
        "numbers-not-a-list",
        [("start: welcome\n", "start: welcome\nnumbers: 5\n")],
        "numbers: 5",
        "numbers",
        ("must be a list",),
    ),
    (
        "emergency-labels-unknown-language",
        [("emergency_labels:\n", "emergency_labels:\n  french: {general: le numéro d'urgence}\n")],
        "french: {general",
        "emergency_labels.french",
        ("'french' is not one of the flow's languages",),
    ),
    (
        "default-language-unknown",
        [("default_language: mandarin", "default_language: french")],
        "default_language: french",
        "default_language",
        ("'french' is not in languages",),
    ),
    (
        "unknown-yaml-tag",
        [("    timeout: 6\n", "    timeout: !seconds 6\n")],
        "timeout: !seconds 6",
        "nodes.language_menu.timeout",
        ("cannot read the value",),
    ),
    (
        "alias-inside-itself",
        [("    say: [welcome]\n", "    say: &loop [welcome, *loop]\n")],
        "say: &loop",
        "nodes.welcome.say[1]",
        ("refers to itself",),
    ),
]


@pytest.mark.parametrize(
    ("replacements", "needle", "where", "reasons"),
    [pytest.param(r, n, w, m, id=i) for i, r, n, w, m in BROKEN],
)
def test_broken_flow_names_file_line_field_and_reason(
    tmp_path: Path,
    replacements: list[Replacement],
    needle: str,
    where: str,
    reasons: tuple[str, ...],
) -> None:
    text = mutate(*replacements)
    path = write(tmp_path / "flows", "hotline.yaml", text)
    error = load_error(path.parent)
    assert_error(error, path, line_of(text, needle), where, *reasons)


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path / "flows", "hotline.yaml", "")
    assert_error(load_error(path.parent), path, 1, "", "the file is empty")


def test_file_with_only_comments_is_empty(tmp_path: Path) -> None:
    path = write(tmp_path / "flows", "hotline.yaml", "# nothing here yet\n\n# really\n")
    assert_error(load_error(path.parent), path, 1, "", "the file is empty")


def test_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "flows", "hotline.yaml", "\n- welcome\n- goodbye\n")
    assert_error(load_error(path.parent), path, 2, "", "must be a mapping")


def test_forbidden_character_is_invalid_yaml_with_its_line(tmp_path: Path) -> None:
    text = mutate(("Goodbye.\n", "Goodbye.\x07\n"))
    path = write(tmp_path / "flows", "hotline.yaml", text)
    assert_error(load_error(path.parent), path, line_of(text, "\x07"), "", "not valid YAML")


@pytest.mark.parametrize(
    "key", ["start", "nodes", "prompts", "languages", "hotline_name", "emergency_labels"]
)
def test_missing_required_top_level_key_names_no_line(tmp_path: Path, key: str) -> None:
    # Delete the key and its block: everything up to the next top-level key.
    text = re.sub(rf"(?ms)^{key}:.*?(?=^[a-z]|\Z)", "", REAL, count=1)
    assert f"\n{key}:" not in text
    path = write(tmp_path / "flows", "hotline.yaml", text)
    assert_error(load_error(path.parent), path, None, "", f"missing {key!r}")


def test_missing_prompt_needed_by_the_safe_answer(tmp_path: Path) -> None:
    text = re.sub(r"(?m)^  error:\n(    .*\n)+", "", REAL)
    assert "  error:" not in text
    path = write(tmp_path / "flows", "hotline.yaml", text)
    error = load_error(path.parent)
    assert_error(error, path, line_of(text, "prompts:"), "prompts", "missing the 'error' prompt")


def test_menu_without_on_failure(tmp_path: Path) -> None:
    text = mutate(("    on_failure: {language: mandarin, next: emergency_notice}\n", ""))
    path = write(tmp_path / "flows", "hotline.yaml", text)
    error = load_error(path.parent)
    line = line_of(text, "  language_menu:\n    type: menu")
    assert_error(error, path, line, "nodes.language_menu", "needs 'on_failure'")


# ---- several flow files -------------------------------------------------------------------
def _named(name: str, *numbers: str) -> str:
    listed = "".join(f'  - "{n}"\n' for n in numbers)
    head = f"name: {name}\n" + (f"numbers:\n{listed}" if numbers else "")
    return mutate(("name: hotline\n", head))


def test_two_flow_files_with_the_same_name(tmp_path: Path) -> None:
    directory = tmp_path / "flows"
    write(directory, "a.yaml", REAL)
    second = write(directory, "b.yaml", REAL)
    error = load_error(directory)
    assert_error(
        error, second, line_of(REAL, "name: hotline"), "name", "already named 'hotline'", "a.yaml"
    )


def test_two_flows_claiming_the_same_number(tmp_path: Path) -> None:
    directory = tmp_path / "flows"
    write(directory, "a.yaml", _named("line_a", "+390212345678"))
    text_b = _named("line_b", "+81312345678", "+39 02 1234 5678")
    second = write(directory, "b.yaml", text_b)
    write(directory, "c.yaml", REAL)
    error = load_error(directory)
    line = line_of(text_b, '"+39 02 1234 5678"')
    assert_error(error, second, line, "numbers[1]", "+390212345678", "claimed by flow 'line_a'")


def test_a_flow_may_repeat_its_own_number(tmp_path: Path) -> None:
    directory = tmp_path / "flows"
    write(directory, "a.yaml", _named("line_a", "+390212345678", "+39 02 1234 5678"))
    write(directory, "b.yaml", REAL)
    flows = load_flows(directory, RECORDINGS)
    assert flows.default == "hotline"
    assert flows.for_number("+390212345678").name == "line_a"
    assert flows.for_number("+12025550123").name == "hotline"
    assert flows.for_number(None).name == "hotline"


def test_bad_number_in_numbers(tmp_path: Path) -> None:
    text = _named("line_a", "+39 02")
    path = write(tmp_path / "flows", "a.yaml", text)
    error = load_error(path.parent)
    assert_error(error, path, line_of(text, '"+39 02"'), "numbers[0]", "not a valid phone number")


def test_no_default_flow(tmp_path: Path) -> None:
    directory = tmp_path / "flows"
    write(directory, "a.yaml", _named("line_a", "+390212345678"))
    assert_error(load_error(directory), directory, None, "", "one flow must list no numbers")


def test_two_default_flows(tmp_path: Path) -> None:
    directory = tmp_path / "flows"
    write(directory, "a.yaml", _named("line_a"))
    second = write(directory, "b.yaml", _named("line_b"))
    error = load_error(directory)
    assert_error(error, second, None, "numbers", "'line_a' and 'line_b' both list no numbers")


def test_no_flow_files(tmp_path: Path) -> None:
    directory = tmp_path / "flows"
    directory.mkdir()
    write(directory, "notes.txt", "not a flow")
    assert_error(load_error(directory), directory, None, "", "no flow files")


def test_unreadable_file(tmp_path: Path) -> None:
    directory = tmp_path / "flows"
    directory.mkdir()
    path = directory / "hotline.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    assert_error(load_error(directory), path, None, "", "cannot read")


# ---- random damage ------------------------------------------------------------------------
TOKEN = re.compile(r"[^\s:,\[\]{}]+|[:,\[\]{}]")
REPLACEMENTS = [
    "", "x", "0", "-1", "9", "99", "1.5", "[", "]", "{", "}", ":", ": :", "- ", "-", "null", "~",
    "true", "no", "{name}", "{}", "{language:d}", "&a", "*a", "!foo", "!!int", "'", '"', "\t",
    "#", "2026-13-45", "2026-12-31", "24:60", "25:00", "[]", "{a: b}", "[[a]]", "? [a]", "|",
    ">", "%", "@", "`", "welcome", "queue", "goodbye", "language_menu", "mandarin", "type",
    "Mars/Base", "hold/../../x.wav", "\u00e9", "\x00", "\x85", "\ufeff",
]  # fmt: skip


@st.composite
def damaged(draw: st.DrawFn) -> str:
    text = REAL
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            lines = text.splitlines(keepends=True)
            i = draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[:i] + lines[i + 1 :])
        else:
            tokens = list(TOKEN.finditer(text))
            token = tokens[draw(st.integers(0, len(tokens) - 1))]
            new = draw(
                st.sampled_from(REPLACEMENTS) | st.text(st.characters(codec="utf-8"), max_size=4)
            )
            text = text[: token.start()] + new + text[token.end() :]
    return text


@settings(deadline=None, max_examples=50)
@given(text=damaged())
def test_random_damage_gives_a_flow_error_or_a_flow(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    directory = tmp_path_factory.mktemp("damaged")
    path = write(directory, "hotline.yaml", text)
    try:
        flows = load_flows(directory, RECORDINGS)
    except FlowError as error:
        assert str(error).startswith(str(path))
        assert error.message
        if error.line is not None:
            assert 1 <= error.line <= text.count("\n") + 2
    else:
        assert flows.flows
