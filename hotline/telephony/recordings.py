"""Twilio's side of recordings: where the media is, fetching it, deleting Twilio's copy."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from .rest import BinaryResponse

RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
_RECORDING_PATH = re.compile(
    r"^/2010-04-01/Accounts/AC[0-9a-fA-F]{32}/Recordings/RE[0-9a-fA-F]{32}$"
)


class RecordingGone(Exception):
    """Twilio has no such recording (404): trying again will not help."""


class TwilioBusy(Exception):
    """429 or 5xx from Twilio: try again later (RQ's retry backs off)."""


def media_url(
    recording_url: str | None, recording_sid: str, account_sid: str, api_base: str
) -> str:
    """The `.wav` of a recording, on our configured API host.

    Only the path of Twilio's RecordingUrl is kept: credentials must go to the API host we
    configured, never to whatever host a callback names (and tests point it at a mock)."""
    path = urlsplit(recording_url or "").path.removesuffix(".json").removesuffix(".wav")
    if not _RECORDING_PATH.match(path) or not path.endswith(f"/{recording_sid}"):
        path = f"/2010-04-01/Accounts/{account_sid}/Recordings/{recording_sid}"
    return f"{api_base.rstrip('/')}{path}.wav"


def download_wav(client: Client, url: str, timeout: float = 60.0) -> bytes:
    """The recording's bytes. Raises RecordingGone (404), TwilioBusy (429, 5xx), or
    the transport's error (timeouts, connection refused) for the job to retry."""
    response = client.request("GET", url, timeout=timeout, allow_redirects=True)
    if response.status_code == 404:
        raise RecordingGone(f"recording media not found ({response.status_code})")
    if response.status_code == 429 or response.status_code >= 500:
        raise TwilioBusy(f"Twilio answered {response.status_code} for recording media")
    if response.status_code >= 300:
        raise RuntimeError(f"Twilio answered {response.status_code} for recording media")
    if isinstance(response, BinaryResponse):
        return response.body
    return response.text.encode("latin-1")  # a stock client; not used by the hotline


def delete_recording(client: Client, recording_sid: str) -> bool:
    """Delete Twilio's copy. False when it was already gone (404 counts as done)."""
    try:
        client.recordings(recording_sid).delete()
    except TwilioRestException as exc:
        if exc.status == 404:
            return False
        if exc.status == 429 or exc.status >= 500:
            raise TwilioBusy(f"Twilio answered {exc.status} deleting a recording") from None
        raise
    return True
