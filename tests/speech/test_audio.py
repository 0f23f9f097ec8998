"""Decoding audio sources into 16 kHz mono chunks: formats, live HTTP streams, failures, long input."""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pipeline.commands.main import main
from pipeline.errors import AudioError
from pipeline.speech import audio
from tests.audio_sources import (
    AUDIO,
    SAMPLE,
    convert,
    cut_short,
    damaged_in_the_middle,
    ffmpeg,
    free_port,
    generated,
    hls,
    http_server,
    rtmp_publisher,
    silent_server,
)

SPEECH = AUDIO / "live02.flac"  # 3.66 s of speech
FAST_FAIL = audio.DecodeOptions(open_timeout_s=2.0, read_timeout_s=2.0)


def total_s(chunks: list[audio.AudioChunk]) -> float:
    return sum(c.duration_s for c in chunks)


def check_contiguous(chunks: list[audio.AudioChunk]) -> None:
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    for before, after in itertools.pairwise(chunks):
        assert after.offset_s == pytest.approx(before.offset_s + before.duration_s, abs=1e-6)
    assert [c.final for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert all(c.sample_rate_hz == 16_000 for c in chunks)


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [
        ("wav", ("-ar", "44100", "-ac", "2")),
        ("mp3", ("-c:a", "libmp3lame", "-ar", "22050")),
        ("m4a", ("-c:a", "aac")),
        ("flv", ("-c:a", "aac", "-ar", "44100")),
        ("ogg", ("-c:a", "libopus", "-ar", "48000")),
        ("flac", ("-ar", "32000")),
    ],
)
def test_decodes_containers_and_codecs_to_16k_mono(
    tmp_path: Path, suffix: str, codec: tuple[str, ...]
) -> None:
    source = convert(SPEECH, tmp_path / f"speech.{suffix}", *codec)
    chunks = list(audio.read_chunks(source, "s1"))
    check_contiguous(chunks)
    assert total_s(chunks) == pytest.approx(3.66, abs=0.12)  # encoders add priming/padding
    pcm = np.frombuffer(b"".join(c.pcm for c in chunks), dtype="<i2")
    assert np.abs(pcm).max() > 3000  # it is speech, not silence


def test_chunks_have_the_requested_length_and_absolute_offsets() -> None:
    chunks = list(audio.read_chunks(SAMPLE / "stream.ogg", "demo", audio.DecodeOptions(block_s=2.5)))
    check_contiguous(chunks)
    assert {round(c.duration_s, 6) for c in chunks[:-1]} == {2.5}
    assert chunks[40].offset_s == 100.0
    assert total_s(chunks) == pytest.approx(audio.duration_s(SAMPLE / "stream.ogg") or 0, abs=0.05)


def test_wav_file_already_at_16k_is_passed_through_unchanged() -> None:
    source = AUDIO / "aishell1_BAC009S0724W0121.wav"
    pcm = np.concatenate(list(audio.decode_pcm(source)))
    raw = np.frombuffer(source.read_bytes()[44:], dtype="<i2")  # canonical 44-byte header
    assert np.array_equal(pcm, raw)


def test_missing_empty_and_corrupt_files_name_the_source(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(np.random.default_rng(7).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    for path, reason in [(tmp_path / "missing.wav", "no such file"), (empty, "empty"), (corrupt, "")]:
        with pytest.raises(AudioError, match=re.escape(str(path))) as caught:
            list(audio.read_chunks(path, "s1"))
        assert reason in str(caught.value)


def test_file_without_sound_is_refused(tmp_path: Path) -> None:
    video = generated(tmp_path / "mute.mp4", "color=c=black:s=64x64:d=1", "-c:v", "mpeg4")
    with pytest.raises(AudioError, match="no audio stream"):
        list(audio.read_chunks(video, "s1"))


def test_damage_inside_a_stream_is_skipped_not_fatal(tmp_path: Path) -> None:
    source = convert(SAMPLE / "stream.ogg", tmp_path / "stream.mp3", "-c:a", "libmp3lame")
    data = bytearray(source.read_bytes())
    rng = np.random.default_rng(3)
    middle = len(data) // 2
    data[middle : middle + 4000] = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.mp3"
    damaged.write_bytes(bytes(data))
    chunks = list(audio.read_chunks(damaged, "s1"))
    assert total_s(chunks) == pytest.approx(108, abs=2.0)


def _decoded(source: Path) -> tuple[np.ndarray, audio.DecodeReport]:
    report = audio.DecodeReport()
    pcm = np.concatenate(list(audio.decode_pcm(source, report=report)))
    return pcm, report


def test_a_stretch_lost_inside_an_ogg_is_silence_and_later_audio_keeps_the_container_clock(
    tmp_path: Path,
) -> None:
    """The Ogg demuxer skips the damaged pages (53.0-60.0 s): the audio after them must stay where
    the container's timestamps put it, not 7 s early, and the gap is reported."""
    intact, clean = _decoded(SAMPLE / "stream.ogg")
    pcm, report = _decoded(damaged_in_the_middle(SAMPLE / "stream.ogg", tmp_path / "damaged.ogg"))
    assert len(pcm) / 16_000 == pytest.approx(len(intact) / 16_000, abs=0.02)
    assert [(round(g.start_s, 1), round(g.duration_s, 1)) for g in report.gaps] == [(53.0, 7.0)]
    assert not report.truncated
    assert not clean.damaged
    assert report.damaged
    assert report.unreadable_before(72.2) == pytest.approx(7.0, abs=0.02)
    assert report.unreadable_before(50.0) == 0.0
    gap = slice(round(53.1 * 16_000), round(59.9 * 16_000))
    assert not pcm[gap].any()  # silence where nothing could be read
    later = slice(61 * 16_000, 100 * 16_000)  # the decoder has settled after the loss
    assert np.corrcoef(pcm[later].astype(float), intact[later].astype(float))[0, 1] > 0.99
    assert "7.0 s of audio unreadable at 53.0 s" in report.summary()


def test_a_truncated_ogg_is_reported_as_cut_short(tmp_path: Path) -> None:
    """Cut at 40 % the Ogg still declares (from its last page) the 42 s it holds: only the missing
    end-of-stream page tells it was cut short."""
    pcm, report = _decoded(cut_short(SAMPLE / "stream.ogg", tmp_path / "short.ogg"))
    assert len(pcm) / 16_000 == pytest.approx(42.0, abs=0.5)
    assert "end-of-stream" in report.truncated
    assert report.read_s == pytest.approx(42.0, abs=0.5)
    assert "cut short" in report.summary()
    _, whole = _decoded(SAMPLE / "stream.ogg")
    assert not whole.damaged
    assert whole.summary() == ""


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [
        ("mp3", ("-c:a", "libmp3lame")),
        ("flac", ()),
        ("m4a", ("-c:a", "aac", "-movflags", "+faststart")),
        ("mka", ("-c:a", "libopus")),
        ("flv", ("-c:a", "aac")),
    ],
)
def test_a_file_shorter_than_it_declares_is_reported_as_cut_short(
    tmp_path: Path, suffix: str, codec: tuple[str, ...]
) -> None:
    whole = convert(SAMPLE / "stream.ogg", tmp_path / f"whole.{suffix}", *codec)
    _, report = _decoded(cut_short(whole, tmp_path / f"short.{suffix}"))
    assert report.truncated
    assert report.declared_s == pytest.approx(108.2, abs=0.2)
    assert report.read_s == pytest.approx(43, abs=1.5)
    assert not _decoded(whole)[1].damaged


def test_a_video_longer_than_its_sound_is_not_cut_short(tmp_path: Path) -> None:
    """The container's duration is the video's 6 s; the sound's own 3.7 s is what counts."""
    video = tmp_path / "talk.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=black:s=64x64:d=6",
        "-i",
        str(SPEECH),
        "-c:v",
        "mpeg4",
        "-c:a",
        "aac",
        str(video),
    )
    pcm, report = _decoded(video)
    assert len(pcm) / 16_000 == pytest.approx(3.7, abs=0.1)
    assert not report.damaged, report


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [
        ("flac", ()),
        ("m4a", ("-c:a", "aac", "-movflags", "+faststart")),
        ("mka", ("-c:a", "libopus")),
        ("ts", ("-c:a", "aac", "-f", "mpegts")),
    ],
)
def test_stretches_lost_in_timestamped_containers_keep_the_clock(
    tmp_path: Path, suffix: str, codec: tuple[str, ...]
) -> None:
    whole = convert(SAMPLE / "stream.ogg", tmp_path / f"whole.{suffix}", *codec)
    intact, _ = _decoded(whole)
    length = whole.stat().st_size // 40
    pcm, report = _decoded(damaged_in_the_middle(whole, tmp_path / f"damaged.{suffix}", length))
    assert len(pcm) == pytest.approx(len(intact), abs=0.05 * 16_000)
    assert 1.0 < sum(g.duration_s for g in report.gaps) < 6.0
    assert all(50 < g.start_s < 60 for g in report.gaps)


@pytest.mark.slow
def test_flv_served_over_http_is_decoded(tmp_path: Path) -> None:
    convert(SAMPLE / "stream.ogg", tmp_path / "live.flv", "-c:a", "aac", "-ar", "44100", "-f", "flv")
    with http_server(tmp_path) as base:
        chunks = list(audio.read_chunks(f"{base}/live.flv", "flv"))
    check_contiguous(chunks)
    assert total_s(chunks) == pytest.approx(108.2, abs=0.2)


@pytest.mark.slow
def test_hls_playlist_served_over_http_is_decoded(tmp_path: Path) -> None:
    hls(SAMPLE / "stream.ogg", tmp_path / "hls", segment_s=2.0)
    with http_server(tmp_path) as base:
        url = f"{base}/hls/index.m3u8?token=secret"
        chunks = list(audio.read_chunks(url, "hls"))
    check_contiguous(chunks)
    assert total_s(chunks) == pytest.approx(108.2, abs=0.3)
    assert audio.describe(url).endswith("/hls/index.m3u8")  # query strings may carry tokens


@pytest.mark.slow
def test_rtmp_stream_is_decoded_as_it_plays_and_its_end_is_an_end() -> None:
    with rtmp_publisher(SPEECH, free_port()) as url:
        live = audio.DecodeOptions(open_timeout_s=10.0, read_timeout_s=2.0)  # opening probes ~all of it
        chunks = _retry_while_refused(lambda: list(audio.read_chunks(url, "rtmp", live, start_s=60.0)))
    assert chunks[0].offset_s == 60.0  # a reconnecting ingester carries on its offsets
    check_contiguous(chunks)
    assert total_s(chunks) == pytest.approx(3.7, abs=0.2)


def _retry_while_refused(read: Callable[[], list[audio.AudioChunk]]) -> list[audio.AudioChunk]:
    """The publisher needs a moment to listen; a probe connection would take its only client slot."""
    for _ in range(50):
        try:
            return read()
        except AudioError as exc:
            if "refused" not in str(exc):
                raise
            time.sleep(0.1)
    raise AssertionError("the RTMP publisher never listened")


def test_unreachable_urls_fail_fast_with_the_url_named(tmp_path: Path) -> None:
    with http_server(tmp_path) as base:
        with pytest.raises(AudioError, match=re.escape(f"{base}/nothing.flv")) as caught:
            list(audio.read_chunks(f"{base}/nothing.flv", "s1", FAST_FAIL))
        assert "Not Found" in str(caught.value) or "404" in str(caught.value)
    refused = f"http://127.0.0.1:{free_port()}/live.flv"
    with pytest.raises(AudioError, match=re.escape(refused)):
        list(audio.read_chunks(refused, "s1", FAST_FAIL))


def test_a_server_that_never_answers_times_out_instead_of_hanging() -> None:
    with silent_server() as url:
        started = time.monotonic()
        with pytest.raises(AudioError, match=re.escape(url)) as caught:
            list(audio.read_chunks(url, "s1", FAST_FAIL))
        elapsed = time.monotonic() - started
    assert "timed out" in str(caught.value)
    assert elapsed < 10


def _rss_mib() -> float:
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_an_hour_of_audio_is_decoded_in_constant_memory(tmp_path: Path) -> None:
    """3600 s at 16 kHz would be 115 MB of PCM; decoding must hold only a block at a time."""
    hour = generated(
        tmp_path / "hour.flac",
        "sine=frequency=220:sample_rate=22050:duration=3600",
        "-ac",
        "1",
        "-c:a",
        "flac",
    )
    rss: list[float] = []
    stop = threading.Event()

    def sample_rss() -> None:
        while not stop.wait(0.05):
            rss.append(_rss_mib())

    sampler = threading.Thread(target=sample_rss)
    baseline = _rss_mib()
    tracemalloc.start()
    sampler.start()
    try:
        seconds = sum(len(block) for block in audio.decode_pcm(hour)) / 16_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        stop.set()
        sampler.join()
        tracemalloc.stop()
    assert seconds == pytest.approx(3600, abs=0.1)
    assert peak < 4 * 1024 * 1024  # Python-side allocations: a few blocks of 1 s (32 kB each)
    assert max(rss) - baseline < 40  # MiB, against 115 MiB for the decoded hour


@pytest.mark.slow
def test_transcribe_of_damaged_audio_keeps_times_marks_segments_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first 30 s of the sample with 5 kB of noise at its middle: the segments after the lost
    stretch keep the intact file's times and carry it; the command says so and exits 1."""
    monkeypatch.setenv("CLAIMWATCH_DATA_DIR", str(tmp_path / "data"))
    whole = convert(SAMPLE / "stream.ogg", tmp_path / "whole.ogg", "-t", "30", "-c", "copy")
    damaged = damaged_in_the_middle(whole, tmp_path / "damaged.ogg", 5_000)
    runner = CliRunner()
    runs = {}
    for source in (whole, damaged):
        out = tmp_path / f"{source.stem}.jsonl"
        runs[source.stem] = runner.invoke(main, ["transcribe", str(source), "--out", str(out)])
        runs[f"{source.stem}.lines"] = [
            json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()
        ]
    assert runs["whole"].exit_code == 0, runs["whole"].output
    assert runs["damaged"].exit_code == 1, runs["damaged"].output
    assert "damaged audio: " in runs["damaged"].stderr
    _, report = _decoded(damaged)
    (gap,) = report.gaps
    later = [line for line in runs["damaged.lines"] if line["start"] > gap.start_s + gap.duration_s + 1]
    assert later
    # Whisper's times inside a piece move by tenths of a second when the piece differs (0.66 s seen
    # in CI); lines shifted by the lost stretch would be off by all of it (3 s)
    tolerance = gap.duration_s / 3
    assert tolerance >= 0.9
    for line in later:
        assert min(abs(w["start"] - line["start"]) for w in runs["whole.lines"]) < tolerance
        assert line["unreadable_before_s"] == pytest.approx(gap.duration_s, abs=0.02)
