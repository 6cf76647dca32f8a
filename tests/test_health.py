"""/healthz and /readyz."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hotline import create_app

from .conftest import make_config

PASSWORD = "hunter2-very-secret"


def test_healthz_answers_without_touching_anything(tmp_path: Path, sqlite_url: str) -> None:
    # Nothing listens on port 1: the process is still alive, so /healthz says so.
    app = create_app(
        make_config(
            tmp_path,
            f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:1/x",
            f"redis://:{PASSWORD}@127.0.0.1:1/0",
        )
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_ready_when_everything_answers(client: Any) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["failed"] == []
    assert set(body["checks"]) == {"database", "redis", "flows"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_names_what_failed_and_never_a_secret(tmp_path: Path) -> None:
    app = create_app(
        make_config(
            tmp_path,
            f"postgresql+psycopg://hotline:{PASSWORD}@127.0.0.1:1/hotline?connect_timeout=1",
            f"redis://:{PASSWORD}@127.0.0.1:1/0",
        )
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "fail"
    assert body["failed"] == ["database", "redis"]
    assert body["checks"]["flows"]["ok"] is True
    text = response.get_data(as_text=True)
    assert PASSWORD not in text and "127.0.0.1" not in text and "hotline:" not in text


def test_readyz_without_flows_is_not_ready(app: Any) -> None:
    app.extensions["hotline.flows"] = None
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failed"] == ["flows"]
