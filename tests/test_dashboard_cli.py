"""`hotline users create-manager` and `hotline calls export` (the DESIGN.md contract)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotline.cli import main
from hotline.db import Database
from hotline.export import EXPORT_COLUMNS
from hotline.migrate import upgrade
from hotline.models import User

from .dashboard_fixtures import SECRET_NUMBER, seed


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("HOTLINE_DATABASE_URL", url)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("HOTLINE_DOTENV", str(tmp_path / "none.env"))
    upgrade(url)
    return url


def test_create_manager_from_stdin(url: str) -> None:
    result = CliRunner().invoke(
        main,
        ["users", "create-manager", "Boss@Example.org", "--password-stdin"],
        input="s3cret-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    with Database(url).session() as s:
        user = s.scalars(select(User)).one()
    assert user.email == "boss@example.org" and user.role == "manager"
    assert user.password_hash.startswith("$argon2id$")
    again = CliRunner().invoke(
        main,
        ["users", "create-manager", "boss@example.org", "--password-stdin"],
        input="another-password\n",
    )
    assert again.exit_code != 0 and "already" in again.output
    short = CliRunner().invoke(
        main, ["users", "create-manager", "x@example.org", "--password-stdin"], input="short\n"
    )
    assert short.exit_code != 0


def test_create_counselor_account(url: str) -> None:
    seed(url)
    result = CliRunner().invoke(
        main,
        [
            "users",
            "create-counselor",
            "zhang@example.org",
            "--counselor",
            "+8613800000002",
            "--password-stdin",
        ],
        input="long-enough-password\n",
    )
    assert result.exit_code == 0, result.output


def test_calls_export_csv_and_json(url: str) -> None:
    seed(url)
    out = CliRunner().invoke(main, ["calls", "export", "--since", "2000-01-01", "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert list(rows[0]) == list(EXPORT_COLUMNS) and len(rows) == 4
    assert SECRET_NUMBER not in out.output
    out = CliRunner().invoke(main, ["calls", "export", "--since", "2000-01-01", "--format", "json"])
    data = json.loads(out.output)
    assert len(data) == 4 and set(data[0]) == set(EXPORT_COLUMNS)
    assert {d["outcome"] for d in data} <= {"answered", "abandoned_queue", None}
    none = CliRunner().invoke(
        main, ["calls", "export", "--since", "2999-01-01", "--format", "json"]
    )
    assert json.loads(none.output) == []
