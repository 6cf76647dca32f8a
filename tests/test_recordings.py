"""Recording callbacks, the fetch job, and what it does with bad downloads."""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from sqlalchemy import select

from hotline import jobs
from hotline import recordings as rec
from hotline.models import CallEvent, Recording
from hotline.telephony.recordings import TwilioBusy, media_url

from .conftest import ACCOUNT_SID, Twilio, drain

API = "https://api.twilio.test"
SID = "RE" + "a" * 32
MEDIA = f"{API}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{SID}.wav"
DELETE = f"{API}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{SID}.json"


def wav(seconds: float, channels: int = 1) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * channels * int(8000 * seconds))
    return out.getvalue()


def callback(twilio: Twilio, **params: str) -> Any:
    form = {
        "RecordingSid": SID,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{SID}",
        "RecordingStatus": "completed",
        "RecordingDuration": "5",
        "RecordingChannels": "1",
        "RecordingSource": "RecordVerb",
        **params,
    }
    return twilio.post("/voice/recording", **form)


def events(app: Any, kind: str) -> list[CallEvent]:
    with app.extensions["hotline.db"].session() as s:
        return list(s.scalars(select(CallEvent).where(CallEvent.kind == kind)))


def rows(app: Any) -> list[Recording]:
    with app.extensions["hotline.db"].session() as s:
        return list(s.scalars(select(Recording)))


def storage(app: Any) -> Path:
    return Path(app.config["HOTLINE_RECORDINGS_STORAGE"])


def stored_event(app: Any, twilio: Twilio, **params: str) -> None:
    """A completed-recording event in the database, as a drain leaves it (no fetch job run)."""
    assert callback(twilio, **params).status_code == 200
    jobs.bind_app(app)
    jobs.drain_events()


# ---- the webhook -------------------------------------------------------------------------
def test_callback_only_logs_and_answers_empty_twiml(app: Any, twilio: Twilio) -> None:
    response = callback(twilio)
    assert response.status_code == 200
    assert response.data.strip().endswith(b"<Response />")
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, MEDIA, body=wav(5), content_type="audio/x-wav")
        mock.add(responses.DELETE, DELETE, status=204)
        drain(app)  # the drain enqueues the fetch; the same burst runs it
        assert [c.request.method for c in mock.calls] == ["GET", "DELETE"]
        assert mock.calls[0].request.headers["Authorization"].startswith("Basic ")
    [row] = rows(app)
    assert row.recording_sid == SID and row.call_sid == twilio.call_sid
    assert row.kind == "voicemail" and row.duration == 5 and row.bytes == len(wav(5))
    assert row.twilio_deleted_at is not None and row.deleted_at is None
    assert (storage(app) / row.path).read_bytes() == wav(5)
    assert not list(storage(app).rglob("*.tmp"))


def test_unsigned_callback_is_refused(app: Any) -> None:
    response = app.test_client().post("/voice/recording", data={"RecordingSid": SID})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "params",
    [
        {"RecordingSid": ""},
        {"RecordingSid": "../../etc/passwd"},
        {"RecordingSid": "RE" + "z" * 32},
        {"RecordingDuration": "-3", "RecordingChannels": "many", "RecordingStatus": "\x00"},
        {"RecordingDuration": "9" * 40, "RecordingUrl": "javascript:alert(1)" * 40},
        {"CallSid": "", "RecordingSource": "x" * 500},
    ],
)
def test_garbage_callbacks_never_fail(app: Any, twilio: Twilio, params: dict[str, str]) -> None:
    response = callback(twilio, **params)
    assert response.status_code == 200
    assert response.data.strip().endswith(b"<Response />")
    drain(app)  # nothing to fetch, or a fetch that finds nothing usable: never a crash
    assert rows(app) == []


def test_garbage_values_are_cleaned_in_the_event(app: Any, twilio: Twilio) -> None:
    stored_event(app, twilio, RecordingDuration="-3", RecordingChannels="x", RecordingStatus="??")
    [event] = events(app, "recording")
    assert event.data["duration"] is None and event.data["channels"] is None
    assert event.data["status"] == "unknown"


def test_repeated_callbacks_are_one_event_and_one_job(app: Any, twilio: Twilio) -> None:
    for _ in range(3):
        callback(twilio)
    callback(twilio, RecordingStatus="in-progress")
    jobs.bind_app(app)
    jobs.drain_events()
    assert len(events(app, "recording")) == 2
    from hotline.queues import TASKS_QUEUE, connect, fetch_job_id, queue

    tasks = queue(connect(app.config["REDIS_URL"], for_web=False), TASKS_QUEUE)
    assert tasks.job_ids == [fetch_job_id(SID)]
    callback(twilio)  # Twilio retries once more after the job was queued
    jobs.drain_events()
    assert tasks.job_ids == [fetch_job_id(SID)]


def test_recording_events_are_not_the_calls_last_step(app: Any, twilio: Twilio) -> None:
    twilio.post("/voice/incoming")
    twilio.post("/voice/status", CallStatus="completed")
    stored_event(app, twilio)
    from hotline.models import Call

    with app.extensions["hotline.db"].session() as s:
        [call] = s.scalars(select(Call))
    assert call.last_step == "status"


# ---- the fetch job -----------------------------------------------------------------------
@responses.activate
def test_fetch_is_idempotent(app: Any, twilio: Twilio) -> None:
    stored_event(app, twilio)
    responses.add(responses.GET, MEDIA, body=wav(5), content_type="audio/x-wav")
    responses.add(responses.DELETE, DELETE, status=204)
    assert jobs.fetch_recording(SID, twilio.call_sid) == "stored, deleted at Twilio"
    assert jobs.fetch_recording(SID, twilio.call_sid) == "already stored"
    assert jobs.fetch_recording(SID) == "already stored"  # found without the call too
    assert len(responses.calls) == 2 and len(rows(app)) == 1


@responses.activate
def test_already_deleted_at_twilio_counts_as_done(app: Any, twilio: Twilio) -> None:
    stored_event(app, twilio)
    responses.add(responses.GET, MEDIA, body=wav(5), content_type="audio/x-wav")
    responses.add(
        responses.DELETE, DELETE, status=404, json={"code": 20404, "message": "not found"}
    )
    assert jobs.fetch_recording(SID, twilio.call_sid) == "stored, already gone at Twilio"
    assert rows(app)[0].twilio_deleted_at is not None


@responses.activate
def test_twilio_copy_kept_when_configured(app: Any, twilio: Twilio) -> None:
    app.config["HOTLINE_DELETE_TWILIO_RECORDINGS"] = False
    stored_event(app, twilio)
    responses.add(responses.GET, MEDIA, body=wav(5), content_type="audio/x-wav")
    assert jobs.fetch_recording(SID, twilio.call_sid) == "stored"
    assert [c.request.method for c in responses.calls] == ["GET"]


@responses.activate
def test_delete_failing_keeps_our_copy_and_retries_only_the_delete(
    app: Any, twilio: Twilio
) -> None:
    stored_event(app, twilio)
    responses.add(responses.GET, MEDIA, body=wav(5), content_type="audio/x-wav")
    responses.add(responses.DELETE, DELETE, status=503, json={"code": 0, "message": "busy"})
    with pytest.raises(TwilioBusy):
        jobs.fetch_recording(SID, twilio.call_sid)
    assert rows(app)[0].twilio_deleted_at is None
    responses.replace(responses.DELETE, DELETE, status=204)
    assert jobs.fetch_recording(SID, twilio.call_sid) == "already stored, deleted at Twilio"
    assert [c.request.method for c in responses.calls] == ["GET", "DELETE", "DELETE"]


@responses.activate
def test_download_404_marks_failed_and_stops(app: Any, twilio: Twilio) -> None:
    stored_event(app, twilio)
    responses.add(responses.GET, MEDIA, status=404, json={"code": 20404})
    assert jobs.fetch_recording(SID, twilio.call_sid) == "gone"
    [failed] = events(app, "recording_failed")
    assert failed.data["recording_sid"] == SID and failed.call_sid == twilio.call_sid
    assert rows(app) == []
    assert jobs.fetch_recording(SID, twilio.call_sid) == "gone"  # no second event
    assert len(events(app, "recording_failed")) == 1


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (429, None, TwilioBusy),
        (500, None, TwilioBusy),
        (503, None, TwilioBusy),
        (None, requests.exceptions.ReadTimeout("slow"), requests.exceptions.ReadTimeout),
        (None, requests.exceptions.ConnectTimeout("down"), requests.exceptions.ConnectTimeout),
        (None, requests.exceptions.ConnectionError("reset"), requests.exceptions.ConnectionError),
    ],
)
@responses.activate
def test_busy_or_unreachable_twilio_raises_for_a_retry(
    app: Any, twilio: Twilio, status: int | None, body: Exception | None, error: type
) -> None:
    stored_event(app, twilio)
    if body is not None:
        responses.add(responses.GET, MEDIA, body=body)
    else:
        responses.add(responses.GET, MEDIA, status=status)
    with pytest.raises(error):
        jobs.fetch_recording(SID, twilio.call_sid)
    assert rows(app) == [] and not list(storage(app).rglob("*"))
    assert [c.request.method for c in responses.calls] == ["GET"]  # never deleted


@pytest.mark.parametrize(
    "body",
    [b"", b"RIFF", wav(5)[:-4000], wav(5)[:1000], b"<html>login</html>" * 10, wav(1), wav(30)],
)
@responses.activate
def test_implausible_audio_fails_the_job(app: Any, twilio: Twilio, body: bytes) -> None:
    stored_event(app, twilio)
    responses.add(responses.GET, MEDIA, body=body, content_type="audio/x-wav")
    with pytest.raises(rec.BadAudio):
        jobs.fetch_recording(SID, twilio.call_sid)
    assert rows(app) == [] and not list(storage(app).rglob("*.wav"))


def test_a_failed_fetch_is_retried_by_rq(app: Any, twilio: Twilio) -> None:
    from rq.registry import ScheduledJobRegistry

    from hotline.queues import TASKS_QUEUE, connect, fetch_job_id

    callback(twilio)
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, MEDIA, status=500)
        drain(app)
    conn = connect(app.config["REDIS_URL"], for_web=False)
    scheduled = ScheduledJobRegistry(TASKS_QUEUE, connection=conn)
    assert scheduled.get_job_ids() == [fetch_job_id(SID)]


def test_fetch_with_no_event_does_nothing(app: Any) -> None:
    jobs.bind_app(app)
    assert jobs.fetch_recording(SID) == "unknown"
    assert jobs.fetch_recording("../../x") == "invalid"


# ---- pieces ------------------------------------------------------------------------------
def test_media_url_keeps_credentials_on_our_api_host() -> None:
    url = f"https://evil.example/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{SID}"
    assert media_url(url, SID, ACCOUNT_SID, API) == MEDIA
    assert media_url("https://evil.example/steal", SID, ACCOUNT_SID, API + "/") == MEDIA
    assert media_url(None, SID, ACCOUNT_SID, API) == MEDIA


def test_check_wav_accepts_dual_channel_and_rounding() -> None:
    info = rec.check_wav(wav(5.4, channels=2), 5)
    assert info.channels == 2 and round(info.seconds, 1) == 5.4
    assert rec.check_wav(wav(0), None).data_bytes == 0


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    path = rec.write_atomically(tmp_path, rec.relative_path(SID, rec.utcnow()), b"abc")
    assert path.read_bytes() == b"abc"
    assert [p.name for p in path.parent.iterdir()] == [f"{SID}.wav"]
    with pytest.raises(ValueError):
        rec.relative_path("../../etc/passwd", rec.utcnow())
