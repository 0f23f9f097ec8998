"""Real-room conditions made from clean speech, to measure how ClaimWatch hears a live room.

Live rooms have a music bed, co-hosts and a crowd behind the anchor, speech faster than a calm
reader, and audio through AAC or MP3 at 32-64 kbit/s. :func:`render` makes such a recording from a
clean one: tempo (ffmpeg ``atempo``, pitch kept), a synthetic music bed at a signal-to-noise ratio,
babble (the speech itself reversed, three voices at different offsets) at a level below the speech,
then a lossy codec. It returns the time scale for the scenario's timeline (1 / tempo).

Levels are set against the *speech level*: the RMS of the frames that carry speech (those above
a fortieth of the loudest frame's RMS), so pauses do not make the speech look quieter than it is.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipeline.speech.audio import decode_pcm

SAMPLE_RATE_HZ = 16_000
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Room:
    """How a room degrades speech; ``None`` leaves a layer out."""

    name: str
    tempo: float = 1.0
    music_snr_db: float | None = None  # speech level over the music bed
    babble_db: float | None = None  # babble level relative to the speech (negative)
    codec: str | None = None  # "aac" or "mp3"
    bitrate_kbps: int = 48

    def describe(self) -> str:
        parts = [f"tempo ×{self.tempo:g}"] if self.tempo != 1.0 else []
        if self.music_snr_db is not None:
            parts.append(f"music bed at {self.music_snr_db:g} dB SNR")
        if self.babble_db is not None:
            parts.append(f"babble at {self.babble_db:g} dB")
        if self.codec:
            parts.append(f"{self.codec.upper()} {self.bitrate_kbps} kbit/s")
        return ", ".join(parts) or "as recorded"


ROOMS = {
    room.name: room
    for room in (
        Room("clean"),
        Room("fast", tempo=1.2),
        Room("music", music_snr_db=9.0),
        Room("babble", babble_db=-18.0),
        Room("aac", codec="aac"),
        Room("mp3", codec="mp3"),
        Room("live", tempo=1.15, music_snr_db=9.0, babble_db=-18.0, codec="aac"),
    )
}
_CODECS = {"aac": ("aac", ".m4a"), "mp3": ("libmp3lame", ".mp3")}


def render(source: Path, target_dir: Path, room: Room, *, seed: int = 0) -> tuple[Path, float]:
    """``source`` as heard in ``room``, written into ``target_dir``; with the timeline's time scale."""
    if room.codec is not None and room.codec not in _CODECS:
        raise ValueError(f"unknown codec {room.codec!r} (known: {', '.join(_CODECS)})")
    if room.tempo <= 0:
        raise ValueError(f"tempo must be positive, not {room.tempo}")
    target_dir.mkdir(parents=True, exist_ok=True)
    speech = _read(source)
    if room.tempo != 1.0:
        speech = _tempo(speech, room.tempo)
    mixed = speech.copy()
    level = speech_level(speech)
    if room.music_snr_db is not None:
        mixed += _scaled(music_bed(len(speech), seed), level / 10 ** (room.music_snr_db / 20))
    if room.babble_db is not None:
        mixed += _scaled(babble(speech), level * 10 ** (room.babble_db / 20))
    wav = target_dir / f"{source.stem}.{room.name}.wav"
    _write(wav, mixed)
    if room.codec is None:
        return wav, 1.0 / room.tempo
    encoder, suffix = _CODECS[room.codec]
    encoded = wav.with_suffix(suffix)
    _ffmpeg("-i", str(wav), "-c:a", encoder, "-b:a", f"{room.bitrate_kbps}k", str(encoded))
    wav.unlink()
    return encoded, 1.0 / room.tempo


def run_on(
    source: Path, target_dir: Path, spans: list[tuple[float, float]], gap_s: float = 0.15
) -> tuple[Path, list[tuple[float, float]]]:
    """``source`` with the pauses between its utterances (``spans``, seconds) shortened to ``gap_s``:
    an anchor who talks without stopping, so that no pause ends a speech piece. Returns the new
    recording and the utterances' new spans."""
    if gap_s < 0:
        raise ValueError(f"gap must not be negative, not {gap_s}")
    speech = _read(source)
    parts: list[Floats] = []
    moved: list[tuple[float, float]] = []
    at = 0
    gap = np.zeros(round(gap_s * SAMPLE_RATE_HZ))
    for start, end in spans:
        piece = speech[round(start * SAMPLE_RATE_HZ) : round(end * SAMPLE_RATE_HZ)]
        if parts:
            parts.append(gap)
            at += len(gap)
        moved.append((at / SAMPLE_RATE_HZ, (at + len(piece)) / SAMPLE_RATE_HZ))
        parts.append(piece)
        at += len(piece)
    target_dir.mkdir(parents=True, exist_ok=True)
    wav = target_dir / f"{source.stem}.run-on.wav"
    _write(wav, np.concatenate(parts) if parts else np.zeros(0))
    return wav, moved


def speech_level(samples: Floats, frame: int = 400) -> float:
    """RMS of the frames that carry speech (25 ms frames above 1/40 of the loudest one's RMS)."""
    usable = len(samples) // frame * frame
    if usable == 0:
        return float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
    rms = np.sqrt(np.mean(samples[:usable].reshape(-1, frame) ** 2, axis=1))
    voiced = rms[rms > rms.max() / 40]
    return float(np.sqrt(np.mean(voiced**2))) if len(voiced) else 0.0


def music_bed(length: int, seed: int = 0) -> Floats:
    """Synthetic background music: a chord every 2 s (root, third, fifth with overtones), a bass
    note, and a hi-hat of filtered noise at 120 beats a minute."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / SAMPLE_RATE_HZ
    roots = [220.0, 196.0, 174.6, 196.0]  # A, G, F, G
    chord = np.floor(t / 2.0).astype(int) % len(roots)
    root = np.asarray(roots)[chord]
    out = np.zeros(length)
    for ratio, gain in ((1.0, 0.5), (1.26, 0.35), (1.5, 0.35), (2.0, 0.15), (0.5, 0.4)):
        out += gain * np.sin(2 * np.pi * root * ratio * t)
    beat = (t * 2.0) % 1.0  # two beats a second
    hat = rng.standard_normal(length) * np.exp(-beat * 40)
    out += 0.3 * (hat - np.convolve(hat, np.ones(8) / 8, mode="same"))  # high-passed noise bursts
    return out


def babble(speech: Floats) -> Floats:
    """Three voices of the speech reversed (unintelligible, speech-like), at different offsets."""
    reversed_speech = speech[::-1]
    n = len(speech)
    return sum((np.roll(reversed_speech, n * k // 3 + 7919 * k) for k in range(3)), np.zeros(n))


def _scaled(noise: Floats, level: float) -> Floats:
    current = speech_level(noise)
    return noise * (level / current) if current > 0 else noise


def _read(source: Path) -> Floats:
    blocks = [b.astype(np.float64) / 32768.0 for b in decode_pcm(source)]
    return np.concatenate(blocks) if blocks else np.zeros(0)


def _write(path: Path, samples: Floats) -> None:
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    if peak > 0.99:  # normalise rather than clip
        samples = samples * (0.99 / peak)
    pcm = np.round(samples * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE_HZ)
        out.writeframes(pcm.tobytes())


def _tempo(samples: Floats, tempo: float) -> Floats:
    with tempfile.TemporaryDirectory(prefix="claimwatch-tempo-") as tmp:
        plain, faster = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        _write(plain, samples)
        _ffmpeg("-i", str(plain), "-filter:a", f"atempo={tempo}", str(faster))
        return _read(faster)


def _ffmpeg(*args: str) -> None:
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({' '.join(cmd)}): {done.stderr.strip()[-500:]}")
