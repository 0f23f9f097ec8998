"""Ingest (pipeline.stream.ingest): what goes to the broker for a stream's audio and listings,
caught by a list sink at the I/O edge."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pipeline.commands.main import main
from pipeline.errors import AudioError
from pipeline.records import AudioChunk, ListingEvent, StreamInfo
from pipeline.sample import load_sample
from pipeline.speech.archive import archive_path
from pipeline.speech.audio import duration_s
from pipeline.speech.clips import cut_clip
from pipeline.speech.live import Reconnect
from pipeline.stream import topics
from pipeline.stream.ingest import AudioIngest, ingest_audio, ingest_listings
from tests.audio_sources import cut_short, damaged_in_the_middle, free_port, generated, live_room

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


# A live source that drops is retried quickly here (production: 10 s stall, 300 s give-up).
FAST_RECONNECT = Reconnect(stall_timeout_s=2.0, give_up_s=8.0, first_delay_s=0.25, max_delay_s=1.0)


def _speech(target: Path, start_s: float, length_s: float) -> Path:
    """``length_s`` seconds of the sample's speech from ``start_s``, as a 16 kHz WAV."""
    return generated(
        target, f"amovie={SAMPLE.audio}", "-ss", str(start_s), "-t", str(length_s), "-ac", "1", "-ar", "16000"
    )


def _pieces(sink: ListSink) -> list[AudioChunk]:
    return [p for p in sink.of(topics.AUDIO) if isinstance(p, AudioChunk)]


def _streams(sink: ListSink) -> list[StreamInfo]:
    return [s for s in sink.of(topics.STREAMS) if isinstance(s, StreamInfo)]


@pytest.mark.slow
def test_a_live_source_that_stalls_is_reconnected_its_offsets_go_on_and_its_end_has_a_reason(
    tmp_path: Path,
) -> None:
    """A live HTTP-FLV room stalls at 10 s of its broadcast and answers 503 until 14 s; at 24 s it
    ends and answers 404 for good. Ingest reconnects and carries on: the pieces after the outage
    sit where the broadcast had them (as in the recording), carry the outage as unreadable audio,
    the outage is reported, the archive keeps its alignment, and the stream ends where its audio
    does, saying why."""
    source = _speech(tmp_path / "broadcast.wav", 0.0, 24.0)
    recording, intact = _ingest(source, tmp_path / "intact")
    recorded = _pieces(recording)
    with live_room(source, stall=(10.0, 14.0)) as (url, room):
        sink = ListSink()
        info = StreamInfo("live-stall", SAMPLE.anchor_id, SAMPLE.mcn_id, SAMPLE.started_at)
        done = ingest_audio(sink, info, url, audio_dir=tmp_path / "audio", reconnect=FAST_RECONNECT)
    resumed = [at for at, status in room.requests if status == 200 and at > 10.0]
    assert resumed, f"never reconnected: {room.requests}"
    resumed_at = resumed[0]
    [outage] = done.report.outages
    assert outage.start_s == pytest.approx(10.0, abs=0.5)
    assert outage.duration_s == pytest.approx(resumed_at - 10.0, abs=1.0)
    pieces = _pieces(sink)
    assert [p.seq for p in pieces] == list(range(len(pieces)))
    assert all(a.offset_s + a.duration_s <= b.offset_s for a, b in itertools.pairwise(pieces))
    after = [p for p in pieces if p.offset_s > resumed_at + 0.5]
    assert len(after) >= 2  # the broadcast's 15.4 s and 19.2 s utterances
    for piece in after:
        nearest = min(recorded, key=lambda p: abs(p.offset_s - piece.offset_s))
        assert piece.offset_s == pytest.approx(nearest.offset_s, abs=1.0)
        assert piece.unreadable_before_s == pytest.approx(outage.duration_s, abs=0.01)
    assert all(p.unreadable_before_s == 0.0 for p in pieces if p.offset_s < 10.0)
    start, end = _streams(sink)
    assert end.started_at == start.started_at == SAMPLE.started_at
    assert end.ended_at is not None
    assert (end.ended_at - end.started_at).total_seconds() == pytest.approx(intact.audio_s, abs=1.0)
    assert "gone" in end.end_reason
    assert "404" in end.end_reason
    assert duration_s(archive_path(tmp_path / "audio", "live-stall")) == pytest.approx(done.audio_s, abs=0.5)


def test_a_live_source_unreachable_at_the_start_still_ends_its_stream_with_the_reason(tmp_path: Path) -> None:
    sink = ListSink()
    info = StreamInfo("live-unreachable", SAMPLE.anchor_id, SAMPLE.mcn_id, SAMPLE.started_at)
    url = f"http://127.0.0.1:{free_port()}/live.flv"
    with pytest.raises(AudioError, match="refused"):
        ingest_audio(sink, info, url, audio_dir=tmp_path / "audio", reconnect=FAST_RECONNECT)
    start, end = _streams(sink)
    assert end.ended_at == start.started_at  # nothing was heard
    assert "refused" in end.end_reason


def _envelope(wav: bytes) -> np.ndarray:  # type: ignore[type-arg]
    samples = np.frombuffer(wav[44:], dtype="<i2").astype(np.float64)
    frames = samples[: len(samples) // 320 * 320].reshape(-1, 320)
    return np.sqrt((frames**2).mean(axis=1))  # loudness per 20 ms


def _alike(a: bytes, b: bytes) -> float:
    x, y = _envelope(a), _envelope(b)
    n = min(len(x), len(y))
    return float(np.corrcoef(x[:n], y[:n])[0, 1])


def test_a_second_ingest_of_a_stream_appends_a_part_and_never_rewrites_its_archive(tmp_path: Path) -> None:
    """The same stream id ingested again (a monitor restarted on the second half of a broadcast):
    the first archive is not touched, the stream keeps its started_at, the new pieces come after
    the old ones, and a clip at a later offset is cut from the new part."""
    audio_dir = tmp_path / "audio"
    first, second = _speech(tmp_path / "first.wav", 0.0, 14.0), _speech(tmp_path / "second.wav", 14.0, 14.0)
    sink1, done1 = _ingest(first, audio_dir)
    archive = archive_path(audio_dir, SAMPLE.stream_id)
    kept = hashlib.sha256(archive.read_bytes()).hexdigest()
    sink2 = ListSink()
    later = StreamInfo(
        SAMPLE.stream_id, SAMPLE.anchor_id, SAMPLE.mcn_id, SAMPLE.started_at + timedelta(hours=1)
    )
    done2 = ingest_audio(sink2, later, second, audio_dir=audio_dir)
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == kept
    start, end = _streams(sink2)
    assert start.started_at == end.started_at == SAMPLE.started_at
    assert start.audio_path == str(archive)
    pieces1, pieces2 = _pieces(sink1), _pieces(sink2)
    assert pieces2[0].offset_s >= done1.audio_s
    assert pieces2[0].seq > pieces1[-1].seq
    assert done2.audio_s == pytest.approx(done1.audio_s + 14.0, abs=0.5)
    assert end.ended_at == SAMPLE.started_at + timedelta(seconds=done2.audio_s)
    clip = cut_clip(archive, done1.audio_s + 2.0, done1.audio_s + 6.0)
    assert _alike(clip, cut_clip(second, 2.0, 6.0)) > 0.9
    assert _alike(clip, cut_clip(first, 2.0, 6.0)) < 0.5


def test_ingesting_the_same_recording_again_is_a_replay_that_leaves_its_archive_alone(tmp_path: Path) -> None:
    """``claimwatch demo`` run twice: the same pieces at the same offsets (the workers deduplicate
    them), the archive as it was."""
    audio_dir = tmp_path / "audio"
    source = _speech(tmp_path / "recording.wav", 0.0, 14.0)
    sink1, done1 = _ingest(source, audio_dir)
    archive = archive_path(audio_dir, SAMPLE.stream_id)
    kept = hashlib.sha256(archive.read_bytes()).hexdigest()
    sink2, done2 = _ingest(source, audio_dir)
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == kept
    assert [(p.seq, p.offset_s) for p in _pieces(sink2)] == [(p.seq, p.offset_s) for p in _pieces(sink1)]
    assert done2.audio_s == done1.audio_s


@pytest.mark.integration
def test_ingest_audio_again_says_the_stream_goes_on_in_a_new_part(broker: str, tmp_path: Path) -> None:
    env = {"CLAIMWATCH_BROKER_URL": broker, "CLAIMWATCH_DATA_DIR": str(tmp_path / "data")}
    runs = []
    for n, started in enumerate(["2026-05-01T20:00:00+08:00", "2026-05-01T21:00:00+08:00"]):
        part = _speech(tmp_path / f"part{n}.wav", 14.0 * n, 14.0)
        args = ["ingest", "audio", str(part), "--stream-id", "again-1", "--anchor-id", "a", "--mcn-id", "m",
                "--started-at", started]  # fmt: skip
        runs.append(CliRunner().invoke(main, args, env=env))
    assert [r.exit_code for r in runs] == [0, 0], [r.output for r in runs]
    assert "continued" not in runs[0].stderr
    assert "continued: the stream's archive gained part again-1+2.ogg from 14.0 s" in runs[1].stderr
    assert "started_at kept: 2026-05-01T20:00:00+08:00" in runs[1].stderr
    assert "28.0 s of audio" in runs[1].stdout  # the stream's audio reaches that far now
