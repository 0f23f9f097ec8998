"""Our own claim cases, hard negatives above all: tests/data/claims_cases.jsonl.

Each line is ``{"text", "expected", "explanation", "source"?}``; a failure prints why the case
exists. The detector was not tuned against dev.jsonl alone: these cases stand for the unseen
utterances it will meet (ASR homophones, ordinal and quantity uses, SAMR carve-outs).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline.claims import load_detector
from tests.paths import DATA

CASES = DATA / "claims_cases.jsonl"


def _cases() -> list[Any]:
    lines = CASES.read_text(encoding="utf-8").splitlines()
    return [
        pytest.param(case, id=f"{n}:{case['text'][:12]}")
        for n, case in enumerate((json.loads(line) for line in lines if line.strip()), start=1)
    ]


@pytest.mark.parametrize("case", _cases())
def test_claim_case(case: dict[str, Any]) -> None:
    claims = load_detector().detect(case["text"], source=case.get("source", "speech"))
    detected = sorted({c.category for c in claims})
    assert detected == sorted(case["expected"]), f"{case['text']}: {case['explanation']}"


def test_the_cases_are_well_formed() -> None:
    for case in (json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines()):
        assert set(case) <= {"text", "expected", "explanation", "source"}, case
        assert case["explanation"], case
        assert isinstance(case["expected"], list), case
