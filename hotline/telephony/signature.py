"""Is this request really from Twilio? Checked with twilio's RequestValidator only."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator


def public_url(public_base: str, host_url: str, path: str, query_string: bytes) -> str:
    """The URL Twilio requested, as it signed it: behind a proxy, our own view of the URL
    (scheme, host, port) differs, so the configured public base replaces it. The query
    string is used raw: Twilio signs it still percent-encoded."""
    base = public_base or host_url.rstrip("/")
    query = query_string.decode("latin-1")
    return f"{base}{path}" + (f"?{query}" if query else "")


def is_valid(auth_token: str, url: str, form: Mapping[str, str], signature: str | None) -> bool:
    if not auth_token or not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(form), signature))


def sign(auth_token: str, url: str, form: Mapping[str, str]) -> str:
    """The signature Twilio would send (for the simulator and tests)."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(form)))
