"""Streaming speech recognition for many live streams at once, with faster-whisper.

A :class:`Transcriber` keeps a small state per stream (VAD, the audio not yet decoded, where the
next piece begins) and one queue of *pieces* ready to decode, from all streams. Pieces are cut by
:mod:`pipeline.speech.vad` at silences, so a word that straddles two :class:`AudioChunk` records is decoded
once, whole, in one piece: chunk edges never reach the model. Each piece is decoded exactly once,
and :meth:`Transcriber.step` decodes up to ``batch_size`` queued pieces, of any streams, in one
batched encoder + decoder call (what faster-whisper's BatchedInferencePipeline does for the windows
of one file).

How a worker drives it for many streams::

    transcriber = Transcriber(speech_model.load(settings))
    for chunk in chunks_of_all_streams:            # AudioChunk records, any interleaving
        transcriber.add(chunk)                     # cheap: buffers audio, runs the VAD
        if transcriber.due(max_wait_s=2.0):        # a full batch, or a piece waiting too long
            publish(transcriber.step())            # one batched decode
        if chunk.final:
            transcriber.finish(chunk.stream_id)    # its last speech joins the queue
    # and on a timer (every second or so): if transcriber.due(2.0): publish(transcriber.step())

``feed(chunk)`` (add, then decode everything queued) is the one-stream shortcut, and
``flush(stream_id)`` ends a stream and decodes everything queued at once. Segment ids are
derived from the stream id and the piece's sample offsets, which depend on the audio alone, so a
stream processed twice yields the same ids.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens

from pipeline.records import AudioChunk, TranscriptSegment, stable_id
from pipeline.speech.filters import Part, Thresholds, judge_piece
from pipeline.speech.models import LoadedModel
from pipeline.speech.pieces import Piece, SpeechPieces, check_piece
from pipeline.speech.timing import carry_times, char_times
from pipeline.speech.vad import SAMPLE_RATE_HZ, CutOptions, Floats

CPU_BUDGET_S = 28.0  # Whisper's encoder costs a full 30 s window per piece: fill it on a CPU
GPU_BUDGET_S = 6.0  # on a GPU batching makes windows cheap: answer sooner
_MAX_GAP_S = 30.0  # a longer hole in a stream's offsets starts it afresh instead of padding
_TIME_STEP_S = 0.02  # one Whisper timestamp token
WINDOW_FRAMES = 3000  # Whisper's window: 30 s of 10 ms feature frames


@dataclass(frozen=True, slots=True)
class TranscriberOptions:
    """Decoding settings; ``cut`` decides the pieces (its budget: how long speech may wait)."""

    language: str = "zh"
    beam_size: int = 5
    batch_size: int = 8
    timestamps: bool = True  # split a piece into utterances with Whisper's timestamp tokens
    tokens_per_s: float = 12.0  # decoding stops past this many tokens per second of audio
    # The encoder's window per piece: 0 pads every piece to Whisper's 30 s (what faster-whisper
    # does); > 0 sizes it to the piece, rounded up to this many seconds (and at least
    # `min_context_s`). CTranslate2 encodes shorter windows in proportionally less time, so short
    # pieces (an utterance) cost what they last, not 30 s; each piece is still decoded alone, so
    # its text never depends on what else was in the batch.
    context_step_s: float = 0.0
    min_context_s: float = 6.0
    # One segment per piece (an utterance), its id a function of the piece alone: what the worker
    # wants, so a claim keeps its id however Whisper splits the words. Else one per timestamp span.
    segment_per_piece: bool = False
    # When each character was said (faster-whisper's word alignment, a decoder pass per batch):
    # what places a claim in its sentence. Only with segment_per_piece.
    char_times: bool = False
    # Contextual biasing (docs/speech.md, "Biasing"): text shown to the decoder before each piece,
    # as faster-whisper's `hotwords`/`initial_prompt` are (after <|startofprev|>). `prompt` goes
    # before every piece; `Transcriber.set_context` adds a stream's own (what is on stage).
    prompt: str = ""
    cut: CutOptions = field(default_factory=CutOptions)
    thresholds: Thresholds = field(default_factory=Thresholds)


def default_options(device: str, latency_budget_s: float | None = None) -> TranscriberOptions:
    """Options with the latency budget suited to the device unless one is given (docs/speech.md)."""
    budget = latency_budget_s or (GPU_BUDGET_S if device == "cuda" else CPU_BUDGET_S)
    return TranscriberOptions(cut=CutOptions(latency_budget_s=budget))


WORKER_BEAM = 4  # beam 5 → 4: 7-9 % less CPU per audio second, CER 0.140 against 0.143 (bench/asr.py)
WORKER_BATCH = 16  # the worker's batch (`transcribe_batch_pieces`): one decode per window size


def worker_options(device: str, batch_size: int = WORKER_BATCH) -> TranscriberOptions:
    """What the streaming worker (and `claimwatch analyze`) use for pieces cut at ingest, one per
    utterance: an encoder window sized to each piece, one segment per piece. ``batch_size``: the
    pieces the worker takes at once (``transcribe_batch_pieces``), so a batch taken is decoded in
    one call per window size, not in steps whose first results wait for the last (docs/scaling.md)."""
    del device  # short windows pay on a GPU too
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    return TranscriberOptions(
        beam_size=WORKER_BEAM,
        context_step_s=2.0,
        segment_per_piece=True,
        batch_size=batch_size,
        char_times=True,
    )


@dataclass(frozen=True, slots=True)
class _Job:
    stream_id: str
    start: int  # absolute samples
    end: int
    audio: Floats
    queued_at: float
    prompt: tuple[int, ...]
    unreadable_before_s: float = 0.0  # from the stream's chunks (damaged audio before the piece)


class Transcriber:
    """Per-stream state plus one queue of pieces decoded in batches (see the module docstring).

    Not thread-safe: one thread at a time (an async worker runs ``step`` in an executor, holding a
    lock around ``add`` and ``step``).
    """

    def __init__(self, model: LoadedModel, options: TranscriberOptions | None = None) -> None:
        self.model = model
        self.options = opt = options or default_options(model.device)
        whisper = model.whisper
        self._tokenizer = Tokenizer(
            whisper.hf_tokenizer, whisper.model.is_multilingual, task="transcribe", language=opt.language
        )
        self._prompt = tuple(whisper.get_prompt(self._tokenizer, [], without_timestamps=not opt.timestamps))
        self._suppress = get_suppressed_tokens(self._tokenizer, [-1])
        self._streams: dict[str, SpeechPieces] = {}
        self._queue: deque[_Job] = deque()
        self._contexts: dict[str, tuple[int, ...]] = {}
        self._unreadable: dict[str, float] = {}  # latest chunk's unreadable_before_s, by stream
        self._default_prompt = self._prompt_for("")
        self.dropped: dict[str, int] = {}  # segments dropped by the filters, by reason

    # -- feeding ---------------------------------------------------------------------------------

    def add(self, chunk: AudioChunk) -> None:
        """Take one chunk of a stream: buffer it, run the VAD, queue the pieces it completes."""
        samples = _samples(chunk)
        self._unreadable[chunk.stream_id] = chunk.unreadable_before_s
        start = round(chunk.offset_s * SAMPLE_RATE_HZ)
        stream = self._streams.get(chunk.stream_id)
        if stream is None or start - stream.end_sample > _MAX_GAP_S * SAMPLE_RATE_HZ:
            if stream is not None:
                self._queue_pieces(chunk.stream_id, stream.finish())
            stream = self._streams[chunk.stream_id] = SpeechPieces(self.options.cut, start)
        skip = stream.end_sample - start  # > 0: already seen (a redelivery); < 0: a gap
        if skip < 0:
            samples = np.concatenate([np.zeros(-skip, dtype=np.int16), samples])
        elif skip > 0:
            samples = samples[skip:]
        if len(samples):
            self._queue_pieces(chunk.stream_id, stream.push(samples))

    def add_piece(self, chunk: AudioChunk) -> None:
        """Queue a speech piece already cut where the audio entered (:mod:`pipeline.speech.pieces`)."""
        samples = _samples(chunk)
        self._unreadable[chunk.stream_id] = chunk.unreadable_before_s
        if len(samples):
            start = round(chunk.offset_s * SAMPLE_RATE_HZ)
            self._queue_pieces(chunk.stream_id, [Piece(start, start + len(samples), samples)])

    def set_context(self, stream_id: str, text: str) -> None:
        """What the decoder is shown before this stream's next pieces (with ``options.prompt``):
        e.g. the title and brand of the listing on stage. Empty: the options' prompt alone."""
        self._contexts[stream_id] = self._prompt_for(text)

    def feed(self, chunk: AudioChunk) -> list[TranscriptSegment]:
        """One-stream shortcut: add the chunk, then decode everything queued (all of it at its end)."""
        self.add(chunk)
        return self.flush(chunk.stream_id) if chunk.final else self.drain()

    def finish(self, stream_id: str) -> None:
        """End of a stream: queue its last speech and forget its state (decoding comes with `step`)."""
        stream = self._streams.pop(stream_id, None)
        if stream is not None:
            self._queue_pieces(stream_id, stream.finish())
        self._contexts.pop(stream_id, None)
        self._unreadable.pop(stream_id, None)

    def flush(self, stream_id: str) -> list[TranscriptSegment]:
        """End of a stream: queue its last speech, forget its state, decode everything queued."""
        self.finish(stream_id)
        return self.drain()

    # -- decoding --------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Pieces queued for decoding, all streams together."""
        return len(self._queue)

    def due(self, max_wait_s: float) -> bool:
        """Whether to decode now: a full batch is queued, or the oldest piece waited ``max_wait_s``."""
        if len(self._queue) >= self.options.batch_size:
            return True
        return bool(self._queue) and time.monotonic() - self._queue[0].queued_at >= max_wait_s

    def step(self) -> list[TranscriptSegment]:
        """Decode up to ``batch_size`` queued pieces (oldest first, any streams) in batched calls,
        one per window size."""
        count = min(self.options.batch_size, len(self._queue))
        jobs = [self._queue.popleft() for _ in range(count)]
        return self._decode(jobs) if jobs else []

    def drain(self) -> list[TranscriptSegment]:
        """Decode everything queued, in batches."""
        out: list[TranscriptSegment] = []
        while self._queue:
            out.extend(self.step())
        return out

    # -- internals -------------------------------------------------------------------------------

    def _prompt_for(self, context: str) -> tuple[int, ...]:
        """The decoder's prompt: <|startofprev|> and the biasing text, if any, then the task."""
        text = " ".join(t for t in (self.options.prompt.strip(), context.strip()) if t)
        if not text:
            return self._prompt
        tokens = self._tokenizer.encode(" " + text)[: self.model.whisper.max_length // 2 - 1]
        return (self._tokenizer.sot_prev, *tokens, *self._prompt)

    def _queue_pieces(self, stream_id: str, pieces: list[Piece]) -> None:
        now = time.monotonic()
        prompt = self._contexts.get(stream_id, self._default_prompt)
        unreadable_s = self._unreadable.get(stream_id, 0.0)
        for piece in pieces:
            audio = piece.audio.astype(np.float32) / 32768.0
            self._queue.append(
                _Job(stream_id, piece.start, piece.end, audio, now, prompt, unreadable_before_s=unreadable_s)
            )

    def _decode(self, jobs: list[_Job]) -> list[TranscriptSegment]:
        """Pieces grouped by encoder window size and prompt length (CTranslate2 wants the task's
        tokens at one position in a batch); one batched encode + generate per group."""
        groups: dict[tuple[int, int], list[int]] = {}
        for index, job in enumerate(jobs):
            groups.setdefault((self._frames(job), len(job.prompt)), []).append(index)
        segments: dict[int, list[TranscriptSegment]] = {}
        for (frames, _), indices in groups.items():
            for index, (scores, spans, words) in zip(
                indices, self._generate(frames, [jobs[i] for i in indices]), strict=True
            ):
                segments[index] = self._segments(jobs[index], spans, words, *scores)
        return [segment for index in sorted(segments) for segment in segments[index]]

    def _frames(self, job: _Job) -> int:
        """The encoder window of a piece, in 10 ms frames."""
        step = self.options.context_step_s
        if not step:
            return WINDOW_FRAMES
        seconds = max(self.options.min_context_s, math.ceil(len(job.audio) / SAMPLE_RATE_HZ / step) * step)
        return min(WINDOW_FRAMES, round(seconds * 100))

    def _generate(self, frames: int, jobs: list[_Job]) -> list[tuple[tuple[float, float], list[Span], Words]]:
        """Each piece's (avg_logprob, no_speech_prob), its timestamped spans and its aligned words."""
        opt = self.options
        whisper = self.model.whisper
        features = np.stack(
            [pad_or_trim(whisper.feature_extractor(job.audio)[..., :-1], frames) for job in jobs]
        )
        encoded = whisper.encode(features)
        longest = len(jobs[0].prompt)  # one length per group
        room = whisper.max_length - longest
        results = whisper.model.generate(
            encoded,
            [list(job.prompt) for job in jobs],
            beam_size=opt.beam_size,
            max_length=longest + min(room, int(frames / 100 * opt.tokens_per_s) + 16),
            suppress_blank=True,
            suppress_tokens=self._suppress,
            return_scores=True,
            return_no_speech_prob=True,
        )
        sequences = [list(result.sequences_ids[0]) for result in results]
        words = self._align(encoded, frames, sequences) if opt.char_times else [[] for _ in jobs]
        out: list[tuple[tuple[float, float], list[Span], Words]] = []
        for job, result, tokens, aligned in zip(jobs, results, sequences, words, strict=True):
            avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1)
            spans = _split(tokens, self._tokenizer.timestamp_begin, len(job.audio) / SAMPLE_RATE_HZ)
            out.append(((avg_logprob, float(result.no_speech_prob)), spans, aligned))
        return out

    def _align(self, encoded: Any, frames: int, sequences: list[list[int]]) -> list[Words]:
        """The words of each piece with their times (seconds into the piece)."""
        text = [[t for t in tokens if t < self._tokenizer.eot] for tokens in sequences]
        if not any(text):
            return [[] for _ in sequences]
        aligned: list[Words] = self.model.whisper.find_alignment(self._tokenizer, text, encoded, frames)
        return aligned

    def _segments(
        self, job: _Job, spans: list[Span], words: Words, avg_logprob: float, no_speech_prob: float
    ) -> list[TranscriptSegment]:
        if self.options.segment_per_piece and len(spans) > 1:
            spans = [(spans[0][0], spans[-1][1], [t for _, _, tokens in spans for t in tokens])]
        parts = [Part(self._tokenizer.decode(part), t1 - t0) for t0, t1, part in spans]
        verdicts = judge_piece(
            parts, no_speech_prob=no_speech_prob, avg_logprob=avg_logprob, thresholds=self.options.thresholds
        )
        start_s = job.start / SAMPLE_RATE_HZ
        out: list[TranscriptSegment] = []
        for index, ((t0, t1, _), verdict) in enumerate(zip(spans, verdicts, strict=True)):
            if verdict.text is None:
                self.dropped[verdict.reason] = self.dropped.get(verdict.reason, 0) + 1
                continue
            out.append(
                TranscriptSegment(
                    segment_id=self._segment_id(job, index),
                    stream_id=job.stream_id,
                    offset_s=round(start_s + t0, 3),
                    end_offset_s=round(start_s + t1, 3),
                    text=verdict.text,
                    no_speech_prob=round(no_speech_prob, 4),
                    avg_logprob=round(avg_logprob, 4),
                    low_confidence=verdict.low_confidence,
                    model=self.model.label,
                    char_starts_s=self._char_starts(words, verdict.text, start_s) if len(spans) == 1 else (),
                    unreadable_before_s=job.unreadable_before_s,
                )
            )
        return out

    @staticmethod
    def _char_starts(words: Words, text: str, start_s: float) -> tuple[float, ...]:
        """When each character of the kept text was said (from the stream's start)."""
        if not words:
            return ()
        aligned, times = char_times(words)
        return tuple(round(start_s + t, 3) for t in carry_times(aligned, times, text))

    def _segment_id(self, job: _Job, index: int) -> str:
        if self.options.segment_per_piece:
            return stable_id("transcript", job.stream_id, job.start, job.end)
        return stable_id("transcript", job.stream_id, job.start, job.end, index)


Span = tuple[float, float, list[int]]
Words = list[dict[str, Any]]  # faster-whisper's aligned words: word, start, end (seconds into the piece)


def _split(tokens: list[int], timestamp_begin: int, duration_s: float) -> list[Span]:
    """Text tokens grouped by Whisper's timestamp tokens: (start_s, end_s, tokens) within a piece."""
    parts: list[Span] = []
    start, current = 0.0, []
    for token in tokens:
        if token < timestamp_begin:
            current.append(token)
            continue
        at = min(duration_s, (token - timestamp_begin) * _TIME_STEP_S)
        if current:
            parts.append((start, max(at, start), current))
            current = []
        start = at
    if current:
        parts.append((min(start, duration_s), duration_s, current))
    return parts


def _samples(chunk: AudioChunk) -> np.ndarray:
    return np.frombuffer(check_piece(chunk).pcm, dtype="<i2").astype(np.int16)


def transcribe_chunks(
    transcriber: Transcriber, chunks: Iterable[AudioChunk], *, live: bool = False
) -> Iterator[TranscriptSegment]:
    """Segments of one stream's chunks, in order. A recording is decoded in full batches; a live
    source (``live=True``) has each piece decoded as soon as it is cut."""
    stream_id: str | None = None
    for chunk in chunks:
        stream_id = chunk.stream_id
        transcriber.add(chunk)
        if transcriber.due(max_wait_s=0.0 if live else float("inf")):
            yield from transcriber.step()
    if stream_id is not None:
        yield from transcriber.flush(stream_id)
