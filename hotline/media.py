"""Audio Twilio fetches for <Play> (prompts, hold music). Served without a signature check,
since Twilio fetches media like a plain browser; only audio files below recordings/."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, send_from_directory

bp = Blueprint("media", __name__, url_prefix="/media")
AUDIO = {".wav": "audio/wav", ".mp3": "audio/mpeg"}


@bp.get("/<path:filename>")
def serve(filename: str) -> Response:
    suffix = Path(filename).suffix.lower()
    if suffix not in AUDIO:
        abort(404)
    response = send_from_directory(
        current_app.config["HOTLINE_RECORDINGS_DIR"], filename, mimetype=AUDIO[suffix], max_age=3600
    )
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
