"""Hold music we make ourselves, so it can be shipped and redistributed freely (CC0 1.0).

A caller waiting for a counselor may be frightened or exhausted: the music is slow, soft and
predictable, with no sudden sounds. It is synthesised from sine tones in pure Python (no numpy,
no samples from anywhere else) and written as 16-bit mono PCM WAV, which Twilio plays as is.
Output is deterministic so the committed file can be checked against its generator.
"""

from __future__ import annotations

import math
import sys
import wave
from array import array
from pathlib import Path

__all__ = ["wav_duration", "write_hold_music"]

# Peak level of the finished file. Headroom below full scale, because telephone codecs
# (G.711 mu-law) and carriers' level processing distort loud, dense signals.
PEAK_DBFS = -6.0
_FULL_SCALE = 32767

# Slow on purpose: one chord every five seconds, a little under the pace of calm breathing.
_CHORD_SECONDS = 5.0
_ATTACK_SECONDS = 1.6
_RELEASE_SECONDS = 2.2
# Fades at both ends so Twilio's looping of the file dips gently instead of clicking.
_FADE_IN_SECONDS = 1.5
_FADE_OUT_SECONDS = 2.5

# C major, voiced between ~200 Hz and ~900 Hz: below that the telephone band (300-3400 Hz)
# swallows the notes, above it sine tones start to sound shrill through a handset.
# MIDI note numbers. The last chord is a Gsus4, which leads back into the first when looped.
_PROGRESSION: tuple[tuple[int, ...], ...] = (
    (60, 64, 67, 72),  # C
    (57, 60, 64, 69),  # Am
    (57, 60, 65, 69),  # F
    (59, 62, 67, 71),  # G
    (60, 64, 67, 72),  # C
    (59, 64, 67, 71),  # Em
    (57, 60, 65, 69),  # F
    (55, 62, 67, 72),  # Gsus4
)
# One soft chime per chord, an octave above one of its notes, for a hint of melody.
_CHIME_NOTES = (76, 72, 77, 74, 79, 76, 72, 74)
_CHIME_DELAY_SECONDS = 2.0
_CHIME_LEVEL = 0.22
_CHIME_DECAY_SECONDS = 1.4
_CHIME_ATTACK_SECONDS = 0.08

# Mostly fundamental with a little second and third harmonic: pure sines vanish into line noise
# on cheap handsets, a touch of overtone makes the pitch audible without sounding harsh.
_HARMONICS = ((1, 1.0), (2, 0.18), (3, 0.05))


def _midi_to_hz(note: int) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def _raised_cosine(x: float) -> float:
    """0 -> 0, 1 -> 1 with zero slope at both ends: no audible corner in the envelope."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    return 0.5 - 0.5 * math.cos(math.pi * x)


def _add_tone(
    buffer: array,
    rate: int,
    start: int,
    stop: int,
    hz: float,
    envelope: list[float],
) -> None:
    """Mix a harmonic tone into ``buffer[start:stop]`` under a precomputed envelope.

    Phase is taken from the absolute sample index so a tone is the same wherever it lands.
    """
    partials = [
        (2.0 * math.pi * hz * multiple / rate, level)
        for multiple, level in _HARMONICS
        if hz * multiple < rate / 2.0  # above Nyquist it would alias into a wrong, harsh note
    ]
    for offset, index in enumerate(range(start, stop)):
        gain = envelope[offset]
        if gain == 0.0:
            continue
        value = 0.0
        for omega, level in partials:
            value += level * math.sin(omega * index)
        buffer[index] += gain * value


def _render(seconds: float, rate: int) -> array:
    total = round(seconds * rate)
    mix = array("d", bytes(8 * total))
    chord_len = round(_CHORD_SECONDS * rate)
    attack = max(1, round(_ATTACK_SECONDS * rate))
    release = max(1, round(_RELEASE_SECONDS * rate))

    chord_index = 0
    start = 0
    while start < total:
        notes = _PROGRESSION[chord_index % len(_PROGRESSION)]
        # Each chord rings on while the next one swells in, so the changes are crossfades.
        stop = min(total, start + chord_len + release // 2)
        length = stop - start
        release_start = chord_len - release // 2
        envelope = [
            _raised_cosine(i / attack)
            * (1.0 - _raised_cosine((i - release_start) / release))
            # A slight sag while sustained keeps a held chord from sounding like an organ.
            * (1.0 - 0.25 * min(1.0, i / chord_len))
            for i in range(length)
        ]
        voice_level = 1.0 / len(notes)
        for note in notes:
            scaled = [voice_level * g for g in envelope]
            _add_tone(mix, rate, start, stop, _midi_to_hz(note), scaled)

        chime_start = start + round(_CHIME_DELAY_SECONDS * rate)
        if chime_start < total:
            chime_stop = min(total, chime_start + round(5 * _CHIME_DECAY_SECONDS * rate))
            chime_attack = max(1, round(_CHIME_ATTACK_SECONDS * rate))
            decay = _CHIME_DECAY_SECONDS * rate
            chime_env = [
                _CHIME_LEVEL * _raised_cosine(i / chime_attack) * math.exp(-i / decay)
                for i in range(chime_stop - chime_start)
            ]
            chime_note = _CHIME_NOTES[chord_index % len(_CHIME_NOTES)]
            _add_tone(mix, rate, chime_start, chime_stop, _midi_to_hz(chime_note), chime_env)

        chord_index += 1
        start += chord_len

    fade_in = max(1, round(_FADE_IN_SECONDS * rate))
    fade_out = max(1, round(_FADE_OUT_SECONDS * rate))
    for i in range(min(fade_in, total)):
        mix[i] *= _raised_cosine(i / fade_in)
    for i in range(min(fade_out, total)):
        mix[total - 1 - i] *= _raised_cosine(i / fade_out)
    return mix


def _to_pcm16(mix: array) -> array:
    """Scale so the loudest sample sits at PEAK_DBFS, and quantise to 16 bits."""
    peak = max((abs(x) for x in mix), default=0.0)
    target = _FULL_SCALE * 10.0 ** (PEAK_DBFS / 20.0)
    scale = target / peak if peak > 0.0 else 0.0
    pcm = array("h", (round(x * scale) for x in mix))
    if sys.byteorder == "big":
        # WAV is little-endian; keep the bytes identical on every machine.
        pcm.byteswap()
    return pcm


def write_hold_music(path: Path, seconds: float = 40.0, rate: int = 8000) -> Path:
    """Generate the hold music as 16-bit mono PCM WAV at ``path`` and return the path.

    8000 Hz is telephone quality: anything more is thrown away by the phone network, and the
    file stays small. The same arguments always produce the same bytes.
    """
    if not seconds > 0 or not math.isfinite(seconds):
        raise ValueError("seconds must be a positive number")
    if rate < 4000:
        raise ValueError("rate must be at least 4000 Hz to carry the music")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = _to_pcm16(_render(seconds, rate))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def wav_duration(path: Path) -> float:
    """Length of a WAV file in seconds."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()
