"""`claimwatch analyze`: a recorded stream through the same stage logic, in-process, no servers.

The audio is cut into speech pieces exactly as ingest cuts it (:mod:`pipeline.speech.pieces`), decoded
by the same transcriber, and the transcript and listing events go through the same
:class:`~pipeline.checks.monitor.Monitor` the worker uses, so the violations and their ids are those the
streaming pipeline produces for the same input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.checks.monitor import build_monitor
from pipeline.config import Settings
from pipeline.errors import RecordError
from pipeline.jsonl import MAX_LINE_BYTES, read_records
from pipeline.ledger.files import read_ledger
from pipeline.records import AudioChunk, ListingEvent, StreamInfo, TranscriptSegment, Violation, decode
from pipeline.speech import models
from pipeline.speech.asr import Transcriber, worker_options
from pipeline.speech.audio import DecodeReport, decode_pcm
from pipeline.speech.models import LoadedModel
from pipeline.speech.pieces import speech_chunks

Progress = Callable[[float], None]  # seconds of audio done


@dataclass(frozen=True, slots=True)
class Analysis:
    """What analysing a recorded stream gave."""

    violations: list[Violation]
    segments: list[TranscriptSegment]
    errors: list[RecordError]  # bad listing lines and ledger rows (reported, then skipped)
    audio: DecodeReport = field(default_factory=DecodeReport)  # damage found in the audio


def read_listings(
    path: Path, max_line_bytes: int = MAX_LINE_BYTES
) -> tuple[list[ListingEvent], list[RecordError]]:
    events: list[ListingEvent] = []
    errors: list[RecordError] = []
    for _, item in read_records(path, lambda d: decode(ListingEvent, d), max_line_bytes):
        if isinstance(item, RecordError):
            errors.append(item)
        else:
            events.append(item)
    return events, errors


def transcribe_pieces(
    transcriber: Transcriber, chunks: Iterable[AudioChunk], progress: Progress
) -> Iterator[TranscriptSegment]:
    """Speech pieces decoded in full batches (the worker's decode, without the waiting)."""
    for chunk in chunks:
        if chunk.final:
            progress(chunk.offset_s)
            break
        transcriber.add_piece(chunk)
        if transcriber.due(max_wait_s=float("inf")):
            yield from transcriber.step()
        progress(chunk.offset_s + chunk.duration_s)
    yield from transcriber.drain()


def analyze(
    settings: Settings,
    *,
    audio: Path,
    listings: Path,
    ledger: Path,
    info: StreamInfo,
    model: LoadedModel | None = None,
    progress: Progress = lambda _s: None,
) -> Analysis:
    """Violations of one recorded stream, in time order."""
    model = model or models.load(settings)
    transcriber = Transcriber(model, worker_options(model.device))
    monitor = build_monitor(settings.lexicon_dir)
    read = read_ledger(
        ledger,
        monitor.rules,
        mcn_id=info.mcn_id,
        max_bytes=settings.ledger_max_bytes,
        max_rows=settings.ledger_max_rows,
    )
    monitor.load_ledger(read.entries)
    events, errors = read_listings(listings, settings.listing_max_line_bytes)
    damage = DecodeReport()
    chunks = speech_chunks(decode_pcm(audio, report=damage), info.stream_id, report=damage)
    segments = list(transcribe_pieces(transcriber, chunks, progress))
    violations = monitor.replay(info, events, segments)
    return Analysis(violations, segments, [*read.errors, *errors], damage)
