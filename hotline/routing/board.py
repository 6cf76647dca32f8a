"""The live board: who is waiting, who is free, and the offers between them, in Redis.

Every change is a Lua script, so it is atomic across any number of web processes and
workers: the script that creates an offer is the reservation. A counselor holds at most one
offer, a caller is offered to at most one counselor at a time, and an offer that nobody
answers expires by itself (its key has a TTL; the scripts treat a reference to a missing
offer as no offer).

Keys (P = prefix):
  P:c:{counselor_id}   hash  state, langs, idle, missed, skip, offer, since, call, away_after
  P:w:{language}       zset  call_sid -> priority (lower first: urgent, then longest waiting)
  P:w2:{language}      zset  callers who named `language` as their second one (same priority)
  P:q:{call_sid}       hash  lang, lang2, widen_at, urgent, since, qsid, to, flow, offer, state,
                             cid, kind (live, or callback for "cb-{id}-{attempt}" entries)
  P:o:{offer_id}       hash  sid, cid, lang, created, state, leg   (TTL while ringing)
  P:oncall:{language}  str   how many counselors are on call and not away (set by workers)
Redis Cluster is not supported: the scripts touch keys they compute.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis

PREFIX = "hotline:rt"
URGENT_BONUS = 10**10  # urgent callers sort before everyone who is not
CALLER_TTL = 6 * 3600
ACCEPTED_TTL = 8 * 3600

_LIVE_OFFER = """
local function live_offer(P, oid)
  return oid and oid ~= '' and redis.call('EXISTS', P .. ':o:' .. oid) == 1
end
"""

MATCH = (
    _LIVE_OFFER
    + """
local P, lang, now, oid, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local best, best_idle = nil, nil
for i = 6, #ARGV do
  local ck = P .. ':c:' .. ARGV[i]
  local c = redis.call('HMGET', ck, 'state', 'idle', 'skip', 'offer', 'langs')
  local state = c[1]
  if state == 'offered' and not live_offer(P, c[4]) then
    -- The offer expired unanswered: the counselor is free again.
    state = 'available'
    redis.call('HSET', ck, 'state', 'available', 'offer', '', 'since', now)
  end
  if state == 'available' and tonumber(c[3] or '0') <= now
     and string.find(c[5] or '', ',' .. lang .. ',', 1, true) then
    local idle = tonumber(c[2] or '0')
    if best == nil or idle < best_idle then best, best_idle = ARGV[i], idle end
  end
end
if not best then return nil end
for _, wk in ipairs({P .. ':w:' .. lang, P .. ':w2:' .. lang}) do
  local second = wk == P .. ':w2:' .. lang
  for _, sid in ipairs(redis.call('ZRANGE', wk, 0, 199)) do
    local qk = P .. ':q:' .. sid
    local q = redis.call('HMGET', qk, 'offer', 'since', 'state', 'widen_at')
    if not q[2] then
      redis.call('ZREM', wk, sid)  -- the caller's record expired
    elseif q[3] == 'waiting' and not live_offer(P, q[1])
       and (not second or tonumber(q[4] or '0') <= now) then
      local ok = P .. ':o:' .. oid
      redis.call('HSET', ok, 'sid', sid, 'cid', best, 'lang', lang, 'created', now, 'state', 'ringing')
      redis.call('PEXPIRE', ok, ttl)
      redis.call('HSET', qk, 'offer', oid)
      redis.call('HSET', P .. ':c:' .. best, 'state', 'offered', 'offer', oid, 'since', now)
      return {oid, sid, best, q[2]}
    end
  end
end
return nil
"""
)

ACCEPT = """
local P, oid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ok = P .. ':o:' .. oid
local o = redis.call('HMGET', ok, 'sid', 'cid', 'lang', 'state')
if not o[1] or o[4] ~= 'ringing' then return {'gone'} end
local qk, ck = P .. ':q:' .. o[1], P .. ':c:' .. o[2]
if redis.call('HGET', qk, 'offer') ~= oid or redis.call('HGET', ck, 'offer') ~= oid then
  return {'gone'}
end
local langs = redis.call('HMGET', qk, 'lang', 'lang2')
redis.call('ZREM', P .. ':w:' .. (langs[1] or o[3]), o[1])
if langs[2] and langs[2] ~= '' then redis.call('ZREM', P .. ':w2:' .. langs[2], o[1]) end
redis.call('HSET', qk, 'state', 'bridging', 'cid', o[2])
redis.call('HSET', ck, 'state', 'busy', 'since', now, 'missed', 0, 'call', o[1])
redis.call('HSET', ok, 'state', 'accepted')
redis.call('EXPIRE', ok, ARGV[4])
return {'ok', o[1], o[2], o[3]}
"""

RELEASE = """
local P, oid, now, missed, skip, away_after = ARGV[1], ARGV[2], tonumber(ARGV[3]),
  ARGV[4] == '1', tonumber(ARGV[5]), tonumber(ARGV[6])
local ok = P .. ':o:' .. oid
local o = redis.call('HMGET', ok, 'sid', 'cid', 'lang', 'state')
if not o[1] or o[4] ~= 'ringing' then return {'gone'} end
redis.call('DEL', ok)
local qk, ck = P .. ':q:' .. o[1], P .. ':c:' .. o[2]
if redis.call('HGET', qk, 'offer') == oid then redis.call('HSET', qk, 'offer', '') end
local result = 'released'
if redis.call('HGET', ck, 'offer') == oid then
  local state = 'available'
  if missed then
    local m = redis.call('HINCRBY', ck, 'missed', 1)
    if m >= away_after then state = 'away'; result = 'away' end
  end
  local pending = redis.call('HGET', ck, 'away_after')
  if pending and pending ~= '' then state = pending; redis.call('HSET', ck, 'away_after', '') end
  redis.call('HSET', ck, 'state', state, 'offer', '', 'since', now, 'skip', now + skip)
end
return {result, o[1], o[2], o[3]}
"""

REGISTER_CALLER = """
local P, sid, lang, urgent, since, qsid, to, flow = ARGV[1], ARGV[2], ARGV[3], ARGV[4],
  tonumber(ARGV[5]), ARGV[6], ARGV[7], ARGV[8]
local lang2, widen_at = ARGV[11], since + tonumber(ARGV[12])
local qk = P .. ':q:' .. sid
local kind = ARGV[13] or 'live'
local score = since
if urgent == '1' then score = since - tonumber(ARGV[9]) end
-- A callback sorts as if it had arrived `priority_after` seconds later: live callers first,
-- until it has waited that long.
if ARGV[14] and ARGV[14] ~= '' then score = since + tonumber(ARGV[14]) end
if redis.call('EXISTS', qk) == 1 then
  local state = redis.call('HGET', qk, 'state')
  if qsid ~= '' then redis.call('HSET', qk, 'qsid', qsid) end
  if urgent == '1' and redis.call('HGET', qk, 'urgent') ~= '1' and state == 'waiting' then
    redis.call('HSET', qk, 'urgent', '1')
    redis.call('ZADD', P .. ':w:' .. redis.call('HGET', qk, 'lang'), score, sid)
    local l2 = redis.call('HGET', qk, 'lang2')
    if l2 and l2 ~= '' then redis.call('ZADD', P .. ':w2:' .. l2, score, sid) end
  end
  return 0
end
redis.call('HSET', qk, 'lang', lang, 'urgent', urgent, 'since', since, 'qsid', qsid, 'to', to,
  'flow', flow, 'offer', '', 'state', 'waiting', 'cid', '', 'lang2', lang2, 'widen_at', widen_at,
  'kind', kind)
redis.call('EXPIRE', qk, ARGV[10])
redis.call('ZADD', P .. ':w:' .. lang, score, sid)
-- A second language the caller named: counselors who speak it may take the call once
-- nobody of the first language has for a while (widen_at).
if lang2 ~= '' and lang2 ~= lang then redis.call('ZADD', P .. ':w2:' .. lang2, score, sid) end
return 1
"""

CALLER_GONE = (
    _LIVE_OFFER
    + """
local P, sid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local qk = P .. ':q:' .. sid
local q = redis.call('HMGET', qk, 'lang', 'offer', 'state', 'cid', 'lang2')
if not q[1] then return {'unknown'} end
redis.call('ZREM', P .. ':w:' .. q[1], sid)
if q[5] and q[5] ~= '' then redis.call('ZREM', P .. ':w2:' .. q[5], sid) end
redis.call('DEL', qk)
if q[3] == 'waiting' and live_offer(P, q[2]) then
  local ok = P .. ':o:' .. q[2]
  local o = redis.call('HMGET', ok, 'cid', 'leg', 'state')
  if o[3] == 'ringing' then
    redis.call('DEL', ok)
    local ck = P .. ':c:' .. o[1]
    if redis.call('HGET', ck, 'offer') == q[2] then
      redis.call('HSET', ck, 'state', 'available', 'offer', '', 'since', now)
    end
    return {'cancel', q[2], o[1], o[2] or '', q[1]}
  end
end
return {'gone', q[3] or '', q[4] or ''}
"""
)

CALL_ENDED = """
local P, cid, now, wrap = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local ck = P .. ':c:' .. cid
if redis.call('HGET', ck, 'state') ~= 'busy' then return 0 end
redis.call('HSET', ck, 'state', 'wrap_up', 'since', now, 'call', '', 'wrap_until', now + wrap)
return 1
"""

WRAPUP_DONE = """
local P, cid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ck = P .. ':c:' .. cid
local c = redis.call('HMGET', ck, 'state', 'wrap_until', 'away_after')
if c[1] ~= 'wrap_up' or tonumber(c[2] or '0') > now then return 0 end
local state = 'available'
if c[3] and c[3] ~= '' then state = c[3] end
redis.call('HSET', ck, 'state', state, 'since', now, 'idle', now, 'away_after', '')
return 1
"""

# Presence chosen by the counselor (or a manager). During an offer or a call it is kept for
# afterwards, so nobody is cut off mid-conversation.
SET_PRESENCE = """
local P, cid, state, now, langs = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local ck = P .. ':c:' .. cid
if langs ~= '' then redis.call('HSET', ck, 'langs', langs) end
local current = redis.call('HGET', ck, 'state')
if current == 'offered' or current == 'busy' or current == 'wrap_up' then
  if state == 'available' then state = '' end
  redis.call('HSET', ck, 'away_after', state)
  return current
end
if current == state then return current end
redis.call('HSET', ck, 'state', state, 'since', now, 'missed', 0, 'skip', 0)
if state == 'available' then redis.call('HSET', ck, 'idle', now) end
return state
"""

REGISTER_COUNSELOR = """
local P, cid, langs, state, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local ck = P .. ':c:' .. cid
redis.call('HSET', ck, 'langs', langs)
if redis.call('HSETNX', ck, 'state', state) == 1 then
  redis.call('HSET', ck, 'since', now, 'idle', now, 'missed', 0, 'skip', 0, 'offer', '')
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Offer:
    offer_id: str
    call_sid: str
    counselor_id: int
    language: str
    waiting_since: float


@dataclass(frozen=True)
class Outcome:
    result: str  # ok / released / away / gone / cancel / unknown
    call_sid: str | None = None
    counselor_id: int | None = None
    language: str | None = None
    offer_id: str | None = None
    leg_sid: str | None = None


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Board:
    def __init__(self, connection: redis.Redis, prefix: str = PREFIX) -> None:
        self.r = connection
        self.p = prefix
        self._match = connection.register_script(MATCH)
        self._accept = connection.register_script(ACCEPT)
        self._release = connection.register_script(RELEASE)
        self._register_caller = connection.register_script(REGISTER_CALLER)
        self._caller_gone = connection.register_script(CALLER_GONE)
        self._call_ended = connection.register_script(CALL_ENDED)
        self._wrapup_done = connection.register_script(WRAPUP_DONE)
        self._presence = connection.register_script(SET_PRESENCE)
        self._register_counselor = connection.register_script(REGISTER_COUNSELOR)

    # ---- callers --------------------------------------------------------------------------
    def register_caller(
        self,
        call_sid: str,
        language: str,
        *,
        urgent: bool,
        since: float,
        queue_sid: str = "",
        hotline_number: str = "",
        flow: str = "",
        second_language: str = "",
        widen_after: float = 60.0,
    ) -> bool:
        """Idempotent: the waitUrl calls it on every round; True the first time.
        `second_language`: counselors who speak it may take the caller once `widen_after`
        seconds have passed without a counselor of the first language."""
        return bool(
            self._register_caller(
                args=[
                    self.p, call_sid, language, "1" if urgent else "0", since, queue_sid,
                    hotline_number, flow, URGENT_BONUS, CALLER_TTL, second_language, widen_after,
                ]
            )
        )  # fmt: skip

    def register_callback(
        self,
        entry: str,
        language: str,
        *,
        requested_at: float,
        priority_after: float,
        hotline_number: str = "",
        flow: str = "",
    ) -> bool:
        """A due callback waits on the board like a caller, so the same match script (the
        same reservation) offers it: a counselor never holds a live caller and a callback at
        once. Live callers go first unless the callback has waited `priority_after` seconds;
        urgent live callers always do. `entry` is "cb-{id}-{attempt}"."""
        return bool(
            self._register_caller(
                args=[
                    self.p, entry, language, "0", requested_at, "", hotline_number, flow,
                    URGENT_BONUS, CALLER_TTL, "", 0, "callback", priority_after,
                ]
            )
        )  # fmt: skip

    def caller_gone(self, call_sid: str, now: float | None = None) -> Outcome:
        raw = [_s(x) for x in self._caller_gone(args=[self.p, call_sid, now or time.time()])]
        if raw[0] == "cancel":
            return Outcome(
                "cancel", call_sid, int(raw[2]), raw[4], offer_id=raw[1], leg_sid=raw[3] or None
            )
        if raw[0] == "gone":
            return Outcome("gone", call_sid, int(raw[2]) if raw[2] else None)
        return Outcome(raw[0], call_sid)

    def caller(self, call_sid: str) -> dict[str, str]:
        return {_s(k): _s(v) for k, v in self.r.hgetall(f"{self.p}:q:{call_sid}").items()}

    def waiting(self, language: str) -> list[str]:
        return [_s(s) for s in self.r.zrange(f"{self.p}:w:{language}", 0, -1)]

    def waiting_languages(self, languages: list[str]) -> list[str]:
        """Languages with callers waiting, first or second choice."""
        pipe = self.r.pipeline(transaction=False)
        for lang in languages:
            pipe.zcard(f"{self.p}:w:{lang}")
            pipe.zcard(f"{self.p}:w2:{lang}")
        counts = pipe.execute()
        return [lang for i, lang in enumerate(languages) if counts[2 * i] or counts[2 * i + 1]]

    # ---- offers ---------------------------------------------------------------------------
    def match(
        self,
        language: str,
        candidates: list[int],
        now: float | None = None,
        ttl_seconds: float = 90,
    ) -> Offer | None:
        if not candidates:
            return None
        offer_id = uuid.uuid4().hex[:20]
        raw = self._match(
            args=[
                self.p,
                language,
                now or time.time(),
                offer_id,
                int(ttl_seconds * 1000),
                *candidates,
            ]
        )
        if not raw:
            return None
        oid, sid, cid, since = (_s(x) for x in raw)
        return Offer(oid, sid, int(cid), language, float(since))

    def set_leg(self, offer_id: str, leg_sid: str) -> None:
        key = f"{self.p}:o:{offer_id}"
        # Only while the offer lives: a late answer must not resurrect an expired offer.
        pipe = self.r.pipeline(transaction=True)
        pipe.exists(key)
        pipe.hset(key, "leg", leg_sid)
        exists, _ = pipe.execute()
        if not exists:
            self.r.delete(key)

    def offer(self, offer_id: str) -> dict[str, str]:
        return {_s(k): _s(v) for k, v in self.r.hgetall(f"{self.p}:o:{offer_id}").items()}

    def accept(self, offer_id: str, now: float | None = None) -> Outcome:
        raw = [
            _s(x) for x in self._accept(args=[self.p, offer_id, now or time.time(), ACCEPTED_TTL])
        ]
        if raw[0] != "ok":
            return Outcome("gone", offer_id=offer_id)
        return Outcome("ok", raw[1], int(raw[2]), raw[3], offer_id=offer_id)

    def release(
        self,
        offer_id: str,
        *,
        missed: bool,
        skip_seconds: float,
        away_after: int,
        now: float | None = None,
    ) -> Outcome:
        raw = [
            _s(x)
            for x in self._release(
                args=[
                    self.p,
                    offer_id,
                    now or time.time(),
                    "1" if missed else "0",
                    skip_seconds,
                    away_after,
                ]
            )
        ]
        if raw[0] == "gone":
            return Outcome("gone", offer_id=offer_id)
        return Outcome(raw[0], raw[1], int(raw[2]), raw[3], offer_id=offer_id)

    # ---- counselors -----------------------------------------------------------------------
    def register_counselor(self, counselor_id: int, languages: list[str], state: str) -> bool:
        langs = "," + ",".join(languages) + ","
        return bool(
            self._register_counselor(args=[self.p, counselor_id, langs, state, time.time()])
        )

    def set_presence(
        self,
        counselor_id: int,
        state: str,
        languages: list[str] | None = None,
        now: float | None = None,
    ) -> str:
        langs = "," + ",".join(languages) + "," if languages else ""
        return _s(self._presence(args=[self.p, counselor_id, state, now or time.time(), langs]))

    def call_ended(self, counselor_id: int, wrap_seconds: float, now: float | None = None) -> bool:
        return bool(self._call_ended(args=[self.p, counselor_id, now or time.time(), wrap_seconds]))

    def wrapup_done(self, counselor_id: int, now: float | None = None) -> bool:
        return bool(self._wrapup_done(args=[self.p, counselor_id, now or time.time()]))

    def counselor(self, counselor_id: int) -> dict[str, str]:
        return {_s(k): _s(v) for k, v in self.r.hgetall(f"{self.p}:c:{counselor_id}").items()}

    def counselors(self) -> dict[int, dict[str, str]]:
        out = {}
        for key in self.r.scan_iter(f"{self.p}:c:*", count=500):
            cid = _s(key).rsplit(":", 1)[1]
            if cid.isdigit():
                out[int(cid)] = self.counselor(int(cid))
        return out

    def queue_snapshot(self, language: str, now: float | None = None) -> tuple[int, float]:
        """How many callers wait for `language`, and the longest wait in seconds."""
        now = now or time.time()
        sids = self.waiting(language)
        if not sids:
            return 0, 0.0
        pipe = self.r.pipeline(transaction=False)
        for sid in sids:
            pipe.hget(f"{self.p}:q:{sid}", "since")
        since = [float(_s(v)) for v in pipe.execute() if v is not None]
        return len(sids), max(0.0, now - min(since)) if since else 0.0

    # ---- on-call counts (for the webhook's "is anybody there") ------------------------------
    def set_on_call(self, counts: dict[str, int], ttl_seconds: int = 120) -> None:
        pipe = self.r.pipeline(transaction=False)
        for lang, n in counts.items():
            pipe.set(f"{self.p}:oncall:{lang}", n, ex=ttl_seconds)
        pipe.execute()

    def on_call(self, language: str) -> int | None:
        """None when unknown (no worker has counted lately): callers then simply queue."""
        value = self.r.get(f"{self.p}:oncall:{language}")
        return int(value) if value is not None else None
