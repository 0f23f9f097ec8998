"""One stream's audio cut into speech pieces, where the audio enters the system.

Ingest (and ``claimwatch analyze``) run the VAD and the piece cutter of :mod:`pipeline.speech.vad` on
the decoded audio and publish each piece of speech as one :class:`AudioChunk`. Cutting where the
audio enters, not in the worker, makes every piece a pure function of the audio: a worker that
dies and replays pieces decodes the very same pieces (same segment ids, nothing doubled or lost),
any worker can decode any piece, and silence never crosses the broker.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.errors import AudioError
from pipeline.records import AudioChunk
from pipeline.speech.damage import DecodeReport
from pipeline.speech.vad import SAMPLE_RATE_HZ, CutOptions, PieceCutter, StreamingVad

Samples = npt.NDArray[np.int16]

# Live defaults: a piece per utterance (a pause of half a second ends it), so its text is out a
# second or two after the words; run-on speech is cut after 12 s. The worker packs pieces of
# several streams into one decode, so short pieces do not cost throughput.
LIVE_CUT = CutOptions(min_silence_s=0.5, latency_budget_s=12.0, merge_s=0.0)


@dataclass(frozen=True, slots=True)
class Piece:
    """Samples ``start``..``end`` (absolute, 16 kHz) of one stream and their audio."""

    start: int
    end: int
    audio: Samples


class SpeechPieces:
    """Feed a stream's samples in any block sizes; get its speech pieces as they complete."""

    def __init__(self, options: CutOptions = LIVE_CUT, start_sample: int = 0) -> None:
        self._vad = StreamingVad()
        self._cutter = PieceCutter(options)
        self._base = start_sample
        self._audio = np.zeros(0, dtype=np.int16)
        self._kept_from = 0  # relative to base
        self._fed = 0

    def push(self, samples: Samples) -> list[Piece]:
        self._audio = np.concatenate([self._audio, samples])
        self._fed += len(samples)
        probs = self._vad.push(samples.astype(np.float32) / 32768.0)
        pieces = [self._piece(p.start, p.end) for p in self._cutter.push(probs)]
        keep = self._cutter.retain_from()
        if keep > self._kept_from:
            self._audio = self._audio[keep - self._kept_from :]
            self._kept_from = keep
        return pieces

    @property
    def end_sample(self) -> int:
        """The absolute sample just after the audio received so far."""
        return self._base + self._fed

    def finish(self) -> list[Piece]:
        """End of the stream: speech still open becomes the last piece."""
        return [self._piece(p.start, p.end) for p in self._cutter.flush(self._fed)]

    def _piece(self, start: int, end: int) -> Piece:
        lo, hi = max(0, start - self._kept_from), max(0, end - self._kept_from)
        return Piece(self._base + start, self._base + end, self._audio[lo:hi].copy())


def check_piece(chunk: AudioChunk, max_s: float = math.inf) -> AudioChunk:
    """The chunk, if the transcriber can take it: 16 kHz, whole 16-bit samples, and no longer than
    ``max_s`` (the ``audio_chunk_max_s`` setting for pieces: Whisper reads 30 s at a time, so a
    longer piece would lose its end); an AudioError naming what is wrong otherwise."""
    where = f"chunk {chunk.seq} of {chunk.stream_id}"
    if chunk.sample_rate_hz != SAMPLE_RATE_HZ:
        raise AudioError(
            f"{where}: {chunk.sample_rate_hz} Hz, not 16 kHz (decode with pipeline.speech.audio)"
        )
    if len(chunk.pcm) % 2:
        raise AudioError(f"{where}: odd number of PCM bytes")
    if chunk.duration_s > max_s:
        raise AudioError(
            f"{where}: {chunk.duration_s:.1f} s of audio, "
            f"more than the {max_s:g} s allowed (audio_chunk_max_s)"
        )
    return chunk


def speech_chunks(
    blocks: Iterable[Samples],
    stream_id: str,
    options: CutOptions = LIVE_CUT,
    *,
    start_s: float = 0.0,
    first_seq: int = 0,
    report: DecodeReport | None = None,
) -> Iterator[AudioChunk]:
    """A stream's audio blocks as speech pieces, one :class:`AudioChunk` each; then a final,
    empty chunk that marks the end of the stream. With the ``report`` the blocks are decoded
    into, each piece carries the seconds of unreadable audio before it (a piece is cut after its
    audio was decoded, so every gap before it is known by then). Offsets count from ``start_s``
    and seqs from ``first_seq`` (a stream's later archive part carries on its earlier ones)."""
    cutter = SpeechPieces(options, round(start_s * SAMPLE_RATE_HZ))
    report = report or DecodeReport()
    seq = first_seq
    for block in blocks:
        for piece in cutter.push(block):
            yield as_chunk(stream_id, seq, piece, report)
            seq += 1
    for piece in cutter.finish():
        yield as_chunk(stream_id, seq, piece, report)
        seq += 1
    yield AudioChunk(stream_id, seq, cutter.end_sample / SAMPLE_RATE_HZ, SAMPLE_RATE_HZ, b"", final=True)


def as_chunk(stream_id: str, seq: int, piece: Piece, report: DecodeReport | None = None) -> AudioChunk:
    offset_s = piece.start / SAMPLE_RATE_HZ
    return AudioChunk(
        stream_id, seq, offset_s, SAMPLE_RATE_HZ, piece.audio.astype("<i2").tobytes(),
        unreadable_before_s=report.unreadable_before(offset_s) if report else 0.0,
    )  # fmt: skip
