"""Ingest: a stream's audio and its listing events onto the broker.

``ingest_audio`` announces the stream (``streams``), decodes the source (a file or a live URL),
archives the audio, cuts it into speech pieces (:mod:`pipeline.speech.pieces`) and publishes one
:class:`AudioChunk` per piece (``audio.chunks``), then announces the stream's end. A file can be
paced at real time (``realtime=True``) to behave as a live source; a live URL paces itself, and
is reconnected when it drops (:mod:`pipeline.speech.live`) until it is gone for good. The end is
announced however ingest stops, with the reason when it is not the audio's own end.

A stream ingested again keeps its ``started_at`` and carries its offsets on in a new archive
part (:mod:`pipeline.speech.archive`): nothing already archived is written over.

``ingest_listings`` validates listing events (a bad line is reported with file, line and field and
skipped) and publishes the good ones (``listings``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from pipeline.errors import AudioError, RecordError
from pipeline.jsonl import MAX_LINE_BYTES, read_records
from pipeline.records import AudioChunk, ListingEvent, StreamInfo, decode
from pipeline.speech.archive import AudioArchive, Plan, file_digest, finish_part, plan_part
from pipeline.speech.audio import DecodeOptions, DecodeReport, decode_pcm, describe, is_url
from pipeline.speech.damage import Gap
from pipeline.speech.live import Reconnect, live_pcm
from pipeline.speech.pieces import speech_chunks
from pipeline.speech.vad import SAMPLE_RATE_HZ
from pipeline.stream import topics

Samples = npt.NDArray[np.int16]
BLOCK_S = 0.25  # audio is taken in (and, paced, released) a quarter second at a time: the VAD
# sees the end of an utterance within that much of its happening


class Sink(Protocol):
    """Where ingest publishes (:class:`pipeline.stream.publish.Publisher`)."""

    def send(self, topic: str, key: str, record: object) -> None: ...


@dataclass
class AudioIngest:
    """What ingesting a stream's audio did."""

    info: StreamInfo
    pieces: int = 0
    speech_s: float = 0.0
    audio_s: float = 0.0
    started_wall: float = 0.0  # time.monotonic() when the first audio was taken in
    piece_ends: list[float] = field(default_factory=list)  # audio time each piece ended
    report: DecodeReport = field(default_factory=DecodeReport)  # unreadable stretches, a cut-short file
    next_seq: int = 0  # the seq a later ingest of the stream carries on from
    plan: Plan | None = None  # the archive part written (or replayed)


def ingest_audio(
    sink: Sink,
    info: StreamInfo,
    source: str | Path,
    *,
    audio_dir: Path,
    realtime: bool = False,
    reconnect: Reconnect | None = None,
    progress: Callable[[float], None] = lambda _s: None,
) -> AudioIngest:
    """Announce, archive, cut and publish one stream's audio; announce its end.

    Damaged audio is published as far as it can be read, on the container's clock (silence where
    it could not be read); ``result.report`` says what was lost, for the caller to report, and
    ``reconnect`` how a live source that drops is retried. An AudioError is raised after the
    stream's end is announced with it as the reason."""
    live = is_url(source)
    plan = plan_part(audio_dir, info.stream_id, info.started_at, describe(source),
                     digest="" if live else file_digest(Path(source)),
                     now=datetime.now(UTC) if live else None, mcn_id=info.mcn_id)  # fmt: skip
    info = replace(info, started_at=plan.started_at, source=describe(source), audio_path=str(plan.archive))
    sink.send(topics.STREAMS, info.stream_id, info)
    result = AudioIngest(info, started_wall=time.monotonic(), report=_report(plan), plan=plan)
    result.audio_s = plan.part.start_s
    try:
        _publish(
            sink, info, source, plan, result,
            realtime=realtime, reconnect=reconnect or Reconnect(), progress=progress,
        )  # fmt: skip
    except AudioError as exc:
        _end(sink, result, result.report.ended or str(exc), plan)
        raise
    _end(sink, result, result.report.ended, plan)
    progress(result.audio_s)
    return result


def _report(plan: Plan) -> DecodeReport:
    """The part's report: the stream's earlier loss carried, the time between parts an outage."""
    report = DecodeReport(start_s=plan.part.start_s, earlier_s=plan.earlier_unreadable_s)
    missing = plan.part.start_s - plan.previous_end_s
    if missing >= 0.05:
        report.outages.append(Gap(round(plan.previous_end_s, 3), round(missing, 3)))
    return report


def _publish(
    sink: Sink,
    info: StreamInfo,
    source: str | Path,
    plan: Plan,
    result: AudioIngest,
    *,
    realtime: bool,
    reconnect: Reconnect,
    progress: Callable[[float], None],
) -> None:
    options = DecodeOptions(block_s=BLOCK_S)
    with nullcontext() if plan.replay else AudioArchive(plan.path) as archive:
        if is_url(source):
            decoded = live_pcm(source, options, reconnect, report=result.report)
        else:
            decoded = decode_pcm(source, options, report=result.report)
        blocks = decoded if archive is None else _archived(decoded, archive)
        if realtime and not is_url(source):
            blocks = _paced(blocks, result.started_wall)
        chunks = speech_chunks(blocks, info.stream_id, start_s=plan.part.start_s,
                               first_seq=plan.part.first_seq, report=result.report)  # fmt: skip
        for chunk in chunks:
            result.audio_s, result.next_seq = chunk.offset_s, chunk.seq
            if chunk.final:
                break
            sink.send(topics.AUDIO, info.stream_id, _with_stream(chunk, info))
            result.pieces += 1
            result.speech_s += chunk.duration_s
            result.piece_ends.append(chunk.offset_s + chunk.duration_s)
            progress(chunk.offset_s + chunk.duration_s)


def _end(sink: Sink, result: AudioIngest, reason: str, plan: Plan) -> None:
    """Announce the stream's end where its audio ended, saying why when it is not that."""
    info = result.info
    ended = replace(info, ended_at=info.started_at + timedelta(seconds=result.audio_s), end_reason=reason)
    sink.send(topics.STREAMS, info.stream_id, ended)
    result.info = ended
    lost = sum(g.duration_s for g in [*result.report.gaps, *result.report.outages])
    finish_part(plan, result.audio_s, result.next_seq, lost)


def _with_stream(chunk: AudioChunk, info: StreamInfo) -> AudioChunk:
    return replace(chunk, anchor_id=info.anchor_id, mcn_id=info.mcn_id, started_at=info.started_at)


def _archived(blocks: Iterable[Samples], archive: AudioArchive) -> Iterator[Samples]:
    for block in blocks:
        archive.write(block)
        yield block


def _paced(blocks: Iterable[Samples], started: float) -> Iterator[Samples]:
    """Blocks released no sooner than they would have been heard live."""
    heard = 0
    for block in blocks:
        heard += len(block)
        delay = started + heard / SAMPLE_RATE_HZ - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield block


@dataclass
class ListingIngest:
    published: int = 0
    errors: list[RecordError] = field(default_factory=list)


def ingest_listings(sink: Sink, path: str | Path, *, max_line_bytes: int = MAX_LINE_BYTES) -> ListingIngest:
    """Publish a JSONL file of listing events (``-``: stdin); bad lines are collected, not sent."""
    result = ListingIngest()
    for _, item in read_records(path, lambda d: decode(ListingEvent, d), max_line_bytes):
        if isinstance(item, RecordError):
            result.errors.append(item)
            continue
        sink.send(topics.LISTINGS, item.stream_id, item)
        result.published += 1
    return result
