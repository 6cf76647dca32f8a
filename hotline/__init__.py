"""心理援助热线 · a telephone hotline for psychological support."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. Nothing connects to anything before this runs; a broken flow file
    stops it here with the file, line and reason."""
    from . import (
        callback_voice,
        counselor_voice,
        dashboard,
        db,
        health,
        logs,
        media,
        queues,
        routing,
        voice,
    )
    from .config import load_settings
    from .flows import load_flows

    settings = load_settings(test_config)
    app = Flask(__name__, instance_path=str(Path(settings["HOTLINE_INSTANCE_PATH"]).resolve()))
    app.config.update(settings)
    app.config["SECRET_KEY"] = settings["HOTLINE_SECRET_KEY"]
    app.config["MAX_CONTENT_LENGTH"] = settings["HOTLINE_MAX_BODY_BYTES"]
    logs.init_app(app)

    app.extensions["hotline.flows"] = load_flows(
        Path(settings["HOTLINE_FLOWS_DIR"]), Path(settings["HOTLINE_RECORDINGS_DIR"])
    )
    db.init_app(app)
    queues.init_app(app)
    routing.init_app(app)
    voice.init_app(app)
    counselor_voice.init_app(app)
    callback_voice.init_app(app)
    media.init_app(app)
    dashboard.init_app(app)
    health.init_app(app)
    return app
