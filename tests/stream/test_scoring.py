"""Scoring speech violations against a scenario's script: by sentence, and localisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.records import Violation
from pipeline.stream.scoring import Utterance, score_speech, scored_to, utterances_of

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SCRIPT = [
    Utterance(0.0, 4.0, frozenset()),
    Utterance(4.5, 8.0, frozenset({"medical"})),
    Utterance(8.6, 12.0, frozenset({"absolute", "price"})),
]


def said(
    category: str, start: float, end: float, *, kind: str = "claim", source: str = "speech"
) -> Violation:
    return Violation(
        event_id=f"{category}-{start}", stream_id="s", anchor_id="a", mcn_id="m", kind=kind,  # type: ignore[arg-type]
        category=category, severity="high", ts=T0 + timedelta(seconds=start), offset_s=start,
        end_offset_s=end, source=source,  # type: ignore[arg-type]
    )  # fmt: skip


def test_each_violation_counts_for_the_sentence_it_overlaps_most() -> None:
    assert scored_to(SCRIPT, 3.5, 7.9) == 1  # 0.5 s in the first, 3.4 s in the second
    assert scored_to(SCRIPT, 8.1, 8.3) == 1  # in the pause: the nearest sentence
    assert scored_to(SCRIPT, 8.4, 8.5) == 2
    score = score_speech(SCRIPT, [said("medical", 4.6, 8.0), said("price", 8.6, 12.2), said("price", 9, 12)])
    assert (score.expected, score.found, score.correct) == (3, 2, 2)  # a claim raised twice counts once
    assert score.precision == 1.0
    assert score.recall == pytest.approx(2 / 3)
    assert score.f1 == pytest.approx(0.8)


def test_a_claim_in_the_wrong_sentence_is_wrong_and_checks_are_not_scored() -> None:
    score = score_speech(
        SCRIPT,
        [said("medical", 0.0, 4.0), said("efficacy_without_registration", 4.5, 8.0, kind="check"),
         said("price", 8.6, 12.0, source="listing")],
    )  # fmt: skip
    assert (score.found, score.correct, score.violations) == (1, 0, 1)
    assert score.f1 == 0.0


def test_localised_means_within_the_sentence_give_or_take_the_tolerance() -> None:
    whole_piece = said("medical", 0.0, 8.0)  # the piece of two sentences: starts 4.5 s early
    sentence = said("absolute", 8.2, 12.9)
    clause = said("price", 8.6, 10.0)  # a clause of the sentence: within it
    score = score_speech(SCRIPT, [whole_piece, sentence, clause])
    assert (score.violations, score.localised) == (3, 2)
    assert score.localised_share == pytest.approx(2 / 3)
    assert score_speech(SCRIPT, [whole_piece], tolerance_s=5.0).localised == 1


def test_a_faster_stream_scales_its_timeline() -> None:
    timeline = {"segments": [{"start": 1.2, "end": 2.4, "labels": ["price"]}]}
    (u,) = utterances_of(timeline, time_scale=1 / 1.2)
    assert (u.start, u.end, u.labels) == (pytest.approx(1.0), pytest.approx(2.0), frozenset({"price"}))
    with pytest.raises(ValueError, match="without utterances"):
        score_speech([], [])
