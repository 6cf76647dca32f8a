"""The one way out to Twilio's REST API, with a configurable base URL (tests point it at a mock)."""

from __future__ import annotations

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client


def make_client(account_sid: str, auth_token: str, base_url: str, timeout: float = 10.0) -> Client:
    client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
    # Every resource the hotline uses (calls, queues, recordings) lives on the Api domain.
    client.api.base_url = base_url.rstrip("/")
    return client
