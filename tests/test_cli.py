"""The `hotline` command, run as a user would (fresh SQLite, environment variables)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import time_machine
from click.testing import CliRunner

from hotline.cli import main

from .conftest import ROOT

OPEN = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "HOTLINE_INSTANCE_PATH": str(tmp_path / "instance"),
        "TWILIO_AUTH_TOKEN": "cli-secret-token",
        "HOTLINE_PUBLIC_URL": "https://hotline.example.org",
        "HOTLINE_DOTENV": str(tmp_path / "none.env"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("HOTLINE_DEV_MODE", raising=False)
    return values


def run(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def test_db_upgrade_demo_and_list(env: dict[str, str]) -> None:
    # The newest revision, whichever branch of migrations is merged last.
    assert re.search(r"database at revision \d{4}\b", run("db", "upgrade").output)
    loaded = run("demo", "load")
    assert loaded.exit_code == 0, loaded.output
    assert "create" in loaded.output and "+86" in loaded.output
    assert "13800000001" not in loaded.output  # numbers are masked
    again = run("demo", "load")
    assert "changed 0 of" in again.output
    with time_machine.travel(OPEN, tick=False):
        listed = run("counselors", "list")
    assert listed.exit_code == 0
    assert "on call" in listed.output and "mandarin" in listed.output
    assert "13800000001" not in listed.output


def test_flows_validate(env: dict[str, str], tmp_path: Path) -> None:
    ok = run("flows", "validate")
    assert ok.exit_code == 0 and "ok: hotline.yaml" in ok.output
    broken = tmp_path / "flows"
    broken.mkdir()
    text = (
        (ROOT / "ivr_flows" / "hotline.yaml")
        .read_text()
        .replace("next: confidentiality", "next: nowhere")
    )
    (broken / "hotline.yaml").write_text(text)
    bad = CliRunner().invoke(main, ["flows", "validate", str(broken)])
    assert bad.exit_code == 1
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "next: nowhere" in ln)
    assert f"hotline.yaml:{line}:" in bad.output and "nowhere" in bad.output


def test_a_broken_flow_stops_the_app(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "flows"
    broken.mkdir()
    (broken / "hotline.yaml").write_text("name: hotline\nnodes: [\n")
    monkeypatch.setenv("HOTLINE_FLOWS_DIR", str(broken))
    result = CliRunner().invoke(main, ["events", "status"])
    assert (
        result.exit_code != 0
        and "flow rejected" in result.output
        and "hotline.yaml" in result.output
    )


def test_config_hides_secrets(env: dict[str, str]) -> None:
    output = run("config").output
    assert "cli-secret-token" not in output
    assert "TWILIO_AUTH_TOKEN=***" in output


def test_simulate_in_process(env: dict[str, str]) -> None:
    run("db", "upgrade")
    with time_machine.travel(OPEN, tick=True):
        result = CliRunner().invoke(
            main, ["simulate", "--keys", "3", "--wait", "100", "--no-interactive"]
        )
    assert result.exit_code == 0, result.output
    assert "Polly.Amy-Neural" in result.output and "cmn-CN" in result.output
    assert "hotline-english" in result.output


def test_counselor_presence_reaches_routing(env: dict[str, str]) -> None:
    run("db", "upgrade")
    run("demo", "load")
    from hotline import queues

    queues.reset_fake_server()
    result = run("counselors", "presence", "+8613800000001", "away")
    assert result.exit_code == 0, result.output
    assert (
        "王敏" in result.output and "away" in result.output and "13800000001" not in result.output
    )
    listed = run("counselors", "list")
    assert "away" in listed.output
    assert run("counselors", "presence", "1", "available").exit_code == 0
    bad = CliRunner().invoke(main, ["counselors", "presence", "+8613899999999", "away"])
    assert bad.exit_code != 0 and "no counselor" in bad.output
    assert CliRunner().invoke(main, ["counselors", "presence", "1", "busy"]).exit_code != 0
