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

Damage is not an error but it is never silent (:mod:`pipeline.speech.damage`): a stretch the
demuxer could not read becomes silence so that later offsets stay on the container's clock, and
it and a file cut short are logged and recorded in the :class:`DecodeReport` passed in.
"""

from __future__ import annotations

import errno
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from pipeline.errors import AudioError
from pipeline.records import AudioChunk
from pipeline.speech.damage import DecodeReport, Gap, StreamClock, ogg_unfinished, shortfall

__all__ = ["AudioChunk", "DecodeOptions", "DecodeReport", "Gap", "decode_pcm", "read_chunks"]

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
    interrupted probing loses the audio it had read. A timestamp jump forward of up to
    ``max_gap_s`` is audio lost (filled with silence); a longer one is a clock reset, not filled.
    """

    sample_rate_hz: int = SAMPLE_RATE_HZ
    block_s: float = 1.0
    open_timeout_s: float = 10.0
    read_timeout_s: float = 10.0
    max_gap_s: float = 600.0


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


def decode_pcm(
    source: str | Path, options: DecodeOptions | None = None, *, report: DecodeReport | None = None
) -> Iterator[Pcm]:
    """Blocks of ``block_s`` seconds of mono int16 PCM at ``sample_rate_hz``, in order, on the
    container's clock (unreadable stretches are silence); ``report`` records the damage found."""
    opts = options or DecodeOptions()
    report = report if report is not None else DecodeReport()
    block = max(1, round(opts.block_s * opts.sample_rate_hz))
    pending = _Blocks(block)
    for samples in _decoded(source, opts, report):
        yield from pending.push(samples)
    tail = pending.rest()
    if tail is not None:
        yield tail
    if report.read_s == 0:
        raise AudioError(f"{describe(source)}: contains no audio samples")


def read_chunks(
    source: str | Path,
    stream_id: str,
    options: DecodeOptions | None = None,
    *,
    first_seq: int = 0,
    start_s: float = 0.0,
    report: DecodeReport | None = None,
) -> Iterator[AudioChunk]:
    """The source as :class:`AudioChunk` records; the last one is ``final``.

    Offsets count from ``start_s`` (and ``seq`` from ``first_seq``), so an ingester that reconnects
    to a live source can carry on where the dropped connection stopped. Each chunk carries the
    seconds of unreadable audio before it (``report``, if given, gets the damage found).
    """
    opts = options or DecodeOptions()
    report = report if report is not None else DecodeReport(start_s=start_s)
    seq, offset = first_seq, round(start_s * opts.sample_rate_hz)  # in samples: no float drift
    previous: Pcm | None = None
    for pcm in decode_pcm(source, opts, report=report):
        if previous is not None:
            yield _chunk(stream_id, seq, offset, previous, opts, final=False, report=report)
            seq, offset = seq + 1, offset + len(previous)
        previous = pcm
    if previous is not None:
        yield _chunk(stream_id, seq, offset, previous, opts, final=True, report=report)


def _chunk(
    stream_id: str, seq: int, offset: int, pcm: Pcm, opts: DecodeOptions, *, final: bool, report: DecodeReport
) -> AudioChunk:
    offset_s = offset / opts.sample_rate_hz
    return AudioChunk(
        stream_id=stream_id,
        seq=seq,
        offset_s=offset_s,
        sample_rate_hz=opts.sample_rate_hz,
        pcm=pcm.astype("<i2", copy=False).tobytes(),
        final=final,
        unreadable_before_s=report.unreadable_before(offset_s),
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


def _decoded(source: str | Path, opts: DecodeOptions, report: DecodeReport) -> Iterator[Pcm]:
    """Resampled samples frame by frame on the container's clock; FFmpeg errors become AudioError
    naming the source; damage goes to ``report``."""
    name = describe(source)
    with _open(source, opts) as container:
        if not container.streams.audio:
            raise AudioError(f"{name}: has no audio stream")
        stream = container.streams.audio[0]
        if is_url(source):  # a recording served over HTTP declares its length, a live source does not
            report.declared_s = _declared(container)
        out = _Output(opts.sample_rate_hz, report)
        clock = StreamClock(opts.max_gap_s, name)
        packets = _Packets(opts.max_gap_s)
        try:
            for frame in _frames(container, stream, name, packets):
                pts_s = _seconds(frame.pts, frame.time_base)
                if clock.missing_s(pts_s, out.seconds) > 0 and pts_s is not None:
                    yield from out.fill_to(clock.at_s(pts_s), name)
                yield from out.resample(frame)
        except av.FFmpegError as exc:
            if not (out.seconds and is_url(source) and _closed(exc)):
                raise AudioError(f"{name}: {_reason(exc)}") from None
            log.warning("%s: the server closed the stream (%s); treating it as its end", name, _reason(exc))
        yield from out.flush()
        if not is_url(source):
            _check_whole(Path(source), container, packets, report, name)


class _Output:
    """The resampler and the count of samples handed on (the stream clock as heard)."""

    def __init__(self, rate_hz: int, report: DecodeReport) -> None:
        self.rate_hz = rate_hz
        self.report = report
        self.samples = 0
        self._resampler = self._new()

    @property
    def seconds(self) -> float:
        return self.samples / self.rate_hz

    def resample(self, frame: av.AudioFrame) -> Iterator[Pcm]:
        yield from self._counted(self._resampler.resample(frame))

    def flush(self) -> Iterator[Pcm]:
        yield from self._counted(self._resampler.resample(None))

    def fill_to(self, at_s: float, name: str) -> Iterator[Pcm]:
        """Silence from the audio's end up to ``at_s`` (the resampler's tail first); one Gap."""
        yield from self.flush()
        self._resampler = self._new()
        missing = round(at_s * self.rate_hz) - self.samples
        if missing <= 0:
            return
        gap = Gap(round(self.report.start_s + self.seconds, 3), round(missing / self.rate_hz, 3))
        self.report.gaps.append(gap)
        log.warning(
            "%s: %.1f s of audio unreadable at %.1f s; silence in its place, later times kept on "
            "the container's clock", name, gap.duration_s, gap.start_s,
        )  # fmt: skip
        for start in range(0, missing, self.rate_hz):  # a second at a time: memory stays flat
            yield from self._counted_pcm([np.zeros(min(self.rate_hz, missing - start), dtype=np.int16)])

    def _counted(self, frames: list[av.AudioFrame]) -> Iterator[Pcm]:
        yield from self._counted_pcm(_samples(frames))

    def _counted_pcm(self, blocks: Iterable[Pcm]) -> Iterator[Pcm]:
        for pcm in blocks:
            self.samples += len(pcm)
            self.report.read_s = self.seconds
            yield pcm

    def _new(self) -> av.AudioResampler:
        return av.AudioResampler(format="s16", layout="mono", rate=self.rate_hz)


@dataclass
class _Packets:
    """How long a run of undecodable packets may last, and whether the last packet read was whole
    and decodable (a file cut short ends inside one)."""

    max_gap_s: float
    last_broken: bool = False


def _seconds(pts: int | None, time_base: Fraction | None) -> float | None:
    return None if pts is None or time_base is None else float(pts * time_base)


def _check_whole(
    path: Path, container: av.container.InputContainer, packets: _Packets, report: DecodeReport, name: str
) -> None:
    """Whether a file was read to its end: its last packet whole, as long as it declares (its sound
    does, where it says: a video may run longer), an Ogg ending with its end-of-stream page."""
    reason = shortfall(report, _declared(container))
    if not reason and packets.last_broken:
        reason = "its last packet is incomplete"
    if not reason and container.format.name == "ogg":
        reason = ogg_unfinished(path)
    if reason:
        report.truncated = reason
        log.warning("%s: cut short (%s); %.1f s could be read", name, reason, report.read_s)


def _declared(container: av.container.InputContainer) -> float | None:
    """The duration the sound declares, else the container (a video may run longer), or None."""
    stream = container.streams.audio[0]
    declared = _seconds(stream.duration, stream.time_base)
    if declared is None and container.duration is not None:
        declared = float(container.duration) / av.time_base
    return declared or None


def _closed(exc: Exception) -> bool:
    """A live server ending the connection (how RTMP publishers stop), not a stall or bad data."""
    return isinstance(exc, OSError) and exc.errno in (errno.EIO, errno.ECONNRESET, errno.EPIPE)


def _frames(
    container: av.container.InputContainer, stream: av.AudioStream, name: str, packets: _Packets
) -> Iterator[av.AudioFrame]:
    """Decoded frames; undecodable packets skipped (the clock bridges them where the container has
    timestamps) until a run of them is too long to be damage: then the source is broken."""
    bad, bad_from = 0, None
    for packet in container.demux(stream):
        if packet.size:  # the empty packet at the end only flushes the decoder
            packets.last_broken = packet.is_corrupt
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:  # decoding reads no network: any failure is bad data
            packets.last_broken = True
            at = _seconds(packet.pts, packet.time_base)
            bad, bad_from = bad + 1, bad_from if bad else at
            if bad >= _MAX_BAD_PACKETS and (
                at is None or bad_from is None or at - bad_from > packets.max_gap_s
            ):
                raise AudioError(f"{name}: corrupt audio ({bad} undecodable packets in a row)") from exc
            if bad == 1:
                log.warning("%s: skipping undecodable packets (%s)", name, exc)
            continue
        if bad > 1:
            log.warning("%s: skipped %d undecodable packets", name, bad)
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
