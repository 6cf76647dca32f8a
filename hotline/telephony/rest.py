"""The one way out to Twilio's REST API, with a configurable base URL (tests point it at a mock).

Errors are sorted for the callers: `Retryable` (429, 5xx, network) should be retried later
with backoff; `NotFound` means the call or queue member is gone; `Rejected` is any other 4xx
that will not heal by retrying (an invalid number, for instance).
"""

from __future__ import annotations

from typing import Any

from requests import Request, Session
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client


class TwilioError(Exception):
    def __init__(self, message: str, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class Retryable(TwilioError):
    """429, 5xx or no answer: try again later, with backoff."""


class NotFound(TwilioError):
    """404: the call or queue member is gone."""


class Rejected(TwilioError):
    """Any other 4xx (an invalid number, say): retrying will not help."""


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


def _classify(exc: Exception) -> TwilioError:
    if isinstance(exc, TwilioRestException):
        status, code = exc.status, exc.code
        # Never the message text: Twilio quotes the numbers involved.
        text = f"Twilio answered {status} (code {code})"
        if status == 429 or status >= 500:
            return Retryable(text, status, code)
        if status == 404:
            return NotFound(text, status, code)
        return Rejected(text, status, code)
    return Retryable(f"Twilio unreachable: {type(exc).__name__}")


class TwilioAdapter:
    """The REST calls the hotline makes, each one line of twilio's client."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(
        self,
        *,
        to: str,
        from_: str,
        url: str,
        status_callback: str,
        timeout: int = 20,
        machine_detection: bool = False,
    ) -> str:
        try:
            call = self.client.calls.create(
                to=to,
                from_=from_,
                url=url,
                method="POST",
                timeout=timeout,
                status_callback=status_callback,
                status_callback_method="POST",
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                machine_detection="Enable" if machine_detection else None,
            )
        except (TwilioException, OSError) as exc:
            raise _classify(exc) from None
        return str(call.sid)

    def dequeue(self, queue_sid: str, call_sid: str, url: str) -> None:
        """Take exactly this caller out of the queue and send them to `url`."""
        try:
            self.client.queues(queue_sid).members(call_sid).update(url=url, method="POST")
        except (TwilioException, OSError) as exc:
            raise _classify(exc) from None

    def redirect(self, call_sid: str, url: str) -> None:
        try:
            self.client.calls(call_sid).update(url=url, method="POST")
        except (TwilioException, OSError) as exc:
            raise _classify(exc) from None

    def hang_up(self, call_sid: str) -> None:
        """Cancel a call still ringing, or end one in progress."""
        try:
            call = self.client.calls(call_sid).fetch()
            status = "canceled" if call.status in ("queued", "ringing") else "completed"
            if call.status in ("completed", "canceled", "failed", "busy", "no-answer"):
                return
            self.client.calls(call_sid).update(status=status)
        except (TwilioException, OSError) as exc:
            error = _classify(exc)
            if isinstance(error, NotFound):
                return
            raise error from None
