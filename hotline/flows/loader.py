"""Read `ivr_flows/*.yaml` into validated flows, or say exactly what is wrong and where.

PyYAML forgets line numbers once data is built, so the file is composed into YAML nodes
first and converted by hand, keeping the line of every value; duplicate keys (which PyYAML
would silently overwrite) are caught on the way.
"""

from __future__ import annotations

import re
import string
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ..hours import HoursError, ServiceHours
from ..phone import InvalidNumber, parse_number
from .model import (
    CALLBACK_ROLES,
    NODE_TYPES,
    CallbackNode,
    Choice,
    DialNode,
    EmergencyNode,
    Flow,
    FlowSet,
    HangupNode,
    HoursNode,
    Language,
    MenuNode,
    Node,
    QueueNode,
    SayNode,
    VoicemailNode,
)

MENU_KEYS = set("0123456789*#")
# Placeholders the engine can fill in; anything else in braces is a typo in the flow file.
PLACEHOLDERS = {
    "emergency", "ahead", "position", "minutes", "fallback", "hotline", "language", "waited",
    "number", "time", "safety",
}  # fmt: skip
# The safe answer and the counselor's whisper are built from these, whatever the nodes say.
REQUIRED_PROMPTS = (
    "error", "fallback", "whisper", "whisper_connecting", "whisper_gone", "whisper_declined",
)  # fmt: skip
AUDIO_SUFFIXES = (".wav", ".mp3")
# Node fields that name prompts.
PROMPT_FIELDS = (
    "say", "retry_say", "say_known", "say_unknown", "say_position", "say_next", "say_estimate",
    "say_options",
)  # fmt: skip
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


class FlowError(ValueError):
    def __init__(self, source: Path | str, line: int | None, where: str, message: str) -> None:
        self.source = str(source)
        self.line = line
        self.where = where
        self.message = message
        location = f"{self.source}:{line}" if line else self.source
        super().__init__(f"{location}: {where}: {message}" if where else f"{location}: {message}")


class _Lines(dict[tuple[Any, ...], int]):
    """Path in the document (keys and indexes) -> line number (1-based)."""

    def at(self, *path: Any) -> int | None:
        while path:
            if path in self:
                return self[path]
            path = path[:-1]
        return self.get((), None)


def _compose(text: str, source: Path) -> tuple[Any, _Lines]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else None
        position = getattr(exc, "position", None)  # a ReaderError (a forbidden character)
        if line is None and isinstance(position, int):
            line = text.count("\n", 0, position) + 1
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc)
        raise FlowError(source, line, "", f"not valid YAML: {problem}") from None
    lines = _Lines()
    if root is None:
        raise FlowError(source, 1, "", "the file is empty")
    constructor = yaml.SafeLoader("")
    active: set[int] = set()  # nodes being converted: an alias inside itself would never end

    def scalar(node: yaml.Node, path: tuple[Any, ...]) -> Any:
        try:
            return constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            # e.g. an unknown !tag, or 2026-13-01 (YAML reads it as a date and fails)
            problem = getattr(exc, "problem", None) or str(exc)
            raise FlowError(
                source, node.start_mark.line + 1, _where(path), f"cannot read the value: {problem}"
            ) from None

    def convert(node: yaml.Node, path: tuple[Any, ...], line: int) -> Any:
        lines[path] = line
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in active:
                raise FlowError(source, line, _where(path), "an alias refers to itself")
            active.add(id(node))
            try:
                return convert_collection(node, path)
            finally:
                active.discard(id(node))
        return scalar(node, path)

    def convert_collection(node: yaml.Node, path: tuple[Any, ...]) -> Any:
        if isinstance(node, yaml.SequenceNode):
            return [
                convert(item, (*path, i), item.start_mark.line + 1)
                for i, item in enumerate(node.value)
            ]
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise FlowError(source, key_line, _where(path), "a key must be a plain name")
            key = scalar(key_node, path)
            if isinstance(key, int | float | bool) or key is None:
                key = str(key) if not isinstance(key, bool) else str(key).lower()
            if key in out:
                raise FlowError(source, key_line, _where(path), f"duplicate key {key!r}")
            # An entry's line is its key's line, also when the value is a block below it.
            out[key] = convert(value_node, (*path, key), key_line)
        return out

    return convert(root, (), root.start_mark.line + 1), lines


def _where(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fields(text: str) -> set[str]:
    """Placeholder names in a text; ValueError unless each one is a plain {name}."""
    fields: set[str] = set()
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if spec or conversion:
            # "{minutes:d}" or "{ahead!x}" would only fail later, while a caller listens.
            raise ValueError(f"write a plain {{{name}}}, without ':' or '!'")
        fields.add(name)
    return fields


def _target_fields(node: Node) -> list[tuple[tuple[str, ...], str]]:
    """(field path inside the node, node id) for every node this node can lead to."""
    if isinstance(node, SayNode | EmergencyNode):
        return [(("next",), node.next)]
    if isinstance(node, HoursNode):
        return [(("open",), node.open), (("closed",), node.closed)]
    if isinstance(node, QueueNode):
        out = [(("on_timeout",), node.on_timeout), (("on_error",), node.on_error)]
        out += [(("options", key, "next"), c.next) for key, c in node.options.items()]
        if node.on_nobody:
            out.append((("on_nobody",), node.on_nobody))
        if node.partner:
            out.append((("partner",), node.partner))
        return out
    if isinstance(node, DialNode | VoicemailNode):
        return [(("next",), node.next)]
    if isinstance(node, CallbackNode):
        out = [(("next",), node.next), (("on_refused",), node.on_refused)]
        return out + ([(("voicemail",), node.voicemail)] if node.voicemail else [])
    if isinstance(node, MenuNode):
        return [
            *((("options", key, "next"), c.next) for key, c in node.options.items()),
            (("on_failure", "next"), node.on_failure.next),
        ]
    return [((), target) for target in node.targets()]


class _Builder:
    def __init__(self, source: Path, data: Any, lines: _Lines, recordings: Path | None) -> None:
        self.source = source
        self.data = data
        self.lines = lines
        self.recordings = recordings

    def fail(self, path: tuple[Any, ...], message: str, where: str | None = None) -> FlowError:
        return FlowError(
            self.source, self.lines.at(*path), _where(path) if where is None else where, message
        )

    def mapping(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, "must be a mapping")
        return value

    def text(self, value: Any, path: tuple[Any, ...], *, empty: bool = False) -> str:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise self.fail(path, "must be a non-empty text")
        return value.strip()

    def name(self, value: Any, path: tuple[Any, ...]) -> str:
        value = self.text(value, path)
        if not _NAME.match(value):
            raise self.fail(path, f"{value!r} must be lower-case letters, digits and _")
        return value

    def positive_int(self, value: Any, path: tuple[Any, ...]) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.fail(path, f"must be a whole number above 0, not {value!r}")
        return value

    def prompt_list(self, value: Any, path: tuple[Any, ...]) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(path, "must be a list of prompt names")
        return tuple(self.name(v, (*path, i)) for i, v in enumerate(value))

    def allowed_keys(
        self, value: dict[str, Any], allowed: Iterable[str], path: tuple[Any, ...]
    ) -> None:
        for key in value:
            if key not in allowed:
                raise self.fail((*path, key), f"unknown setting {key!r}")

    # ---- the whole file -------------------------------------------------------------
    def build(self) -> Flow:
        top = self.mapping(self.data, ())
        self.allowed_keys(
            top,
            {
                "name", "hotline_name", "default_language", "languages", "start", "danger",
                "fallback_number", "hours", "nodes", "prompts", "emergency_labels", "numbers",
                "language_names",
            },
            (),
        )  # fmt: skip
        for required in ("languages", "start", "nodes", "prompts"):
            if required not in top:
                raise FlowError(self.source, None, "", f"missing {required!r}")
        name = self.name(top.get("name", self.source.stem), ("name",))

        languages: dict[str, Language] = {}
        for lang_id, spec in self.mapping(top["languages"], ("languages",)).items():
            path = ("languages", lang_id)
            lang_id = self.name(lang_id, path)
            spec = self.mapping(spec, path)
            self.allowed_keys(spec, {"label", "say_language", "voice"}, path)
            languages[lang_id] = Language(
                id=lang_id,
                label=self.text(spec.get("label"), (*path, "label")),
                say_language=self.text(spec.get("say_language"), (*path, "say_language")),
                voice=self.text(spec.get("voice"), (*path, "voice")),
            )
        if not languages:
            raise self.fail(("languages",), "at least one language is needed")
        default_language = self.text(
            top.get("default_language", next(iter(languages))), ("default_language",)
        )
        if default_language not in languages:
            raise self.fail(("default_language",), f"{default_language!r} is not in languages")

        prompts = self._prompts(top["prompts"], languages)
        nodes = self._nodes(top["nodes"], languages, prompts)

        start = self.text(top["start"], ("start",))
        if start not in nodes:
            raise self.fail(("start",), f"no node named {start!r}")

        danger_key = danger_node = None
        if top.get("danger") is not None:
            danger = self.mapping(top["danger"], ("danger",))
            self.allowed_keys(danger, {"key", "node"}, ("danger",))
            danger_key = self.text(danger.get("key"), ("danger", "key"))
            if danger_key not in MENU_KEYS:
                raise self.fail(("danger", "key"), f"{danger_key!r} is not a key on a phone")
            danger_node = self.text(danger.get("node"), ("danger", "node"))
            if danger_node not in nodes:
                raise self.fail(("danger", "node"), f"no node named {danger_node!r}")
            for node in nodes.values():
                if isinstance(node, MenuNode | QueueNode) and danger_key in node.options:
                    raise self.fail(
                        ("nodes", node.id, "options", danger_key),
                        f"key {danger_key} is the danger key of the flow; choose another",
                    )

        fallback_number = None
        if top.get("fallback_number"):
            try:
                fallback_number = parse_number(str(top["fallback_number"]))
            except InvalidNumber as exc:
                raise self.fail(("fallback_number",), f"not a valid phone number ({exc})") from None

        numbers: list[str] = []
        raw_numbers = top.get("numbers") or []
        if not isinstance(raw_numbers, list):
            raise self.fail(("numbers",), "must be a list of phone numbers")
        for i, raw in enumerate(raw_numbers):
            try:
                numbers.append(parse_number(str(raw)))
            except InvalidNumber as exc:
                raise self.fail(("numbers", i), f"not a valid phone number ({exc})") from None

        try:
            hours = ServiceHours.from_config(top.get("hours"), "hours")
        except HoursError as exc:
            # str(exc) starts with the path, which FlowError already shows as `where`.
            message = str(exc).removeprefix(f"{exc.path}: ")
            raise FlowError(self.source, self._hours_line(exc.path), exc.path, message) from None

        if top.get("hotline_name") is None:
            raise FlowError(self.source, None, "", "missing 'hotline_name'")
        hotline_name = self._per_language(top["hotline_name"], ("hotline_name",), languages)
        labels_raw = top.get("emergency_labels")
        if labels_raw is None:
            raise FlowError(self.source, None, "", "missing 'emergency_labels'")
        for lang in self.mapping(labels_raw, ("emergency_labels",)):
            if lang not in languages:
                raise self.fail(
                    ("emergency_labels", lang), f"{lang!r} is not one of the flow's languages"
                )
        labels = {}
        for lang in languages:
            path = ("emergency_labels", lang)
            spec = self.mapping(self.mapping(labels_raw, path[:1]).get(lang), path)
            self.allowed_keys(spec, {"general", "police", "ambulance"}, path)
            labels[lang] = {k: self.text(v, (*path, k)) for k, v in spec.items()}
            if "general" not in labels[lang]:
                raise self.fail(path, "needs at least 'general'")

        if fallback_number is None:
            for prompt_id, texts in prompts.items():
                for lang, text in texts.items():
                    if "fallback" in _fields(text):
                        raise self.fail(
                            ("prompts", prompt_id, lang),
                            "uses {fallback}, but the flow has no fallback_number",
                        )
        language_names: dict[str, dict[str, str]] = {}
        if top.get("language_names") is None:
            raise FlowError(self.source, None, "", "missing 'language_names'")
        names_raw = self.mapping(top["language_names"], ("language_names",))
        for lang in names_raw:
            if lang not in languages:
                raise self.fail(
                    ("language_names", lang), f"{lang!r} is not one of the flow's languages"
                )
        for lang in languages:
            path = ("language_names", lang)
            if lang not in names_raw:
                raise self.fail(("language_names",), f"missing the {lang} names")
            language_names[lang] = self._per_language(names_raw[lang], path, languages)

        self._check_graph(nodes, start, danger_node)
        recorded = self._recordings(prompts, languages)
        return Flow(
            name=name,
            source=self.source,
            languages=languages,
            default_language=default_language,
            start=start,
            nodes=nodes,
            prompts=prompts,
            hours=hours,
            hotline_name=hotline_name,
            emergency_labels=labels,
            numbers=tuple(numbers),
            danger_key=danger_key,
            danger_node=danger_node,
            fallback_number=fallback_number,
            recorded=recorded,
            language_names=language_names,
        )

    def _hours_line(self, dotted: str) -> int | None:
        """Line of a HoursError path such as "hours.weekly.mon[0]"."""
        path: tuple[Any, ...] = ()
        for part in (p for p in re.split(r"[.\[\]]+", dotted) if p):
            if (*path, part) not in self.lines and part.isdigit():
                path = (*path, int(part))
            else:
                path = (*path, part)
        return self.lines.at(*path)

    def _per_language(
        self, value: Any, path: tuple[Any, ...], languages: dict[str, Language]
    ) -> dict[str, str]:
        spec = self.mapping(value, path)
        out = {}
        for lang in languages:
            if lang not in spec:
                raise self.fail(path, f"missing the {lang} text")
            out[lang] = self.text(spec[lang], (*path, lang))
        for lang in spec:
            if lang not in languages:
                raise self.fail((*path, lang), f"{lang!r} is not one of the flow's languages")
        return out

    def _prompts(self, raw: Any, languages: dict[str, Language]) -> dict[str, dict[str, str]]:
        prompts: dict[str, dict[str, str]] = {}
        for prompt_id, texts in self.mapping(raw, ("prompts",)).items():
            path = ("prompts", prompt_id)
            prompt_id = self.name(prompt_id, path)
            prompts[prompt_id] = self._per_language(texts, path, languages)
            for lang, text in prompts[prompt_id].items():
                try:
                    fields = _fields(text)
                except ValueError as exc:
                    raise self.fail((*path, lang), f"broken placeholder: {exc}") from None
                unknown = fields - PLACEHOLDERS
                if unknown:
                    raise self.fail(
                        (*path, lang),
                        f"unknown placeholder {{{sorted(unknown)[0]}}}; "
                        f"known: {', '.join(sorted(PLACEHOLDERS))}",
                    )
        for required in REQUIRED_PROMPTS:
            if required not in prompts:
                raise self.fail(
                    ("prompts",), f"missing the {required!r} prompt (the safe answer uses it)"
                )
        return prompts

    def _nodes(
        self, raw: Any, languages: dict[str, Language], prompts: dict[str, dict[str, str]]
    ) -> dict[str, Node]:
        nodes: dict[str, Node] = {}
        raw = self.mapping(raw, ("nodes",))
        for node_id, spec in raw.items():
            path = ("nodes", node_id)
            node_id = self.name(node_id, path)
            spec = self.mapping(spec, path)
            kind = spec.get("type")
            if not isinstance(kind, str) or kind not in NODE_TYPES:
                raise self.fail(
                    (*path, "type"), f"type must be one of {', '.join(NODE_TYPES)}, not {kind!r}"
                )
            nodes[node_id] = self._node(node_id, kind, spec, path, languages)

        for node in nodes.values():
            path = ("nodes", node.id)
            for attr in PROMPT_FIELDS:
                for i, prompt_id in enumerate(getattr(node, attr, ())):
                    if prompt_id not in prompts:
                        raise self.fail((*path, attr, i), f"no prompt named {prompt_id!r}")
            if isinstance(node, CallbackNode):
                for role, prompt_id in node.prompts.items():
                    if prompt_id not in prompts:
                        raise self.fail(
                            (*path, "prompts", role)
                            if (*path, "prompts", role) in self.lines
                            else path,
                            f"no prompt named {prompt_id!r} (for {role})",
                        )
            for field_path, target in _target_fields(node):
                if target not in nodes:
                    raise self.fail(
                        (*path, *field_path), f"leads to {target!r}, which is not a node"
                    )
        return nodes

    def _node(
        self, node_id: str, kind: str, spec: dict[str, Any], path: tuple[Any, ...],
        languages: dict[str, Language],
    ) -> Node:  # fmt: skip
        line = self.lines.at(*path) or 0
        common = {
            "id": node_id,
            "line": line,
            "say": self.prompt_list(spec.get("say", []), (*path, "say")),
        }

        def required(key: str) -> str:
            if key not in spec:
                raise self.fail(path, f"a {kind} node needs {key!r}")
            return self.name(spec[key], (*path, key))

        base = {"type", "say"}
        if kind == "say":
            self.allowed_keys(spec, base | {"next"}, path)
            return SayNode(**common, next=required("next"))
        if kind == "hangup":
            self.allowed_keys(spec, base, path)
            return HangupNode(**common)
        if kind == "dial":
            self.allowed_keys(spec, base | {"number", "timeout", "next"}, path)
            try:
                number = parse_number(str(spec.get("number", "")))
            except InvalidNumber as exc:
                raise self.fail((*path, "number"), f"not a valid phone number ({exc})") from None
            return DialNode(
                **common,
                number=number,
                timeout=self.positive_int(spec.get("timeout", 30), (*path, "timeout")),
                next=required("next"),
            )
        if kind == "voicemail":
            self.allowed_keys(spec, base | {"max_length", "next"}, path)
            max_length = self.positive_int(spec.get("max_length", 180), (*path, "max_length"))
            if max_length > 3600:
                raise self.fail((*path, "max_length"), "at most 3600 seconds (Twilio's limit)")
            if not common["say"]:
                raise self.fail(
                    path, "a voicemail node must say that the message is recorded, and who hears it"
                )
            return VoicemailNode(**common, max_length=max_length, next=required("next"))
        if kind == "callback":
            self.allowed_keys(
                spec,
                base | {
                    "next", "on_refused", "voicemail", "timeout", "retries",
                    "seconds_per_request", "prompts",
                },
                path,
            )  # fmt: skip
            roles = {role: f"callback_{role}" for role in CALLBACK_ROLES}
            if "prompts" in spec:
                raw_roles = self.mapping(spec["prompts"], (*path, "prompts"))
                for role, prompt_id in raw_roles.items():
                    if role not in roles:
                        raise self.fail(
                            (*path, "prompts", role),
                            f"unknown role {role!r}; known: {', '.join(CALLBACK_ROLES)}",
                        )
                    roles[role] = self.name(prompt_id, (*path, "prompts", role))
            retries = spec.get("retries", 1)
            if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 5:
                raise self.fail((*path, "retries"), "must be a whole number from 0 to 5")
            return CallbackNode(
                **common,
                next=required("next"),
                on_refused=required("on_refused"),
                voicemail=required("voicemail") if "voicemail" in spec else None,
                timeout=self.positive_int(spec.get("timeout", 8), (*path, "timeout")),
                retries=retries,
                seconds_per_request=self.positive_int(
                    spec.get("seconds_per_request", 600), (*path, "seconds_per_request")
                ),
                prompts=roles,
            )
        if kind == "hours":
            self.allowed_keys(spec, base | {"open", "closed"}, path)
            return HoursNode(**common, open=required("open"), closed=required("closed"))
        if kind == "emergency":
            self.allowed_keys(spec, base | {"say_known", "say_unknown", "urgent", "next"}, path)
            urgent = spec.get("urgent", False)
            if not isinstance(urgent, bool):
                raise self.fail((*path, "urgent"), "must be true or false")
            return EmergencyNode(
                **common,
                say_known=self.prompt_list(spec.get("say_known", []), (*path, "say_known")),
                say_unknown=self.prompt_list(spec.get("say_unknown", []), (*path, "say_unknown")),
                urgent=urgent,
                next=required("next"),
            )
        if kind == "menu":
            self.allowed_keys(
                spec, base | {"options", "on_failure", "retries", "timeout", "retry_say"}, path
            )
            options: dict[str, Choice] = {}
            raw_options = self.mapping(spec.get("options"), (*path, "options"))
            if not raw_options:
                raise self.fail((*path, "options"), "a menu needs at least one option")
            for key, choice in raw_options.items():
                key = str(key)
                if key not in MENU_KEYS:
                    raise self.fail((*path, "options", key), f"{key!r} is not a key on a phone")
                options[key] = self._choice(choice, (*path, "options", key), languages)
            if "on_failure" not in spec:
                raise self.fail(
                    path, "a menu node needs 'on_failure' (what happens after the retries)"
                )
            retries = spec.get("retries", 2)
            if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 5:
                raise self.fail((*path, "retries"), "must be a whole number from 0 to 5")
            return MenuNode(
                **common,
                options=options,
                on_failure=self._choice(spec["on_failure"], (*path, "on_failure"), languages),
                retries=retries,
                timeout=self.positive_int(spec.get("timeout", 6), (*path, "timeout")),
                retry_say=self.prompt_list(spec.get("retry_say", []), (*path, "retry_say")),
            )
        # queue
        self.allowed_keys(
            spec,
            base | {
                "queue", "max_wait", "announce_every", "seconds_per_caller", "music",
                "say_position", "say_next", "say_estimate", "on_timeout", "on_error",
                "on_nobody", "partner_after", "partner", "widen_after", "options",
                "say_options",
            },
            path,
        )  # fmt: skip
        template = self.text(spec.get("queue", "hotline-{language}"), (*path, "queue"))
        try:
            fields = _fields(template)
        except ValueError as exc:
            raise self.fail((*path, "queue"), f"broken placeholder: {exc}") from None
        if fields - {"language"} or len(template.format(language="x")) > 60:
            raise self.fail(
                (*path, "queue"), "only {language} may be filled in; at most 60 characters"
            )
        music = spec.get("music")
        if music is not None:
            music = self.text(music, (*path, "music"))
            if self.recordings is not None and not self._safe_media(music):
                raise self.fail((*path, "music"), f"no audio file recordings/{music}")
        return QueueNode(
            **common,
            queue=template,
            max_wait=self.positive_int(spec.get("max_wait", 900), (*path, "max_wait")),
            announce_every=self.positive_int(
                spec.get("announce_every", 60), (*path, "announce_every")
            ),
            seconds_per_caller=self.positive_int(
                spec.get("seconds_per_caller", 240), (*path, "seconds_per_caller")
            ),
            music=music,
            say_position=self.prompt_list(spec.get("say_position", []), (*path, "say_position")),
            say_next=self.prompt_list(spec.get("say_next", []), (*path, "say_next")),
            say_estimate=self.prompt_list(spec.get("say_estimate", []), (*path, "say_estimate")),
            on_timeout=required("on_timeout"),
            on_error=required("on_error"),
            on_nobody=required("on_nobody") if "on_nobody" in spec else None,
            widen_after=self.positive_int(spec.get("widen_after", 60), (*path, "widen_after")),
            **self._partner(spec, path),
            **self._queue_options(spec, path, languages),
        )

    def _queue_options(
        self, spec: dict[str, Any], path: tuple[Any, ...], languages: dict[str, Language]
    ) -> dict[str, Any]:
        if "options" not in spec:
            if "say_options" in spec:
                raise self.fail((*path, "say_options"), "there are no 'options' to say")
            return {}
        options: dict[str, Choice] = {}
        for key, choice in self.mapping(spec["options"], (*path, "options")).items():
            key = str(key)
            if key not in MENU_KEYS:
                raise self.fail((*path, "options", key), f"{key!r} is not a key on a phone")
            options[key] = self._choice(choice, (*path, "options", key), languages)
        if not options:
            raise self.fail((*path, "options"), "needs at least one option, or leave it out")
        if "say_options" not in spec:
            raise self.fail(path, "'options' need 'say_options' (the caller must hear them)")
        return {
            "options": options,
            "say_options": self.prompt_list(spec["say_options"], (*path, "say_options")),
        }

    def _partner(self, spec: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
        if "partner" not in spec and "partner_after" not in spec:
            return {}
        if "partner" not in spec or "partner_after" not in spec:
            raise self.fail(path, "'partner' and 'partner_after' go together")
        after = self.positive_int(spec["partner_after"], (*path, "partner_after"))
        max_wait = spec.get("max_wait", 900)
        if isinstance(max_wait, int) and after >= max_wait:
            raise self.fail((*path, "partner_after"), "must be shorter than max_wait")
        return {"partner_after": after, "partner": self.name(spec["partner"], (*path, "partner"))}

    def _choice(self, raw: Any, path: tuple[Any, ...], languages: dict[str, Language]) -> Choice:
        if isinstance(raw, str):
            return Choice(next=self.name(raw, path))
        spec = self.mapping(raw, path)
        self.allowed_keys(spec, {"next", "language", "second_language"}, path)
        if "next" not in spec:
            raise self.fail(path, "needs 'next'")
        chosen: dict[str, str | None] = {}
        for key in ("language", "second_language"):
            value = spec.get(key)
            if value is not None and (not isinstance(value, str) or value not in languages):
                raise self.fail((*path, key), f"{value!r} is not one of the flow's languages")
            chosen[key] = value
        return Choice(
            next=self.name(spec["next"], (*path, "next")),
            language=chosen["language"],
            second_language=chosen["second_language"],
        )

    def _safe_media(self, relative: str) -> bool:
        assert self.recordings is not None
        try:
            root = self.recordings.resolve()
            target = (root / relative).resolve()
            return (
                target.is_relative_to(root) and target.is_file() and target.suffix in AUDIO_SUFFIXES
            )
        except (OSError, ValueError):  # e.g. a NUL character in the name
            return False

    def _check_graph(self, nodes: dict[str, Node], start: str, danger: str | None) -> None:
        seen: set[str] = set()
        todo = deque([start, *([danger] if danger else [])])
        while todo:
            node_id = todo.popleft()
            if node_id in seen:
                continue
            seen.add(node_id)
            todo.extend(nodes[node_id].targets())
        for node_id, node in nodes.items():
            if node_id not in seen:
                raise FlowError(
                    self.source, node.line, f"nodes.{node_id}", "unreachable from start"
                )
        # Nodes that need no input chain into each other within one answer to Twilio; a
        # cycle of them would never return.
        passive = {
            n.id for n in nodes.values() if isinstance(n, SayNode | EmergencyNode | HoursNode)
        }
        state: dict[str, int] = {}

        def visit(node_id: str, trail: list[str]) -> None:
            state[node_id] = 1
            for target in nodes[node_id].targets():
                if target not in passive:
                    continue
                if state.get(target) == 1:
                    cycle = " -> ".join([*trail[trail.index(target) :], target])
                    raise FlowError(
                        self.source, nodes[target].line, f"nodes.{target}",
                        f"loops without waiting for the caller: {cycle}",
                    )  # fmt: skip
                if target not in state:
                    visit(target, [*trail, target])
            state[node_id] = 2

        for node_id in sorted(passive):
            if node_id not in state:
                visit(node_id, [node_id])

    def _recordings(
        self, prompts: dict[str, dict[str, str]], languages: dict[str, Language]
    ) -> dict[tuple[str, str], str]:
        """A recorded prompt replaces text-to-speech, unless the text has per-call blanks."""
        if self.recordings is None:
            return {}
        found: dict[tuple[str, str], str] = {}
        for prompt_id, texts in prompts.items():
            for lang in languages:
                if "{" in texts[lang]:
                    continue
                for suffix in AUDIO_SUFFIXES:
                    relative = f"{lang}/{prompt_id}{suffix}"
                    if (self.recordings / relative).is_file():
                        found[(prompt_id, lang)] = relative
                        break
        return found


def _load(path: Path, recordings: Path | None) -> tuple[Flow, _Lines]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowError(path, None, "", f"cannot read: {exc}") from None
    data, lines = _compose(text, path)
    return _Builder(path, data, lines, recordings).build(), lines


def load_flow(path: Path, recordings: Path | None = None) -> Flow:
    return _load(path, recordings)[0]


def load_flows(directory: Path, recordings: Path | None = None) -> FlowSet:
    files = sorted(p for p in directory.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    if not files:
        raise FlowError(directory, None, "", "no flow files (*.yaml) here")
    flows: dict[str, Flow] = {}
    lines: dict[str, _Lines] = {}
    for path in files:
        flow, flow_lines = _load(path, recordings)
        if flow.name in flows:
            raise FlowError(
                path,
                flow_lines.get(("name",)),
                "name",
                f"another flow ({flows[flow.name].source.name}) is already named {flow.name!r}",
            )
        flows[flow.name] = flow
        lines[flow.name] = flow_lines
    claimed: dict[str, str] = {}
    for flow in flows.values():
        for i, number in enumerate(flow.numbers):
            if claimed.get(number, flow.name) != flow.name:
                raise FlowError(
                    flow.source,
                    lines[flow.name].get(("numbers", i)),
                    f"numbers[{i}]",
                    f"{number} is also claimed by flow {claimed[number]!r}",
                )
            claimed[number] = flow.name
    defaults = [f for f in flows.values() if not f.numbers]
    if not defaults:
        raise FlowError(directory, None, "", "one flow must list no numbers: it answers all others")
    if len(defaults) > 1:
        # Only one of them could ever answer a call; the others would be silently dead.
        raise FlowError(
            defaults[1].source,
            None,
            "numbers",
            f"flows {defaults[0].name!r} and {defaults[1].name!r} both list no numbers; "
            "only one flow may answer the numbers no flow claims",
        )
    return FlowSet(flows=flows, default=defaults[0].name)
