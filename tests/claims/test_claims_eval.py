"""Evaluation: the metrics themselves, and the done-when figures of issue 3 on dev.jsonl.

tests/data/claims/dev.jsonl is a copy of ../shared/data/claims/dev.jsonl (see its README.md).
"""

from __future__ import annotations

import pytest

from pipeline.claims import load_detector
from pipeline.claims.evaluation import Example, Report, evaluate, format_report, parse_example, read_examples
from pipeline.errors import RecordError
from tests.paths import DATA

DEV = DATA / "claims" / "dev.jsonl"


def test_dev_set_thresholds() -> None:
    examples = [example for _, example in read_examples(DEV)]
    assert all(isinstance(e, Example) for e in examples)
    report = evaluate(load_detector(), [e for e in examples if isinstance(e, Example)])
    assert report.examples == 640
    assert report.macro_f1 >= 0.92, format_report(report)
    assert report.binary_scores.f1 >= 0.95, format_report(report)
    assert report.flagged_share <= 0.04, format_report(report)


def test_report_counts() -> None:
    report = Report()
    report.add(Example("1", "a", frozenset({"price", "absolute"})), frozenset({"price"}))
    report.add(Example("2", "b", frozenset()), frozenset({"medical"}))
    report.add(Example("3", "c", frozenset()), frozenset())
    report.add(Example("4", "d", frozenset({"medical"})), frozenset({"medical"}))
    assert report.scores("price").f1 == 1.0
    assert report.scores("absolute").recall == 0.0
    assert report.scores("medical").precision == 0.5
    assert report.binary_scores.precision == pytest.approx(2 / 3)
    assert report.flagged_share == 0.5
    assert report.confusions["none", "medical"] == 1
    assert report.confusions["absolute", "price"] == 1
    assert len(report.errors) == 2
    text = format_report(report, errors=5)
    assert "macro-F1" in text
    assert '"id": "2"' in text


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"id": "x", "labels": []}, "text"),
        ({"id": "x", "text": "t", "labels": "price"}, "labels"),
        ({"id": "x", "text": "t", "labels": ["prices"]}, "labels"),
        ({"id": "x", "text": "t", "labels": [], "source": "tv"}, "source"),
    ],
)
def test_a_bad_labelled_line_names_its_field(line: dict[str, object], field: str) -> None:
    with pytest.raises(RecordError) as error:
        parse_example(line)
    assert error.value.field == field


def test_spoken_means_speech() -> None:
    assert parse_example({"id": "x", "text": "t", "labels": [], "source": "spoken"}).source == "speech"
    assert parse_example({"id": "x", "text": "t", "labels": []}).source == "speech"
