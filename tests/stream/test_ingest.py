"""Ingest (pipeline.stream.ingest): what goes to the broker for a stream's audio and listings,
caught by a list sink at the I/O edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipeline.records import AudioChunk, ListingEvent, StreamInfo
from pipeline.sample import load_sample
from pipeline.speech.archive import archive_path
from pipeline.speech.audio import duration_s
from pipeline.stream import topics
from pipeline.stream.ingest import ingest_audio, ingest_listings

SAMPLE = load_sample()


@dataclass
class ListSink:
    """Keeps what ingest sends, in order."""

    sent: list[tuple[str, str, object]] = field(default_factory=list)

    def send(self, topic: str, key: str, record: object) -> None:
        self.sent.append((topic, key, record))

    def of(self, topic: str) -> list[object]:
        return [record for t, _, record in self.sent if t == topic]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[ListSink, object, Path]:
    audio_dir = tmp_path_factory.mktemp("audio")
    sink = ListSink()
    info = StreamInfo(SAMPLE.stream_id, SAMPLE.anchor_id, SAMPLE.mcn_id, SAMPLE.started_at)
    done = ingest_audio(sink, info, SAMPLE.audio, audio_dir=audio_dir)
    return sink, done, audio_dir


def test_the_stream_is_announced_before_its_audio_and_closed_after(ingested: tuple) -> None:  # type: ignore[type-arg]
    sink, _, audio_dir = ingested
    assert [t for t, _, _ in sink.sent if t == topics.STREAMS] == [topics.STREAMS] * 2
    assert sink.sent[0][0] == sink.sent[-1][0] == topics.STREAMS
    start, end = sink.of(topics.STREAMS)
    assert isinstance(start, StreamInfo) and start.ended_at is None  # noqa: PT018
    assert isinstance(end, StreamInfo)
    assert end.ended_at is not None
    assert (end.ended_at - end.started_at).total_seconds() == pytest.approx(duration_s(SAMPLE.audio), abs=0.5)
    assert start.audio_path == str(archive_path(audio_dir, SAMPLE.stream_id))
    assert all(key == SAMPLE.stream_id for _, key, _ in sink.sent)


def test_each_speech_piece_is_one_chunk_carrying_its_stream(ingested: tuple) -> None:  # type: ignore[type-arg]
    sink, done, _ = ingested
    pieces = sink.of(topics.AUDIO)
    assert len(pieces) == done.pieces >= len(SAMPLE.timeline)  # an utterance is at least one piece
    assert all(isinstance(p, AudioChunk) and p.stream is not None for p in pieces)
    assert [p.seq for p in pieces] == list(range(len(pieces)))  # type: ignore[attr-defined]
    assert done.speech_s == pytest.approx(sum(p.duration_s for p in pieces))  # type: ignore[attr-defined]
    assert done.speech_s < done.audio_s  # silence never crosses the broker


def test_the_audio_is_archived_for_evidence_clips(ingested: tuple) -> None:  # type: ignore[type-arg]
    _, done, audio_dir = ingested
    archived = archive_path(audio_dir, SAMPLE.stream_id)
    assert duration_s(archived) == pytest.approx(done.audio_s, abs=0.5)


def test_listing_lines_are_published_and_bad_ones_reported(tmp_path: Path) -> None:
    good = SAMPLE.listings.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "listings.jsonl"
    path.write_text(
        "\n".join([good[0], '{"stream_id": "x"}', "not json", *good[1:]]) + "\n", encoding="utf-8"
    )
    sink = ListSink()
    done = ingest_listings(sink, path)
    assert done.published == len(good)
    assert [e.line for e in done.errors] == [2, 3]
    assert all(isinstance(r, ListingEvent) for r in sink.of(topics.LISTINGS))
