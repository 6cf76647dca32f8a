"""The one way out to Twilio's REST API, with a configurable base URL (tests point it at a mock).

Errors are sorted for the callers: `Retryable` (429, 5xx, network) should be retried later
with backoff; `NotFound` means the call or queue member is gone; `Rejected` is any other 4xx
that will not heal by retrying (an invalid number, for instance).
"""

from __future__ import annotations

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client


class TwilioError(Exception):
    def __init__(self, message: str, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class Retryable(TwilioError):
    pass


class NotFound(TwilioError):
    pass


class Rejected(TwilioError):
    pass


def make_client(account_sid: str, auth_token: str, base_url: str, timeout: float = 10.0) -> Client:
    client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
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
