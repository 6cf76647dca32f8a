"""Getting call events from a webhook to the workers without making the caller wait.

A webhook appends each event to a Redis list in one round trip and, at most once every few
seconds, enqueues an RQ job that drains the list into the database in batches. If Redis
cannot be reached the events go to a local spool file (fsynced) that is replayed as soon as
Redis answers again, so no event is lost and the caller never waits on a broken dependency.

Every event has a deterministic id, so an event written twice (a Twilio retry, a replayed
spool, a job run again after a crash) is stored once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

log = logging.getLogger(__name__)

PENDING = "hotline:events:pending"
CLAIMS = "hotline:events:claims"  # hash: claim id -> JSON list of raw events
CLAIM_TIMES = "hotline:events:claim-times"  # zset: claim id -> unix time claimed
DEAD = "hotline:events:dead"  # events that could not be parsed, kept for a human
DRAIN_FLAG = "hotline:events:drain-scheduled"
DRAIN_FLAG_TTL_MS = 10_000
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


@dataclass(frozen=True)
class CallEventData:
    event_id: str
    call_sid: str
    kind: str
    at: dt.datetime
    sequence: int | None
    data: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.event_id,
                "call_sid": self.call_sid,
                "kind": self.kind,
                "at": self.at.isoformat(),
                "seq": self.sequence,
                "data": self.data,
            },
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> CallEventData:
        obj = json.loads(raw)
        at = dt.datetime.fromisoformat(obj["at"])
        if at.tzinfo is None:
            raise ValueError("event time without a time zone")
        seq = obj.get("seq")
        data = obj.get("data") or {}
        if not isinstance(data, dict):
            raise ValueError("event data is not a mapping")
        return cls(
            event_id=str(obj["id"])[:64],
            call_sid=str(obj["call_sid"])[:64],
            kind=str(obj["kind"])[:48],
            at=at.astimezone(dt.UTC),
            sequence=int(seq) if seq is not None else None,
            data=data,
        )


def event_id(*parts: object) -> str:
    """The same webhook request (say, retried by Twilio) must give the same ids."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return digest[:40]


def make_event(
    call_sid: str,
    kind: str,
    data: Mapping[str, Any] | None,
    at: dt.datetime,
    *,
    discriminator: str,
    sequence: int | None = None,
) -> CallEventData:
    return CallEventData(
        event_id=event_id(call_sid, kind, discriminator),
        call_sid=call_sid,
        kind=kind,
        at=at,
        sequence=sequence,
        data=dict(data or {}),
    )


class EventSink:
    """Where webhooks put events. Never raises: the caller is more important than the log."""

    def __init__(self, connection: redis.Redis, spool_dir: Path, enqueue_drain: Any) -> None:
        self.connection = connection
        self.spool_dir = spool_dir
        self.enqueue_drain = enqueue_drain
        self._lock = threading.Lock()

    def emit(self, events: Iterable[CallEventData]) -> None:
        payload = [e.to_json() for e in events]
        if not payload:
            return
        try:
            self._push(payload)
        except REDIS_DOWN as exc:
            log.warning(
                "redis unreachable (%s): %d events spooled", type(exc).__name__, len(payload)
            )
            self.spool(payload)
            return
        except Exception:
            log.exception("could not queue events; spooled")
            self.spool(payload)
            return
        self.replay_spool()

    def _push(self, payload: list[str]) -> None:
        pipe = self.connection.pipeline(transaction=False)
        pipe.rpush(PENDING, *payload)
        pipe.set(DRAIN_FLAG, "1", nx=True, px=DRAIN_FLAG_TTL_MS)
        _, scheduled = pipe.execute()
        if scheduled:
            self.enqueue_drain()

    # ---- the spool --------------------------------------------------------------------
    def spool(self, payload: list[str]) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"events-{os.getpid()}-{threading.get_ident()}.jsonl"
        data = "".join(line + "\n" for line in payload).encode()
        with self._lock:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)

    def replay_spool(self) -> int:
        """Push spooled events to Redis. Each file is claimed by renaming it, so several
        processes replaying at once never push the same file twice (and a double push
        would be harmless anyway: ids are deterministic)."""
        try:
            names = os.listdir(self.spool_dir)
        except FileNotFoundError:
            return 0
        replayed = 0
        for name in sorted(names):
            if not name.endswith(".jsonl"):
                continue
            source = self.spool_dir / name
            claimed = self.spool_dir / f"{name}.replaying-{uuid.uuid4().hex}"
            try:
                os.rename(source, claimed)
            except FileNotFoundError:
                continue
            lines = [ln for ln in claimed.read_text().splitlines() if ln.strip()]
            try:
                for start in range(0, len(lines), 500):
                    self._push(lines[start : start + 500])
            except Exception:
                # Put it back for the next attempt; nothing is lost.
                os.rename(claimed, self.spool_dir / f"retry-{uuid.uuid4().hex}.jsonl")
                log.warning("spool replay interrupted; will retry")
                return replayed
            claimed.unlink()
            replayed += len(lines)
        if replayed:
            log.info("replayed %d spooled events", replayed)
        return replayed

    def recover_abandoned(self) -> None:
        """Files left in `.replaying-*` by a process that died mid-replay."""
        try:
            names = os.listdir(self.spool_dir)
        except FileNotFoundError:
            return
        for name in names:
            if ".replaying-" in name:
                path = self.spool_dir / name
                try:
                    age = dt.datetime.now().timestamp() - path.stat().st_mtime
                    if age > 60:
                        os.rename(path, self.spool_dir / f"orphan-{uuid.uuid4().hex}.jsonl")
                except FileNotFoundError:
                    continue


# ---- the worker side: claiming batches atomically -------------------------------------
CLAIM_SCRIPT = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items == 0 then return {} end
redis.call('LTRIM', KEYS[1], #items, -1)
redis.call('HSET', KEYS[2], ARGV[2], cjson.encode(items))
redis.call('ZADD', KEYS[3], tonumber(ARGV[3]), ARGV[2])
return items
"""

# A claim whose worker died (SIGKILL, lost machine) goes back to the pending list.
RETURN_SCRIPT = """
local raw = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if not raw then return 0 end
local items = cjson.decode(raw)
for i = #items, 1, -1 do redis.call('LPUSH', KEYS[1], items[i]) end
return #items
"""


class EventBuffer:
    """The worker's view of the pending events."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._claim = connection.register_script(CLAIM_SCRIPT)
        self._return = connection.register_script(RETURN_SCRIPT)

    def claim(self, batch: int, now: float) -> tuple[str, list[bytes]]:
        claim_id = uuid.uuid4().hex
        items = self._claim(keys=[PENDING, CLAIMS, CLAIM_TIMES], args=[batch, claim_id, now])
        return claim_id, list(items)

    def done(self, claim_id: str) -> None:
        pipe = self.connection.pipeline(transaction=True)
        pipe.hdel(CLAIMS, claim_id)
        pipe.zrem(CLAIM_TIMES, claim_id)
        pipe.execute()

    def give_back(self, claim_id: str) -> int:
        return int(self._return(keys=[PENDING, CLAIMS, CLAIM_TIMES], args=[claim_id]))

    def reap(self, older_than: float) -> int:
        stale = self.connection.zrangebyscore(CLAIM_TIMES, "-inf", older_than)
        return sum(self.give_back(c.decode() if isinstance(c, bytes) else c) for c in stale)

    def pending(self) -> int:
        return int(self.connection.llen(PENDING))

    def claimed(self) -> int:
        return int(self.connection.zcard(CLAIM_TIMES))

    def dead_letter(self, raw: bytes, reason: str) -> None:
        self.connection.rpush(
            DEAD, json.dumps({"raw": raw.decode("utf-8", "replace"), "why": reason})
        )

    def release_drain_flag(self) -> None:
        self.connection.delete(DRAIN_FLAG)
