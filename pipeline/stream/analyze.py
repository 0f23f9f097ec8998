"""`claimwatch analyze`: a recorded stream through the same stage logic, in-process, no servers.

The audio is cut into speech pieces exactly as ingest cuts it (:mod:`pipeline.speech.pieces`), decoded
by the same transcriber, and the transcript and listing events go through the same
:class:`~pipeline.checks.monitor.Monitor` the worker uses, so the violations and their ids are those the
streaming pipeline produces for the same input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipeline.checks.monitor import build_monitor, tenant_mismatch
from pipeline.checks.stage import StageTimeline
from pipeline.config import Settings
from pipeline.errors import RecordError
from pipeline.jsonl import MAX_LINE_BYTES, read_records
from pipeline.ledger.files import read_ledger
from pipeline.records import AudioChunk, Card, ListingEvent, StreamInfo, TranscriptSegment, Violation, decode
from pipeline.speech import models
from pipeline.speech.asr import Transcriber, worker_options
from pipeline.speech.audio import DecodeReport, decode_pcm
from pipeline.speech.models import LoadedModel
from pipeline.speech.pieces import speech_chunks

Progress = Callable[[float], None]  # seconds of audio done
Context = Callable[[float], str]  # what to show the decoder before a piece starting at this offset


@dataclass(frozen=True, slots=True)
class Analysis:
    """What analysing a recorded stream gave."""

    violations: list[Violation]
    segments: list[TranscriptSegment]
    errors: list[RecordError]  # bad listing lines and ledger rows (reported, then skipped)
    audio: DecodeReport = field(default_factory=DecodeReport)  # damage found in the audio


def read_listings(
    path: Path, max_line_bytes: int = MAX_LINE_BYTES, info: StreamInfo | None = None
) -> tuple[list[ListingEvent], list[RecordError]]:
    """The listing events of a file, and its bad lines (file, line, field). With ``info``, a line
    of that stream naming another MCN or anchor than ``info`` is a bad line too: a stream's party
    is its registration's (the worker dead-letters such a record)."""
    events: list[ListingEvent] = []
    errors: list[RecordError] = []

    def parse(data: dict[str, Any]) -> ListingEvent:
        event = decode(ListingEvent, data)
        if (
            info is not None
            and event.stream_id == info.stream_id
            and (refused := tenant_mismatch(info, event))
        ):
            raise refused
        return event

    for _, item in read_records(path, parse, max_line_bytes):
        if isinstance(item, RecordError):
            errors.append(item)
        else:
            events.append(item)
    return events, errors


def stage_context(info: StreamInfo, events: Iterable[ListingEvent]) -> Context:
    """The title and brand of the listing on stage at an offset of the stream (biasing: measured
    in docs/speech.md, "Biasing", off by default)."""
    stage = StageTimeline()
    for event in sorted((e for e in events if e.stream_id == info.stream_id), key=lambda e: e.ts):
        stage.record(event)

    def context(offset_s: float) -> str:
        listing = stage.at(info.started_at + timedelta(seconds=offset_s))
        return f"{listing.title} {listing.brand}".strip() if listing is not None else ""

    return context


def transcribe_pieces(
    transcriber: Transcriber,
    chunks: Iterable[AudioChunk],
    progress: Progress,
    context: Context | None = None,
) -> Iterator[TranscriptSegment]:
    """Speech pieces decoded in full batches (the worker's decode, without the waiting); with
    ``context``, each piece is decoded after the text it gives for the piece's start."""
    for chunk in chunks:
        if chunk.final:
            progress(chunk.offset_s)
            break
        if context is not None:
            transcriber.set_context(chunk.stream_id, context(chunk.offset_s))
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
    bias_stage: bool = False,
    cards: Sequence[Card] = (),
) -> Analysis:
    """Violations of one recorded stream, in time order. ``bias_stage``: decode each piece after the
    title and brand of the listing on stage (an experiment, docs/speech.md "Biasing"). ``cards``:
    the approved selling-point cards the speech is held against (off-card, docs/cards.md)."""
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
    monitor.load_cards(cards)
    events, errors = read_listings(listings, settings.listing_max_line_bytes, info)
    damage = DecodeReport()
    chunks = speech_chunks(decode_pcm(audio, report=damage), info.stream_id, report=damage)
    context = stage_context(info, events) if bias_stage else None
    segments = list(transcribe_pieces(transcriber, chunks, progress, context))
    violations = monitor.replay(info, events, segments)
    return Analysis(violations, segments, [*read.errors, *errors], damage)
