#!/usr/bin/env python3
"""Set up and run the hotline on a fresh machine that has nothing but Python 3.11+.

    python3 dev.py run     virtual environment, install, migrate, demo data, server + worker
    python3 dev.py test    virtual environment, install, the whole test suite (+ ruff)

Only the standard library is used here, since nothing else is installed yet.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def say(message: str) -> None:
    print(f"» {message}", flush=True)


def ensure_environment() -> None:
    if not PY.exists():
        say(f"creating the virtual environment in {VENV.relative_to(ROOT)}/")
        venv.EnvBuilder(with_pip=True).create(VENV)
    # Install again only when what we depend on has changed.
    inputs = b"".join((ROOT / name).read_bytes() for name in ("pyproject.toml", "constraints.txt"))
    stamp = VENV / ".hotline-installed"
    digest = hashlib.sha256(inputs).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    say("installing the hotline and its pinned dependencies")
    pip = [str(PY), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run(
        [*pip, "install", "-c", str(ROOT / "constraints.txt"), "-e", f"{ROOT}[dev]"], check=True
    )
    stamp.write_text(digest)


def hotline(*args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(BIN / "hotline"), *args], check=True, cwd=ROOT, env=env)


def run(args: list[str]) -> int:
    ensure_environment()
    env = dict(os.environ)
    # Local use only: no Twilio in front of us, so signatures cannot be checked.
    env.setdefault("HOTLINE_DEV_MODE", "1")
    say("migrating the database")
    hotline("db", "upgrade", env=env)
    say("loading the demo counselors and their shifts")
    hotline("demo", "load", env=env)
    hotline("flows", "validate", env=env)
    say("starting the server with an RQ worker beside it (Ctrl-C stops both)")
    try:
        return subprocess.call([str(BIN / "hotline"), "serve", *args], cwd=ROOT, env=env)
    except KeyboardInterrupt:
        return 0


def test(args: list[str]) -> int:
    ensure_environment()
    env = dict(os.environ)
    env.pop("HOTLINE_DEV_MODE", None)
    say("running the tests")
    code = subprocess.call([str(PY), "-m", "pytest", *args], cwd=ROOT, env=env)
    if code != 0 or args:
        return code
    say("ruff check and ruff format --check")
    code = subprocess.call([str(BIN / "ruff"), "check", "."], cwd=ROOT)
    return code or subprocess.call([str(BIN / "ruff"), "format", "--check", "."], cwd=ROOT)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test"}:
        print(__doc__)
        return 2
    command, rest = sys.argv[1], sys.argv[2:]
    return run(rest) if command == "run" else test(rest)


if __name__ == "__main__":
    sys.exit(main())
