from __future__ import annotations

import math
import wave
from array import array
from pathlib import Path

import pytest

from hotline.audio import PEAK_DBFS, wav_duration, write_hold_music

SHIPPED = Path(__file__).resolve().parents[1] / "recordings" / "hold" / "hold-music.wav"


def _samples(path: Path) -> tuple[wave._wave_params, array]:
    with wave.open(str(path), "rb") as wav:
        params = wav.getparams()
        frames = wav.readframes(wav.getnframes())
    samples = array("h")
    samples.frombytes(frames)
    return params, samples


def test_shipped_file_format() -> None:
    params, samples = _samples(SHIPPED)
    assert params.nchannels == 1
    assert params.sampwidth == 2
    assert params.framerate == 8000
    assert params.comptype == "NONE"
    assert wav_duration(SHIPPED) == pytest.approx(40.0)
    assert len(samples) == 40 * 8000


def test_shipped_file_level_and_no_clipping() -> None:
    _, samples = _samples(SHIPPED)
    peak = max(abs(s) for s in samples)
    assert peak < 32767
    assert 32767 not in samples and -32768 not in samples
    assert 20 * math.log10(peak / 32768) == pytest.approx(PEAK_DBFS, abs=0.5)
    # Fades at both ends, so looping on hold never clicks.
    assert abs(samples[0]) < 100
    assert abs(samples[-1]) < 100
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    assert rms > 1000  # audible, not silence


def test_shipped_file_is_what_the_generator_makes(tmp_path: Path) -> None:
    # The CC0 claim rests on the file being ours: regenerating must give the same bytes.
    regenerated = write_hold_music(tmp_path / "hold.wav")
    assert regenerated.read_bytes() == SHIPPED.read_bytes()


def test_deterministic(tmp_path: Path) -> None:
    first = write_hold_music(tmp_path / "a.wav", seconds=3.0, rate=8000)
    second = write_hold_music(tmp_path / "b.wav", seconds=3.0, rate=8000)
    assert first.read_bytes() == second.read_bytes()


def test_other_rate_and_length(tmp_path: Path) -> None:
    path = write_hold_music(tmp_path / "sub" / "dir" / "short.wav", seconds=2.5, rate=16000)
    assert path.exists()
    assert wav_duration(path) == pytest.approx(2.5)
    params, samples = _samples(path)
    assert params.framerate == 16000
    assert max(abs(s) for s in samples) < 32767


@pytest.mark.parametrize(
    ("seconds", "rate"), [(0.0, 8000), (-1.0, 8000), (math.nan, 8000), (1.0, 100)]
)
def test_rejects_bad_arguments(tmp_path: Path, seconds: float, rate: int) -> None:
    with pytest.raises(ValueError):
        write_hold_music(tmp_path / "x.wav", seconds=seconds, rate=rate)
