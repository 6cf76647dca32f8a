"""gunicorn settings for the hotline: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Read from the environment so one file serves every machine: PORT, WEB_CONCURRENCY (worker
processes), GUNICORN_WORKER_CLASS (sync | gthread), GUNICORN_THREADS (gthread only),
GUNICORN_TIMEOUT, GUNICORN_KEEPALIVE, FORWARDED_ALLOW_IPS, GUNICORN_ACCESS_LOG=1.

Why gthread, one process per core, four threads: a webhook is CPU work (signature HMAC,
the flow engine, TwiML) with two sub-millisecond waits on Redis, so more processes than cores
only add switching. But the same processes serve the dashboard, whose call log and statistics
wait 100-300 ms on PostgreSQL: with sync workers two managers' pages would hold both workers
of a two-core machine and every caller's webhook would wait behind them; with threads the GIL
is free while PostgreSQL works. Threads also keep the balancer's connections alive.
bench/load.py on two shared cores (1,000 waiting callers, 20 new calls/s, ~180 webhooks/s)
did not separate the classes for webhooks alone: p99 36 and 77 ms with gthread x2 (4
threads), 22 and 82 ms with sync x2; the machine's other load moved it more than the class.
GUNICORN_WORKER_CLASS=sync is there to try on a dedicated machine.
"""

from __future__ import annotations

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{_int('PORT', 8000)}"
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = _int("WEB_CONCURRENCY", multiprocessing.cpu_count())
threads = _int("GUNICORN_THREADS", 4)
# Twilio gives up on a webhook after 15 s and plays the fallback URL; a worker stuck far
# longer than that is broken and is replaced.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = 30
# Longer than the load balancer's idle timeout, so the balancer closes first
# and never sends a request down a connection gunicorn is closing.
keepalive = _int("GUNICORN_KEEPALIVE", 75)
# Recycle workers now and then so a slow leak cannot grow without bound; jitter keeps them
# from restarting all at once.
max_requests = _int("GUNICORN_MAX_REQUESTS", 20000)
max_requests_jitter = max_requests // 10
# Twilio signs the public URL; behind a proxy the app trusts X-Forwarded-* only from it.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The heartbeat file on tmpfs: a slow disk must not look like a hung worker.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# The app logs every call step itself (masked, with CallSid); access lines are optional.
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG") == "1" else None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "hotline-web"
