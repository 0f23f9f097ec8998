"""Segmentation: the token boundaries ClaimWatch computes itself are jieba's, on real text."""

from __future__ import annotations

import json
import random
from itertools import accumulate

import pytest

from pipeline.claims import load_detector
from pipeline.claims.segment import WORD_RUN, JiebaTokenizer, Segmentation
from tests.paths import DATA


@pytest.fixture(scope="module")
def tokenizer() -> JiebaTokenizer:
    return load_detector()._tokenizer


def _runs() -> list[str]:
    """Every run of words in the real corpus and the authored cases, and mixed Latin and digits."""
    texts = [
        json.loads(line)["text"]
        for path in sorted((DATA / "real").glob("*.jsonl"))
        for line in path.read_text("utf-8").splitlines()
    ]
    texts += [
        json.loads(line)["text"] for line in (DATA / "claims_cases.jsonl").read_text("utf-8").splitlines()
    ]
    rng = random.Random(7)
    alphabet = "最好第一纯天然a1b2x.%-_#降血压糖美白祛斑ABCZ0那个就是说"
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(500)]
    return [m.group() for text in texts for m in WORD_RUN.finditer(text)]


def test_cuts_are_the_boundaries_of_jiebas_words(tokenizer: JiebaTokenizer) -> None:
    runs = _runs()
    assert len(runs) > 3000
    wrong = [
        run for run in runs if tokenizer.cuts(run) != [0, *accumulate(len(w) for w in tokenizer.words(run))]
    ]
    assert wrong == []


def test_aligned_means_whole_jieba_words(tokenizer: JiebaTokenizer) -> None:
    text = "这个面霜能美白祛斑，喝了以后降血压"
    segmentation = Segmentation(text, tokenizer)
    bounds = set(accumulate(len(w) for w in tokenizer.words(text)))
    for start in range(len(text)):
        for end in range(start + 1, len(text) + 1):
            if start in bounds | {0} and end in bounds:
                assert segmentation.aligned(start, end), (start, end)
    assert not segmentation.aligned(text.index("美白") + 1, text.index("祛斑") + 2)
