"""Logging: plain text or one JSON object a line, and a filter that keeps phone numbers and
secrets out of every line.

The filter works on the record itself (message, arguments, traceback), so whatever handler
or formatter comes after it, including ones a test or gunicorn adds, sees only masked text.
Lines written while a webhook or an RQ job runs carry the call's CallSid, so one call can be
followed across web processes and workers without logging who called.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from .phone import mask

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
# "+" then 7 to 15 digits with the separators people write; or a bare run of 9 to 15 digits
# (a national number). Digits glued to letters (CallSids, hashes) or to a "." (decimals) are
# left alone; a date (8 digits) is too short to be taken for a number.
_INTERNATIONAL = re.compile(r"(?<![\w+])\+\d(?:[\s().-]{0,2}\d){6,16}(?!\w)")
_NATIONAL = re.compile(r"(?<![\w.+])\d(?:[ -]?\d){8,14}(?![\w.])")
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s:@]*(?::[^/\s@]*)?@")
SECRET_SETTINGS = ("TWILIO_AUTH_TOKEN", "HOTLINE_SECRET_KEY", "HOTLINE_NUMBER_HASH_KEY")
URL_SETTINGS = ("HOTLINE_DATABASE_URL", "REDIS_URL")


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with phone numbers masked, credentials in URLs and the given secrets hidden."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _URL_CREDENTIALS.sub("***@", text)
    text = _INTERNATIONAL.sub(lambda m: mask(m.group(0)), text)
    return _NATIONAL.sub("•••", text)


def _secrets_of(config: Mapping[str, Any]) -> list[str]:
    values = [str(config.get(name) or "") for name in SECRET_SETTINGS]
    for name in URL_SETTINGS:
        password = urlsplit(str(config.get(name) or "")).password
        if password:
            values.append(password)
    # Short values would mask innocent words; a real secret is long.
    return sorted({v for v in values if len(v) >= 6}, key=len, reverse=True)


def current_call_sid() -> str | None:
    """The CallSid of the webhook or job running now, if there is one."""
    # A body too large or malformed: no sid rather than no log line.
    with contextlib.suppress(Exception):
        from flask import has_request_context, request

        if has_request_context() and request.path.startswith("/voice/"):
            sid = request.form.get("CallSid", "")
            if _SID.match(sid):
                return sid
    try:
        from rq import get_current_job

        job = get_current_job()
    except Exception:
        return None
    if job is not None:
        for arg in job.args or ():
            if isinstance(arg, str) and _SID.match(arg):
                return arg
    return None


class RedactingFilter(logging.Filter):
    """Masks numbers and secrets in the record and notes the current CallSid on it."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_hotline_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg = mask_text(message, self.secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info, self.secrets)
        if not getattr(record, "call_sid", None):
            record.call_sid = current_call_sid()
        record._hotline_masked = True
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, call_sid, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        call_sid = getattr(record, "call_sid", None)
        if call_sid:
            line["call_sid"] = call_sid
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False)


def make_formatter(kind: str) -> logging.Formatter:
    return JsonFormatter() if kind.strip().lower() == "json" else logging.Formatter(TEXT_FORMAT)


def configure(level: str, kind: str, secrets: Iterable[str] = ()) -> None:
    """Root logging for this process: a handler if nobody installed one (gunicorn and pytest
    may have), and the redacting filter on every root handler, once."""
    root = logging.getLogger()
    if not root.handlers:
        root.setLevel(getattr(logging, level.upper(), logging.INFO))
        handler = logging.StreamHandler()
        handler.setFormatter(make_formatter(kind))
        root.addHandler(handler)
    secrets = list(secrets)
    for handler in root.handlers:
        existing = [f for f in handler.filters if isinstance(f, RedactingFilter)]
        if existing:
            existing[0].secrets = sorted({*existing[0].secrets, *secrets}, key=len, reverse=True)
        else:
            handler.addFilter(RedactingFilter(secrets))


def init_app(app: Any) -> None:
    configure(
        app.config.get("HOTLINE_LOG_LEVEL", "INFO"),
        app.config.get("HOTLINE_LOG_FORMAT", "text"),
        _secrets_of(app.config),
    )
