"""The sample scenario (pipeline/sample, from ../shared/data/sample) as a test of the checks.

The utterances of script.json with their times from timeline.json stand in for the transcript until
speech is wired in. The scenario must raise exactly expected.json's checks, whichever order the
listing events and the (lagging) transcript arrive in, with the stand-in detector and with the real
one once ``pipeline.claims`` exists.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from pipeline.checks.listing import ClaimDetector, ListingChecker
from pipeline.jsonl import read_records
from pipeline.ledger.files import read_ledger
from pipeline.ledger.qualifications import load_rules
from pipeline.records import ListingEvent, TranscriptSegment, Violation, decode, parse_datetime
from pipeline.sample import SAMPLE_DIR
from tests.fake_detector import FakeDetector

SAMPLE = SAMPLE_DIR
TIMELINE = json.loads((SAMPLE / "timeline.json").read_text(encoding="utf-8"))
EXPECTED = json.loads((SAMPLE / "expected.json").read_text(encoding="utf-8"))
STARTED_AT = parse_datetime(TIMELINE["started_at"])


def _real_detector() -> ClaimDetector:
    if importlib.util.find_spec("pipeline.claims") is None:
        pytest.skip("pipeline.claims (the real detector) is not there yet")
    from pipeline.claims import load_detector  # type: ignore[import-not-found,unused-ignore]

    detector: ClaimDetector = load_detector()
    return detector


DETECTORS: dict[str, Callable[[], ClaimDetector]] = {"fake": FakeDetector, "real": _real_detector}


def listings() -> list[ListingEvent]:
    read = list(read_records(SAMPLE / "listings.jsonl", lambda obj: decode(ListingEvent, obj)))
    events = [event for _, event in read]
    assert all(isinstance(e, ListingEvent) for e in events), events
    return [e for e in events if isinstance(e, ListingEvent)]


def transcript() -> list[TranscriptSegment]:
    stream = TIMELINE["stream_id"]
    return [
        TranscriptSegment(f"{stream}-{i}", stream, seg["start"], seg["end"], seg["text"])
        for i, seg in enumerate(TIMELINE["segments"])
    ]


def run(detector: ClaimDetector, order: str) -> list[Violation]:
    rules = load_rules()
    ledger = read_ledger(SAMPLE / "ledger.csv", rules, mcn_id=TIMELINE["mcn_id"])
    assert ledger.errors == ()
    checker = ListingChecker(rules, detector)
    checker.ledger.put_all(ledger.entries)
    if order == "by_time":
        return checker.replay(TIMELINE["stream_id"], STARTED_AT, listings(), transcript())
    # every listing event before any speech: the worst transcription lag
    checker.on_stream(TIMELINE["stream_id"], STARTED_AT)
    out = [v for event in listings() for v in checker.on_listing(event)]
    return out + [v for segment in transcript() for v in checker.on_segment(segment)]


@pytest.mark.parametrize("order", ["by_time", "transcript_lags"])
@pytest.mark.parametrize("detector", list(DETECTORS))
def test_sample_raises_exactly_the_expected_checks(detector: str, order: str) -> None:
    violations = run(DETECTORS[detector](), order)
    got = sorted((v.listing_id or "", v.kind, v.category) for v in violations)
    want = sorted((c["listing_id"], c["kind"], c["category"]) for c in EXPECTED["checks"])
    assert got == want


def test_sample_violations_carry_times_and_evidence() -> None:
    by_category = {v.category: v for v in run(FakeDetector(), "by_time")}
    off = by_category["off_ledger"]
    assert (off.listing_id, off.product_id, off.source, off.offset_s) == ("L3", None, "listing", 0.0)
    assert off.evidence.listing.title == "20000毫安快充充电宝"
    assert off.evidence.ledger_row is None
    efficacy = by_category["efficacy_without_registration"]
    segment = TIMELINE["segments"][6]
    assert (efficacy.source, efficacy.listing_id, efficacy.product_id) == ("speech", "L1", "P-1001")
    assert (efficacy.offset_s, efficacy.end_offset_s) == (segment["start"], segment["end"])
    assert efficacy.ts == STARTED_AT + timedelta(seconds=segment["start"])
    assert efficacy.text == segment["text"]
    assert efficacy.evidence.ledger_row.qualifications[0].type == "cosmetics_filing"
    assert efficacy.mcn_id == "mcn-starlight"
    assert efficacy.anchor_id == "anchor-xiaomei"


def test_sample_event_ids_are_deterministic() -> None:
    first = [v.event_id for v in run(FakeDetector(), "by_time")]
    assert first == [v.event_id for v in run(FakeDetector(), "by_time")]
    assert sorted(first) == sorted(v.event_id for v in run(FakeDetector(), "transcript_lags"))
