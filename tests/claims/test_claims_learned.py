"""The learned second opinion (pipeline.claims.learned): trained on labelled lines, it proposes
categories with a span and a probability, deterministically, and never hides what the rules found."""

from __future__ import annotations

import json

import pytest

from pipeline.claims import Detector
from pipeline.claims.learned import LearnedModel, WithLearned, train
from tests.paths import DATA

AUTHORED = [
    json.loads(line) for line in (DATA / "claims" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
]


@pytest.fixture(scope="module")
def model(detector: Detector) -> LearnedModel:
    return train(
        [d["text"] for d in AUTHORED],
        [frozenset(d["labels"]) for d in AUTHORED],
        normalise=detector.normalise_text,
    )


def test_the_model_learns_the_lines_it_was_given(model: LearnedModel, detector: Detector) -> None:
    right = 0
    for line in AUTHORED:
        found = {c.category for c in model.claims(detector.normalise_text(line["text"]))}
        right += found == set(line["labels"])
    assert right / len(AUTHORED) > 0.7  # a fit, not a memory: regularised


def test_training_is_deterministic(model: LearnedModel, detector: Detector) -> None:
    again = train(
        [d["text"] for d in AUTHORED],
        [frozenset(d["labels"]) for d in AUTHORED],
        normalise=detector.normalise_text,
    )
    text = detector.normalise_text("这款面霜用了能美白祛斑")
    assert again.probabilities(text) == model.probabilities(text)


def test_a_proposed_claim_points_at_what_weighed_and_says_it_is_the_models(
    model: LearnedModel, detector: Detector
) -> None:
    both = WithLearned(detector, model)
    text = "姐妹们这个精华喝了皮肤白到发光，斑都没了"
    rules = {c.category for c in detector.detect(text)}
    claims = both.detect(text)
    assert {c.category for c in claims} >= rules  # the rules' claims are all there
    for claim in claims:
        assert text[claim.start : claim.end] == claim.term
        if claim.rule_id.startswith("LEARNED-"):
            assert claim.category not in rules
            assert claim.extra["model"] == "learned"
            assert 0.0 <= claim.extra["probability"] <= 1.0
            assert claim.legal_basis


def test_a_claim_free_line_stays_claim_free(model: LearnedModel, detector: Detector) -> None:
    both = WithLearned(detector, model)
    assert both.detect("家人们晚上好，欢迎来到直播间") == []
