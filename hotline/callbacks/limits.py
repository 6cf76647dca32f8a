"""The callback webhook's one Redis round trip: the daily limit and the pending request.

Keyed by the keyed hash of the caller's number, never the number itself. The pending flag is
set and cleared by the worker that owns the Callback rows (`store`, `runner`).
"""

from __future__ import annotations

import datetime as dt

import redis

PREFIX = "hotline:cb"
DAY_SECONDS = 24 * 3600

# A pending request is updated, not counted again; otherwise count this one and refuse
# beyond the limit. Returns {verdict, callers waiting for the language}.
CHECK = """
local pending, counter, waiting = KEYS[1], KEYS[2], KEYS[3]
local max, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local ahead = redis.call('ZCARD', waiting)
if redis.call('EXISTS', pending) == 1 then return {'update', ahead} end
local n = redis.call('INCR', counter)
if n == 1 then redis.call('EXPIRE', counter, ttl) end
if n > max then return {'limit', ahead} end
return {'new', ahead}
"""


def pending_key(caller_hash: str) -> str:
    return f"{PREFIX}:pending:{caller_hash}"


def counter_key(caller_hash: str, day: dt.date) -> str:
    return f"{PREFIX}:day:{caller_hash}:{day.isoformat()}"


def check_request(
    connection: redis.Redis,
    caller_hash: str,
    language: str,
    now: dt.datetime,
    max_per_day: int,
    board_prefix: str = "hotline:rt",
) -> tuple[str, int]:
    """("new" | "update" | "limit", how many wait for `language` on the routing board)."""
    keys = [
        pending_key(caller_hash),
        counter_key(caller_hash, now.astimezone(dt.UTC).date()),
        f"{board_prefix}:w:{language}",
    ]
    raw = connection.eval(CHECK, 3, *keys, max_per_day, DAY_SECONDS + 3600)
    verdict = raw[0].decode() if isinstance(raw[0], bytes) else str(raw[0])
    return verdict, int(raw[1])


def set_pending(connection: redis.Redis, caller_hash: str, callback_id: int) -> None:
    connection.set(pending_key(caller_hash), callback_id, ex=7 * DAY_SECONDS)


def clear_pending(connection: redis.Redis, caller_hash: str) -> None:
    connection.delete(pending_key(caller_hash))
