"""Decode any audio source FFmpeg reads into 16 kHz mono 16-bit PCM, as a stream of pieces.

A source is a file path (wav, mp3, m4a/aac, flv, ogg/opus, flac, a video with sound...) or a live URL
(``http(s)://`` progressive or HLS ``.m3u8``, HTTP-FLV, ``rtmp://``...). Decoding is streaming: one
packet at a time through PyAV, so memory stays constant however long the stream runs, and each
piece carries its absolute offset (seconds of audio since the source was opened).

Every failure is an :class:`AudioError` that names the source: a missing, empty or corrupt file, a
container without sound, an unreachable URL, or a network source that stops sending data (the
open and read timeouts turn a stalled server into an error instead of a hang). A few undecodable
packets inside an otherwise good stream are skipped, as players do, and a live server that closes
the connection after sending audio (how an RTMP publisher stops) ends the stream with a warning.
"""

from __future__ import annotations

import errno
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from pipeline.errors import AudioError
from pipeline.records import AudioChunk

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16_000
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_MAX_BAD_PACKETS = 50  # consecutive undecodable packets before the source is declared broken

Pcm = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    """How a source is opened and cut.

    ``block_s`` is the length of each piece handed on (the last one may be shorter); the timeouts
    bound how long a network source may take to answer and then to deliver each next packet. The
    open timeout must exceed FFmpeg's probing of a live source (up to 5 s of it, in real time):
    interrupted probing loses the audio it had read.
    """

    sample_rate_hz: int = SAMPLE_RATE_HZ
    block_s: float = 1.0
    open_timeout_s: float = 10.0
    read_timeout_s: float = 10.0


def is_url(source: str | Path) -> bool:
    """Whether the source is a network URL rather than a local file."""
    return bool(_URL.match(str(source)))


def describe(source: str | Path) -> str:
    """The source as named in messages (a URL without its query string, which may hold tokens)."""
    text = str(source)
    return text.split("?", 1)[0] if is_url(text) else text


def duration_s(source: str | Path, options: DecodeOptions | None = None) -> float | None:
    """The duration a file declares, or None (live URLs, containers that do not say)."""
    if is_url(source):
        return None
    with _open(source, options or DecodeOptions()) as container:
        if container.duration is None:
            return None
        return float(container.duration) / av.time_base


def decode_pcm(source: str | Path, options: DecodeOptions | None = None) -> Iterator[Pcm]:
    """Blocks of ``block_s`` seconds of mono int16 PCM at ``sample_rate_hz``, in order."""
    opts = options or DecodeOptions()
    block = max(1, round(opts.block_s * opts.sample_rate_hz))
    pending = _Blocks(block)
    total = 0
    for samples in _decoded(source, opts):
        total += len(samples)
        yield from pending.push(samples)
    tail = pending.rest()
    if tail is not None:
        yield tail
    if total == 0:
        raise AudioError(f"{describe(source)}: contains no audio samples")


def read_chunks(
    source: str | Path,
    stream_id: str,
    options: DecodeOptions | None = None,
    *,
    first_seq: int = 0,
    start_s: float = 0.0,
) -> Iterator[AudioChunk]:
    """The source as :class:`AudioChunk` records; the last one is ``final``.

    Offsets count from ``start_s`` (and ``seq`` from ``first_seq``), so an ingester that reconnects
    to a live source can carry on where the dropped connection stopped.
    """
    opts = options or DecodeOptions()
    seq, offset = first_seq, round(start_s * opts.sample_rate_hz)  # in samples: no float drift
    previous: Pcm | None = None
    for pcm in decode_pcm(source, opts):
        if previous is not None:
            yield _chunk(stream_id, seq, offset, previous, opts, final=False)
            seq, offset = seq + 1, offset + len(previous)
        previous = pcm
    if previous is not None:
        yield _chunk(stream_id, seq, offset, previous, opts, final=True)


def _chunk(
    stream_id: str, seq: int, offset: int, pcm: Pcm, opts: DecodeOptions, *, final: bool
) -> AudioChunk:
    return AudioChunk(
        stream_id=stream_id,
        seq=seq,
        offset_s=offset / opts.sample_rate_hz,
        sample_rate_hz=opts.sample_rate_hz,
        pcm=pcm.astype("<i2", copy=False).tobytes(),
        final=final,
    )


class _Blocks:
    """Regroups decoded frames of any size into fixed-size blocks, holding at most one block."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.parts: list[Pcm] = []
        self.count = 0

    def push(self, samples: Pcm) -> Iterator[Pcm]:
        self.parts.append(samples)
        self.count += len(samples)
        while self.count >= self.size:
            joined = np.concatenate(self.parts)
            yield joined[: self.size]
            rest = joined[self.size :]
            self.parts, self.count = [rest], len(rest)

    def rest(self) -> Pcm | None:
        return np.concatenate(self.parts) if self.count else None


def _decoded(source: str | Path, opts: DecodeOptions) -> Iterator[Pcm]:
    """Resampled samples frame by frame; FFmpeg errors become AudioError naming the source."""
    name = describe(source)
    with _open(source, opts) as container:
        if not container.streams.audio:
            raise AudioError(f"{name}: has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=opts.sample_rate_hz)
        heard = False
        try:
            for frame in _frames(container, stream, name):
                heard = True
                yield from _samples(resampler.resample(frame))
        except av.FFmpegError as exc:
            if not (heard and is_url(source) and _closed(exc)):
                raise AudioError(f"{name}: {_reason(exc)}") from None
            log.warning("%s: the server closed the stream (%s); treating it as its end", name, _reason(exc))
        yield from _samples(resampler.resample(None))


def _closed(exc: Exception) -> bool:
    """A live server ending the connection (how RTMP publishers stop), not a stall or bad data."""
    return isinstance(exc, OSError) and exc.errno in (errno.EIO, errno.ECONNRESET, errno.EPIPE)


def _frames(
    container: av.container.InputContainer, stream: av.AudioStream, name: str
) -> Iterator[av.AudioFrame]:
    bad = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.InvalidDataError as exc:
            bad += 1
            if bad >= _MAX_BAD_PACKETS:
                raise AudioError(f"{name}: corrupt audio ({bad} undecodable packets in a row)") from exc
            log.warning("%s: skipped an undecodable packet (%s)", name, exc)
            continue
        bad = 0
        yield from frames


def _samples(frames: list[av.AudioFrame]) -> Iterator[Pcm]:
    for frame in frames:
        data = frame.to_ndarray()
        yield np.ascontiguousarray(data.reshape(-1), dtype=np.int16)


def _open(source: str | Path, opts: DecodeOptions) -> av.container.InputContainer:
    name = describe(source)
    if not is_url(source):
        path = Path(source)
        if not path.is_file():
            raise AudioError(f"{name}: no such file")
        if path.stat().st_size == 0:
            raise AudioError(f"{name}: file is empty")
    try:
        return av.open(
            str(source),
            mode="r",
            timeout=(opts.open_timeout_s, opts.read_timeout_s),
            metadata_errors="replace",  # tags in GBK and other non-UTF-8 text are common
        )
    except av.FFmpegError as exc:
        raise AudioError(f"{name}: cannot open ({_reason(exc)})") from None
    except OSError as exc:  # PyAV maps some failures to builtin OSError subclasses
        raise AudioError(f"{name}: cannot open ({exc.strerror or exc})") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, av.ExitError):
        return "timed out waiting for data"
    if isinstance(exc, av.InvalidDataError):
        return "not a readable audio stream (corrupt or unknown format)"
    strerror = getattr(exc, "strerror", None)
    return str(strerror or exc)
