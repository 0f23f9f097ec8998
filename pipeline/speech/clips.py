"""Audio clips cut from a stream's archived audio (``streams.audio_path``), as WAV.

The clip is decoded with PyAV from the archive (any format FFmpeg reads), resampled to 16-bit
mono and written as a plain WAV file, which every browser and media player opens. A stream
ingested more than once has its archive in parts (:mod:`pipeline.speech.archive`): the clip is
cut from the part that holds it.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import av

from pipeline.errors import AudioError
from pipeline.speech.archive import part_at

CLIP_RATE_HZ = 16_000


def cut_clip(path: str | Path, start_s: float, end_s: float, *, rate_hz: int = CLIP_RATE_HZ) -> bytes:
    """The audio between ``start_s`` and ``end_s`` (seconds from the stream's start; ``path`` is
    its archive, or any audio file) as WAV bytes."""
    start_s = max(0.0, start_s)
    if end_s <= start_s:
        raise AudioError(f"{path}: empty clip {start_s:.2f}-{end_s:.2f} s")
    part, part_start_s = part_at(Path(path), (start_s + end_s) / 2)
    start_s, end_s = max(0.0, start_s - part_start_s), end_s - part_start_s
    pcm = _decode(part, start_s, end_s, rate_hz)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate_hz)
        wav.writeframes(pcm)
    return out.getvalue()


def _decode(path: Path, start_s: float, end_s: float, rate_hz: int) -> bytes:
    if not path.is_file():
        raise AudioError(f"archived audio {path} is not there")
    chunks: list[bytes] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            origin = _seek(container, stream, start_s)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate_hz)
            wanted = int((end_s - origin) * rate_hz) * 2
            for frame in container.decode(stream):
                if origin < 0 and frame.pts is not None and frame.time_base is not None:
                    origin = float(frame.pts * frame.time_base)
                    wanted = int((end_s - origin) * rate_hz) * 2
                chunks.extend(bytes(out.planes[0])[: out.samples * 2] for out in resampler.resample(frame))
                if sum(map(len, chunks)) >= wanted:
                    break
    except (av.error.FFmpegError, IndexError) as exc:
        raise AudioError(f"cannot decode archived audio {path}: {exc}") from None
    skip = int((start_s - max(origin, 0.0)) * rate_hz) * 2
    return b"".join(chunks)[skip : skip + int((end_s - start_s) * rate_hz) * 2]


def _seek(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, start_s: float
) -> float:
    """Seek to a point at or before ``start_s``; -1 means "read the position off the first frame"."""
    if start_s < 2.0 or stream.time_base is None:
        return 0.0
    container.seek(int((start_s - 1.0) / stream.time_base), stream=stream, backward=True)
    return -1.0


def duration_s(wav_bytes: bytes) -> float:
    """Length of a WAV clip in seconds."""
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        return float(wav.getnframes() / wav.getframerate())
