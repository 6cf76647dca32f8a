"""Settings, read from the environment (and a `.env` file) when the app factory runs."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TWILIO_API_BASE = "https://api.twilio.com"

# name -> (default, parser). Names are a public contract (DESIGN.md): do not rename.
_TRUE = {"1", "true", "yes", "on"}


def _bool(value: str) -> bool:
    return value.strip().lower() in _TRUE


def _int(value: str) -> int:
    return int(value.strip())


def _str(value: str) -> str:
    return value.strip()


SETTINGS: dict[str, tuple[Any, Any]] = {
    "HOTLINE_DATABASE_URL": (None, _str),  # default: SQLite in the instance folder
    "REDIS_URL": (None, _str),  # default: an in-process stand-in (fakeredis)
    "TWILIO_ACCOUNT_SID": ("AC" + "0" * 32, _str),
    "TWILIO_AUTH_TOKEN": ("", _str),
    "TWILIO_API_BASE_URL": (TWILIO_API_BASE, _str),
    "HOTLINE_PUBLIC_URL": ("", _str),
    "HOTLINE_DEV_MODE": (False, _bool),
    "HOTLINE_FLOWS_DIR": (str(PROJECT_ROOT / "ivr_flows"), _str),
    "HOTLINE_RECORDINGS_DIR": (str(PROJECT_ROOT / "recordings"), _str),
    "HOTLINE_INSTANCE_PATH": (str(PROJECT_ROOT / "instance"), _str),
    "HOTLINE_SECRET_KEY": ("", _str),
    "HOTLINE_NUMBER_HASH_KEY": ("", _str),
    "HOTLINE_MAX_BODY_BYTES": (64 * 1024, _int),
    "HOTLINE_QUEUE_PREFIX": ("hotline", _str),
    "HOTLINE_LOG_LEVEL": ("INFO", _str),
    "HOTLINE_LOG_FORMAT": ("text", _str),  # text | json (one object a line, with call_sid)
    # Routing: how long a counselor's phone rings, their wrap-up after a call, how many
    # missed offers set them away, and the number their phone shows if the caller's is unknown.
    "HOTLINE_RING_SECONDS": (20, _int),
    "HOTLINE_WRAP_UP_SECONDS": (60, _int),
    "HOTLINE_AWAY_AFTER_MISSES": (3, _int),
    "HOTLINE_CALLER_ID": ("", _str),
    # The dashboard: the zone its times, hours of day and dates are in, and the service-level
    # threshold (share of queued calls answered within this many seconds).
    "HOTLINE_TIMEZONE": ("Asia/Shanghai", _str),
    "HOTLINE_SERVICE_LEVEL_SECONDS": (60, _int),
    # Callbacks: countries we call (ISO codes, comma-separated; "" = a default list of
    # countries with large Chinese communities), requests per number per day, when a
    # waiting callback goes before newer live callers, retry delays and attempts.
    "HOTLINE_CALLBACK_COUNTRIES": ("", _str),
    "HOTLINE_CALLBACK_MAX_PER_DAY": (3, _int),
    "HOTLINE_CALLBACK_PRIORITY_AFTER": (1800, _int),
    "HOTLINE_CALLBACK_RETRY_MINUTES": ("10,30", _str),
    "HOTLINE_CALLBACK_MAX_ATTEMPTS": (3, _int),
    "HOTLINE_RECORDINGS_STORAGE": ("", _str),  # default: <instance>/recordings
    "HOTLINE_DELETE_TWILIO_RECORDINGS": (True, _bool),  # once our copy is safely stored
    "HOTLINE_RETAIN_RECORDINGS_DAYS": (90, _int),
    "HOTLINE_RETAIN_NUMBERS_DAYS": (365, _int),
}


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Defaults < .env file < process environment < explicit overrides (tests)."""
    env: dict[str, str] = {}
    dotenv_path = Path(os.environ.get("HOTLINE_DOTENV", PROJECT_ROOT / ".env"))
    if dotenv_path.is_file():
        env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ if environ is None else environ)

    config: dict[str, Any] = {}
    for name, (default, parse) in SETTINGS.items():
        config[name] = parse(env[name]) if name in env and env[name] != "" else default
    if overrides:
        config.update(overrides)

    instance = Path(config["HOTLINE_INSTANCE_PATH"])
    if not config["HOTLINE_DATABASE_URL"]:
        config["HOTLINE_DATABASE_URL"] = f"sqlite:///{instance / 'hotline.db'}"
    if not config["HOTLINE_RECORDINGS_STORAGE"]:
        config["HOTLINE_RECORDINGS_STORAGE"] = str(instance / "recordings")
    if not config["HOTLINE_SECRET_KEY"]:
        config["HOTLINE_SECRET_KEY"] = _instance_secret(instance, "secret_key")
    if not config["HOTLINE_NUMBER_HASH_KEY"]:
        config["HOTLINE_NUMBER_HASH_KEY"] = _instance_secret(instance, "number_hash_key")
    config["TWILIO_API_BASE_URL"] = str(config["TWILIO_API_BASE_URL"]).rstrip("/")
    config["HOTLINE_PUBLIC_URL"] = str(config["HOTLINE_PUBLIC_URL"]).rstrip("/")
    return config


def _instance_secret(instance: Path, name: str) -> str:
    """A random secret kept in the instance folder, so a local run needs no configuration
    and keeps the same key across restarts (hashes of caller numbers must stay comparable)."""
    path = instance / name
    if path.is_file():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    try:
        with open(path, "x") as fh:
            fh.write(value)
        path.chmod(0o600)
    except FileExistsError:  # another process won the race: use its key
        return path.read_text().strip()
    return value


def redacted(config: Mapping[str, Any]) -> dict[str, Any]:
    """Configuration safe to print or log: secrets replaced."""
    secret_words = ("TOKEN", "SECRET", "KEY", "PASSWORD")
    out: dict[str, Any] = {}
    for name, value in config.items():
        if any(word in name for word in secret_words):
            out[name] = "***" if value else ""
        elif name.endswith("_URL") and isinstance(value, str) and "@" in value:
            scheme, _, rest = value.partition("://")
            out[name] = f"{scheme}://***@{rest.split('@', 1)[1]}"
        else:
            out[name] = value
    return out
