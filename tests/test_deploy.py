"""The deployment files start what exists: real `hotline` sub-commands with real options,
gunicorn with our settings file and the WSGI app."""

from __future__ import annotations

import configparser
import os
import runpy
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from hotline.cli import main

ROOT = Path(__file__).resolve().parent.parent


def procfile_commands() -> list[list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return [shlex.split(line.split(":", 1)[1]) for line in lines if line.strip()]


def systemd_commands() -> list[list[str]]:
    out = []
    for unit in sorted((ROOT / "deploy" / "systemd").glob("*.service")):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(unit)
        out.append(shlex.split(parser["Service"]["ExecStart"]))
    return out


def compose_commands() -> list[list[str]]:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    return [
        service["command"]
        for service in compose["services"].values()
        if service.get("build") and isinstance(service.get("command"), list)
    ]


ALL = {
    "Procfile": procfile_commands,
    "systemd": systemd_commands,
    "compose": compose_commands,
}


def commands() -> list[tuple[str, list[str]]]:
    return [(source, argv) for source, read in ALL.items() for argv in read()]


def check_hotline(argv: list[str]) -> None:
    """Walk the click groups: every word names a sub-command until a plain command, whose
    options and arguments must then parse."""
    command: click.Command = main
    args = argv[1:]
    ctx = click.Context(main, info_name="hotline")
    while isinstance(command, click.Group):
        assert args, f"{argv}: stops at the group {command.name!r}"
        sub = command.get_command(ctx, args[0])
        assert sub is not None, f"{argv}: no sub-command {args[0]!r}"
        command, args = sub, args[1:]
    command.make_context(command.name or "", list(args))


def check_gunicorn(argv: list[str]) -> None:
    assert argv[-1] == "wsgi:app"
    config = argv[argv.index("-c") + 1]
    assert (ROOT / config).is_file(), config


@pytest.mark.parametrize(
    ("source", "argv"), commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_deploy_commands_are_real(source: str, argv: list[str]) -> None:
    program = Path(argv[0]).name
    assert program in {"hotline", "gunicorn"}, (source, argv)
    if program == "hotline":
        check_hotline(argv)
    else:
        check_gunicorn(argv)


@pytest.mark.parametrize(
    "argv", [["hotline", "wroker"], ["hotline", "db"], ["hotline", "worker", "--nope"]]
)
def test_the_check_catches_a_wrong_command(argv: list[str]) -> None:
    with pytest.raises((AssertionError, click.UsageError)):
        check_hotline(argv)


def test_every_kind_of_process_is_deployed() -> None:
    for source, read in ALL.items():
        argvs = [" ".join([Path(a[0]).name, *a[1:]]) for a in read()]
        assert any(a.startswith("gunicorn") for a in argvs), source
        assert any(a.startswith("hotline worker") for a in argvs), source


def test_compose_has_two_workers_and_a_persistent_redis() -> None:
    services = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]
    assert services["worker"]["deploy"]["replicas"] == 2
    redis_cmd = services["redis"]["command"]
    assert redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes"
    assert {"web", "worker", "postgres", "redis"} <= set(services)


def test_the_worker_command_runs_as_a_module() -> None:
    """One real process, as systemd and compose start it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "worker", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "--burst" in done.stdout


def test_gunicorn_settings_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    settings = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    assert settings["bind"].endswith(":9123")
    assert settings["workers"] == 3
    assert settings["worker_class"] == "gthread"
    monkeypatch.setenv("GUNICORN_WORKER_CLASS", "sync")
    assert runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))["worker_class"] == "sync"
    assert settings["timeout"] > 15  # Twilio's own webhook timeout
