"""Offering waiting callers to on-call counselors: the board decides, Twilio rings.

Flask-free: the jobs build a Dispatcher from the app's settings and call it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..phone import mask
from ..schedule import RosterEntry, on_call
from ..telephony.rest import NotFound, Rejected, Retryable, TwilioAdapter
from .board import Board, Offer

log = logging.getLogger(__name__)

Emit = Callable[[str, str, dict[str, Any], str], None]  # call_sid, kind, data, discriminator


@dataclass(frozen=True)
class RoutingSettings:
    public_url: str
    ring_seconds: int = 20
    offer_ttl_seconds: int = 90
    skip_after_miss_seconds: int = 120
    skip_after_decline_seconds: int = 30
    away_after_misses: int = 3
    wrap_up_seconds: int = 60
    caller_id: str = ""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RoutingSettings:
        return cls(
            public_url=config.get("HOTLINE_PUBLIC_URL") or "http://localhost:5000",
            ring_seconds=int(config.get("HOTLINE_RING_SECONDS", 20)),
            wrap_up_seconds=int(config.get("HOTLINE_WRAP_UP_SECONDS", 60)),
            away_after_misses=int(config.get("HOTLINE_AWAY_AFTER_MISSES", 3)),
            caller_id=config.get("HOTLINE_CALLER_ID", ""),
        )

    def whisper_url(self, offer_id: str) -> str:
        return f"{self.public_url}/voice/counselor/whisper?o={offer_id}"

    def leg_status_url(self, offer_id: str) -> str:
        return f"{self.public_url}/voice/counselor/status?o={offer_id}"

    def bridge_url(self, offer_id: str) -> str:
        return f"{self.public_url}/voice/bridge/caller?o={offer_id}"

    def gone_url(self, offer_id: str) -> str:
        return f"{self.public_url}/voice/counselor/gone?o={offer_id}"


class RosterCache:
    """Who works when, from the database, kept for a short while: the matcher runs often
    and the roster changes rarely. Rebuilt on demand, so it is only a cache."""

    def __init__(
        self, load: Callable[[], tuple[list[RosterEntry], dict[int, str]]], ttl: float = 30.0
    ) -> None:
        self._load = load
        self._ttl = ttl
        self._lock = threading.Lock()
        self._at = -1e9
        self._entries: list[RosterEntry] = []
        self._phones: dict[int, str] = {}

    def _fresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._at > self._ttl:
                self._entries, self._phones = self._load()
                self._at = time.monotonic()

    def invalidate(self) -> None:
        with self._lock:
            self._at = -1e9

    def entries(self) -> list[RosterEntry]:
        self._fresh()
        return self._entries

    def phone(self, counselor_id: int) -> str | None:
        self._fresh()
        return self._phones.get(counselor_id)

    def on_call_ids(self, language: str, at: dt.datetime) -> list[int]:
        return [
            e.counselor_id
            for e in on_call(self.entries(), at, language)
            if self.phone(e.counselor_id)
        ]


class Dispatcher:
    def __init__(
        self,
        board: Board,
        adapter: TwilioAdapter,
        roster: RosterCache,
        settings: RoutingSettings,
        emit: Emit,
    ) -> None:
        self.board = board
        self.adapter = adapter
        self.roster = roster
        self.settings = settings
        self.emit = emit

    def match(self, language: str, now: float | None = None) -> list[Offer]:
        """Offer waiting callers of `language` to free on-call counselors, one ring each,
        until one side runs out. Raises Retryable (after giving the offer back) so the job
        is retried with backoff when Twilio is overloaded or unreachable."""
        now = now or time.time()
        candidates = self.roster.on_call_ids(language, dt.datetime.fromtimestamp(now, dt.UTC))
        offers: list[Offer] = []
        while candidates:
            offer = self.board.match(
                language, candidates, now=now, ttl_seconds=self.settings.offer_ttl_seconds
            )
            if offer is None:
                break
            if self._ring(offer):
                offers.append(offer)
            else:
                candidates = [c for c in candidates if c != offer.counselor_id]
        return offers

    def _ring(self, offer: Offer) -> bool:
        caller = self.board.caller(offer.call_sid)
        phone = self.roster.phone(offer.counselor_id)
        caller_id = caller.get("to") or self.settings.caller_id
        try:
            if not phone or not caller_id:
                raise Rejected("no number to call from or to")
            leg = self.adapter.call(
                to=phone,
                from_=caller_id,
                url=self.settings.whisper_url(offer.offer_id),
                status_callback=self.settings.leg_status_url(offer.offer_id),
                timeout=self.settings.ring_seconds,
            )
        except Retryable:
            self.board.release(offer.offer_id, missed=False, skip_seconds=0, away_after=10**6)
            raise
        except (Rejected, NotFound) as exc:
            # A number Twilio will not call does not heal by retrying: take the counselor
            # out of rotation until someone fixes it, and offer the caller to the next one.
            self.board.release(offer.offer_id, missed=False, skip_seconds=0, away_after=10**6)
            self.board.set_presence(offer.counselor_id, "away")
            log.warning("counselor %s number %s rejected: %s", offer.counselor_id, mask(phone), exc)
            self.emit(
                offer.call_sid,
                "counselor_number_rejected",
                {"counselor_id": offer.counselor_id, "status": getattr(exc, "status", None)},
                f"rejected|{offer.offer_id}",
            )
            return False
        self.board.set_leg(offer.offer_id, leg)
        self.emit(
            offer.call_sid,
            "offered",
            {"counselor_id": offer.counselor_id, "offer_id": offer.offer_id, "leg_sid": leg},
            f"offered|{offer.offer_id}",
        )
        return True
