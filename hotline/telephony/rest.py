"""The one way out to Twilio's REST API, with a configurable base URL (tests point it at a mock)."""

from __future__ import annotations

from typing import Any

from requests import Request, Session
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client


class BinaryResponse(Response):
    """Twilio's response plus the raw bytes: recording media is binary, and the stock
    response keeps only text decoded with a guessed charset."""

    def __init__(self, status_code: int, body: bytes, text: str, headers: Any) -> None:
        super().__init__(status_code, text, headers)
        self.body = body


class HttpClient(TwilioHttpClient):
    """TwilioHttpClient that keeps each response's bytes (and does not decode audio)."""

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> BinaryResponse:
        if timeout is None:
            timeout = self.timeout
        elif timeout <= 0:
            raise ValueError(timeout)
        kwargs: dict[str, Any] = {
            "method": method.upper(),
            "url": url,
            "params": params,
            "headers": headers,
            "auth": auth,
            "hooks": self.request_hooks,
        }
        if headers and headers.get("Content-Type") in ("application/json", "application/scim+json"):
            kwargs["json"] = data
        else:
            kwargs["data"] = data
        self.log_request(kwargs)
        session = self.session or Session()
        prepared = session.prepare_request(Request(**kwargs))
        settings = session.merge_environment_settings(prepared.url, self.proxy, None, None, None)
        response = session.send(
            prepared, allow_redirects=allow_redirects, timeout=timeout, **settings
        )
        self.log_response(response.status_code, response)
        content_type = response.headers.get("Content-Type", "")
        binary = content_type.startswith(("audio/", "application/octet-stream"))
        return BinaryResponse(
            int(response.status_code),
            response.content,
            "" if binary else response.text,
            response.headers,
        )


def make_client(account_sid: str, auth_token: str, base_url: str, timeout: float = 10.0) -> Client:
    client = Client(account_sid, auth_token, http_client=HttpClient(timeout=timeout))
    # Every resource the hotline uses (calls, queues, recordings) lives on the Api domain.
    client.api.base_url = base_url.rstrip("/")
    return client
