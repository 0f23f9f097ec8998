"""Ingest (pipeline.stream.ingest): what goes to the broker for a stream's audio and listings,
caught by a list sink at the I/O edge."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.commands.main import main
from pipeline.records import AudioChunk, ListingEvent, StreamInfo
from pipeline.sample import load_sample
from pipeline.speech.archive import archive_path
from pipeline.speech.audio import duration_s
from pipeline.stream import topics
from pipeline.stream.ingest import AudioIngest, ingest_audio, ingest_listings
from tests.audio_sources import cut_short, damaged_in_the_middle

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


def _ingest(source: Path, audio_dir: Path) -> tuple[ListSink, AudioIngest]:
    sink = ListSink()
    info = StreamInfo(SAMPLE.stream_id, SAMPLE.anchor_id, SAMPLE.mcn_id, SAMPLE.started_at)
    return sink, ingest_audio(sink, info, source, audio_dir=audio_dir)


def test_pieces_after_unreadable_audio_keep_the_container_clock_and_say_so(
    ingested: tuple,  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    """53.0-60.0 s of the sample cannot be read: the pieces after it start where the intact
    stream's pieces start (the utterance at 72.2 s stays at 72.2 s, not 65.2 s), carry the 7 s,
    and the stream ends at the container's 108 s."""
    intact = [p for p in ingested[0].of(topics.AUDIO) if isinstance(p, AudioChunk)]
    damaged = damaged_in_the_middle(SAMPLE.audio, tmp_path / "damaged.ogg")
    sink, done = _ingest(damaged, tmp_path / "audio")
    pieces = [p for p in sink.of(topics.AUDIO) if isinstance(p, AudioChunk)]
    after = [p for p in pieces if p.offset_s > 62.0]  # the VAD has settled again after the silence
    assert after
    for piece in after:
        nearest = min(intact, key=lambda p: abs(p.offset_s - piece.offset_s))
        assert piece.offset_s == pytest.approx(nearest.offset_s, abs=0.1)
        assert piece.unreadable_before_s == pytest.approx(7.0, abs=0.02)
    assert all(p.unreadable_before_s == 0.0 for p in pieces if p.offset_s < 53.0)
    assert [(round(g.start_s, 1), round(g.duration_s, 1)) for g in done.report.gaps] == [(53.0, 7.0)]
    assert done.audio_s == pytest.approx(108.2, abs=0.1)
    assert duration_s(archive_path(tmp_path / "audio", SAMPLE.stream_id)) == pytest.approx(108.2, abs=0.1)


def test_a_stream_cut_short_ends_where_its_audio_does_and_is_reported(tmp_path: Path) -> None:
    short = cut_short(SAMPLE.audio, tmp_path / "short.ogg")
    sink, done = _ingest(short, tmp_path / "audio")
    assert "end-of-stream" in done.report.truncated
    assert "cut short" in done.report.summary()
    end = sink.of(topics.STREAMS)[-1]
    assert isinstance(end, StreamInfo)
    assert end.ended_at is not None
    assert (end.ended_at - end.started_at).total_seconds() == pytest.approx(42.0, abs=0.5)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (damaged_in_the_middle, "7.0 s of audio unreadable at 53.0 s"),
        (
            cut_short,
            "cut short (it ends inside an Ogg page, before its end-of-stream page): 42.0 s could be read",
        ),
    ],
)
def test_ingest_audio_of_damaged_audio_says_what_was_lost_and_exits_1(
    broker: str, tmp_path: Path, damage: Callable[[Path, Path], Path], said: str
) -> None:
    source = damage(SAMPLE.audio, tmp_path / "stream.ogg")
    args = ["ingest", "audio", str(source), "--stream-id", f"damaged-{damage.__name__}",
            "--anchor-id", SAMPLE.anchor_id, "--mcn-id", SAMPLE.mcn_id]  # fmt: skip
    env = {"CLAIMWATCH_BROKER_URL": broker, "CLAIMWATCH_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 1, result.output
    assert "speech pieces" in result.stdout  # what could be read was published
    assert f"damaged audio: {said}" in result.stderr
