"""Login throttling in Redis: failures counted per account and per address, with expiry.

When Redis cannot be reached, logins are refused (fail closed): a limiter that lets everyone
through whenever Redis hiccups is no limiter.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis


class LimiterUnavailable(Exception):
    """Redis cannot count attempts: logins are refused politely rather than unlimited."""


@dataclass(frozen=True)
class LoginLimiter:
    connection: redis.Redis
    prefix: str = "hotline"
    per_account: int = 5
    per_address: int = 30
    window_seconds: int = 15 * 60

    def _keys(self, email: str, address: str) -> tuple[str, str]:
        # Hashed so Redis holds no email addresses.
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return (
            f"{self.prefix}:login-failures:account:{account}",
            f"{self.prefix}:login-failures:address:{address}",
        )

    def allowed(self, email: str, address: str) -> bool:
        account_key, address_key = self._keys(email, address)
        try:
            account, addr = self.connection.mget(account_key, address_key)
        except redis.RedisError as exc:
            raise LimiterUnavailable(str(exc)) from exc
        return int(account or 0) < self.per_account and int(addr or 0) < self.per_address

    def failed(self, email: str, address: str) -> None:
        try:
            pipe = self.connection.pipeline()
            for key in self._keys(email, address):
                pipe.incr(key)
                pipe.expire(key, self.window_seconds, nx=True)
            pipe.execute()
        except redis.RedisError as exc:
            raise LimiterUnavailable(str(exc)) from exc

    def succeeded(self, email: str, address: str) -> None:
        try:
            self.connection.delete(self._keys(email, address)[0])
        except redis.RedisError as exc:
            raise LimiterUnavailable(str(exc)) from exc
