"""argon2id password hashes."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import CHEAPEST

# Verified against when the email is unknown, so that "no such user" takes as long as a wrong
# password and does not tell which emails exist.
_DUMMY_PASSWORD = "not-a-password"


@lru_cache(maxsize=2)
def hasher(cheap: bool = False) -> PasswordHasher:
    # cheap: tests only (HOTLINE_DASHBOARD_CHEAP_HASHES), where hundreds of logins run.
    return PasswordHasher.from_parameters(CHEAPEST) if cheap else PasswordHasher()


def hash_password(password: str, *, cheap: bool = False) -> str:
    return hasher(cheap).hash(password)


@lru_cache(maxsize=2)
def _dummy_hash(cheap: bool) -> str:
    return hash_password(_DUMMY_PASSWORD, cheap=cheap)


def verify_password(stored: str | None, password: str, *, cheap: bool = False) -> bool:
    try:
        return hasher(cheap).verify(stored or _dummy_hash(cheap), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str, *, cheap: bool = False) -> bool:
    return hasher(cheap).check_needs_rehash(stored)
