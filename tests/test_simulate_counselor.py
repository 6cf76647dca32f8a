"""`hotline simulate --counselor KEY`: both legs of a call, in process, Twilio's REST API stood in."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner

from hotline.cli import main

OPEN = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    db = tmp_path / "sim.db"
    for key, value in {
        "HOTLINE_DATABASE_URL": f"sqlite:///{db}",
        "HOTLINE_INSTANCE_PATH": str(tmp_path / "instance"),
        "HOTLINE_DOTENV": str(tmp_path / "none.env"),
        "HOTLINE_DEV_MODE": "1",
        "HOTLINE_WRAP_UP_SECONDS": "0",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("REDIS_URL", raising=False)  # the in-process stand-in, as `dev.py run`
    from hotline import queues

    queues.reset_fake_server()
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(main, ["demo", "load"]).exit_code == 0
    return f"sqlite:///{db}"


def simulate(*args: str) -> str:
    with time_machine.travel(OPEN, tick=True):
        result = CliRunner().invoke(main, ["simulate", "--no-interactive", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_counselor_accepts_and_the_caller_is_bridged(local: str) -> None:
    output = simulate("--keys", "1", "--counselor", "1")
    assert "the worker rings counselor +86 ••• " in output
    assert "接听请按1" in output  # the whisper, in the counselor's Mandarin
    assert "counselor presses 1" in output
    assert "taken out of queue hotline-mandarin by a counselor" in output
    assert "dialling conference hotline-CA" in output
    assert "13800000" not in output  # the counselor's number is masked


def test_a_declining_counselor_passes_the_caller_on(local: str) -> None:
    output = simulate("--keys", "1", "--counselor", "2", "--wait", "120")
    assert output.count("the worker rings counselor") >= 2
    assert "好的，我们会转给其他咨询师" in output
    assert "caller hangs up after" in output


def test_counselor_needs_the_in_process_app() -> None:
    result = CliRunner().invoke(
        main, ["simulate", "--url", "http://127.0.0.1:9", "--counselor", "1"]
    )
    assert result.exit_code != 0 and "in-process" in result.output
