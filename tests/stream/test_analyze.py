"""`claimwatch analyze` in-process (pipeline.stream.analyze): the sample through the worker's
stages, bad input reported and skipped, the same ids on every run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.records import StreamInfo
from pipeline.sample import load_sample
from pipeline.speech import models
from pipeline.stream.analyze import Analysis, analyze, read_listings, stage_context
from tests.audio_sources import damaged_in_the_middle

pytestmark = pytest.mark.slow

SAMPLE = load_sample()
INFO = StreamInfo(SAMPLE.stream_id, SAMPLE.anchor_id, SAMPLE.mcn_id, SAMPLE.started_at)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> models.LoadedModel:
    return models.load(load_settings(data_dir=tmp_path_factory.mktemp("analyze-data")))


def run(
    model: models.LoadedModel, tmp: Path, listings: Path, progress: list[float] | None = None
) -> Analysis:
    seen = progress if progress is not None else []
    return analyze(
        load_settings(data_dir=tmp), audio=SAMPLE.audio, listings=listings, ledger=SAMPLE.ledger, info=INFO,
        model=model, progress=seen.append,
    )  # fmt: skip


def test_bad_listing_lines_are_reported_and_the_rest_analysed(
    model: models.LoadedModel, tmp_path: Path
) -> None:
    lines = SAMPLE.listings.read_text(encoding="utf-8").splitlines()
    listings = tmp_path / "listings.jsonl"
    listings.write_text("\n".join([lines[0], '{"event": "explain"}', *lines[1:]]) + "\n", encoding="utf-8")
    progress: list[float] = []
    done = run(model, tmp_path, listings, progress)
    assert [(e.line, e.field) for e in done.errors] == [(2, "ts")]
    assert progress == sorted(progress)
    assert progress[-1] == pytest.approx(done.segments[-1].end_offset_s, abs=2.0)
    checks = {(v.listing_id, v.category) for v in done.violations if v.kind != "claim"}
    assert checks == {(c["listing_id"], c["category"]) for c in SAMPLE.expected["checks"]}
    assert [v.offset_s for v in done.violations] == sorted(v.offset_s for v in done.violations)
    assert all(v.source == "speech" for v in done.violations if v.kind == "claim")


def test_the_same_recording_gives_the_same_violations(model: models.LoadedModel, tmp_path: Path) -> None:
    first = run(model, tmp_path, SAMPLE.listings)
    again = run(model, tmp_path, SAMPLE.listings)
    assert [v.event_id for v in first.violations] == [v.event_id for v in again.violations]
    assert [s.segment_id for s in first.segments] == [s.segment_id for s in again.segments]
    assert len({v.event_id for v in first.violations}) == len(first.violations)


def test_violations_after_unreadable_audio_keep_their_times_and_are_marked(
    model: models.LoadedModel, tmp_path: Path
) -> None:
    """53.0-60.0 s of the recording cannot be read: the claims heard after it keep the times they
    have in the intact recording (the one at 72.2 s is not put at 65.2 s) and say that 7 s of
    audio before them were unreadable; those before it are unmarked."""
    settings = load_settings(data_dir=tmp_path)
    damaged = damaged_in_the_middle(SAMPLE.audio, tmp_path / "damaged.ogg")
    intact, done = (
        analyze(settings, audio=audio, listings=SAMPLE.listings, ledger=SAMPLE.ledger, info=INFO, model=model)
        for audio in (SAMPLE.audio, damaged)
    )
    assert done.audio.summary() == "7.0 s of audio unreadable at 53.0 s"
    heard = [v for v in done.violations if v.source == "speech"]
    later = [v for v in heard if v.offset_s > 60.0]
    assert later
    assert any(abs(v.offset_s - 72.2) < 1.0 for v in later)
    for v in later:
        same = [w for w in intact.violations if w.category == v.category and w.source == "speech"]
        assert min(abs(w.offset_s - v.offset_s) for w in same) < 0.1, v
        assert v.evidence.unreadable_before_s == pytest.approx(7.0, abs=0.02)
    assert all(v.evidence.unreadable_before_s == 0.0 for v in heard if v.offset_s < 53.0)
    assert not intact.audio.damaged


def test_stage_context_is_the_listing_on_stage_at_each_offset() -> None:
    events, errors = read_listings(SAMPLE.listings)
    assert not errors
    context = stage_context(INFO, events)
    on_stage = [(e.ts - INFO.started_at).total_seconds() for e in events if e.event == "explain"]
    assert len(on_stage) >= 2
    titles = {f"{e.title} {e.brand}" for e in events}
    assert on_stage[0] > 1.0
    assert context(on_stage[0] - 0.5) == ""  # nothing on stage yet
    seen = [context(at + 0.1) for at in on_stage]
    assert all(text in titles for text in seen)
    assert len(set(seen)) == len(seen)  # each presentation changes the context
    other = StreamInfo("another-stream", INFO.anchor_id, INFO.mcn_id, INFO.started_at)
    assert stage_context(other, events)(on_stage[-1] + 1.0) == ""  # another stream's stage is not its own


def test_a_listing_line_naming_another_mcn_is_a_bad_line_of_the_file(tmp_path: Path) -> None:
    lines = SAMPLE.listings.read_text(encoding="utf-8").splitlines()
    spoofed = json.loads(lines[1])
    spoofed["mcn_id"] = "mcn-other"
    lines[1] = json.dumps(spoofed, ensure_ascii=False)
    path = tmp_path / "listings.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    events, errors = read_listings(path, info=INFO)
    assert len(events) == len(lines) - 1
    (error,) = errors
    assert (error.line, error.field) == (2, "mcn_id")
    assert "mcn-other" in str(error)
    assert INFO.mcn_id in str(error)
    assert len(read_listings(path)[0]) == len(lines)  # without a registration: read as it says
