"""Log lines: JSON with the CallSid, phone numbers masked, secrets never printed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hotline import create_app, logs
from hotline.logs import JsonFormatter, RedactingFilter, mask_text

from .conftest import Twilio, make_config

SID = "CA" + "ab12" * 8


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("call from +8613800000001 queued", "13800000001", "+86 ••• ••• 0001"),
        ("from +39 333 123 4567.", "333 123", "+39 ••• ••• 4567"),
        ("dialled +1 (415) 867-5310", "867-5310", "+1 ••• ••• 5310"),
        ("national 13800000001 seen", "13800000001", "national ••• seen"),
        ("to 0039 333 1234567", "1234567", "to •••"),
    ],
)
def test_numbers_are_masked(text: str, hidden: str, kept: str) -> None:
    masked = mask_text(text)
    assert hidden not in masked
    assert kept in masked


@pytest.mark.parametrize(
    "text",
    [
        f"call {SID} done",
        "on 2026-12-02 at 10:00:00, 3 callers, 1.5 s, counselor 12",
        "offer 0123456789abcdef expired; job 5f3c2a1e-8d4b",
        "took 12345678 µs",
    ],
)
def test_what_is_not_a_number_is_left_alone(text: str) -> None:
    assert mask_text(text) == text


def test_secrets_and_url_credentials_are_hidden() -> None:
    text = "token s3cr3t-token-value; db postgresql://hotline:pw@db:5432/x; redis://:pw2@r:6379"
    masked = mask_text(text, ["s3cr3t-token-value"])
    assert "s3cr3t" not in masked and ":pw@" not in masked and "pw2" not in masked
    assert "postgresql://***@db:5432/x" in masked


@pytest.fixture
def json_lines(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """A JSON handler with the redacting filter on the hotline loggers, as production has."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter(["the-auth-token-1234"]))
    logger = logging.getLogger("hotline")
    caplog.set_level(logging.INFO, logger="hotline")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_webhook_line_is_json_with_the_call_sid_and_no_number(
    twilio: Twilio, json_lines: io.StringIO
) -> None:
    twilio.base["From"] = "+8613912345678"
    twilio.post("/voice/incoming")
    lines = [line for line in parsed(json_lines) if line["logger"] == "hotline.voice"]
    assert lines, json_lines.getvalue()
    assert all(line["call_sid"] == twilio.call_sid for line in lines)
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert "13912345678" not in json_lines.getvalue()


def test_a_careless_line_is_masked_too(json_lines: io.StringIO) -> None:
    log = logging.getLogger("hotline.somewhere")
    log.info("caller %s, token %s", "+8613912345678", "the-auth-token-1234")
    try:
        raise ValueError("could not call +8613912345678")
    except ValueError:
        log.exception("failed")
    out = json_lines.getvalue()
    assert "13912345678" not in out and "the-auth-token-1234" not in out
    first, second = parsed(json_lines)
    assert first["message"] == "caller +86 ••• ••• 5678, token ***"
    assert "ValueError: could not call +86 ••• ••• 5678" in second["exception"]


def test_a_job_line_carries_the_call_sid_from_the_jobs_args(
    json_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rq

    monkeypatch.setattr(rq, "get_current_job", lambda: SimpleNamespace(args=("x", SID)))
    logging.getLogger("hotline.jobs").info("cancelling the leg")
    assert parsed(json_lines)[0]["call_sid"] == SID


def test_the_app_installs_one_filter_with_its_secrets(tmp_path: Path, sqlite_url: str) -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        config = make_config(tmp_path, sqlite_url, None, TWILIO_AUTH_TOKEN="tok-abcdef-123")
        create_app(config)
        create_app(config)
        filters = [f for f in handler.filters if isinstance(f, RedactingFilter)]
        assert len(filters) == 1
        assert "tok-abcdef-123" in filters[0].secrets
        assert "test-hash-key" in filters[0].secrets
    finally:
        root.removeHandler(handler)


def test_json_format_is_chosen_by_the_setting() -> None:
    assert isinstance(logs.make_formatter("json"), JsonFormatter)
    assert not isinstance(logs.make_formatter("text"), JsonFormatter)
