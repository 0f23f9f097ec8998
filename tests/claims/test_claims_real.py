"""The real-world corpus (tests/data/real): every line traceable, the split by document, and the
detector's figures on it (measured on the held-out part, never tuned on it: docs/claims.md)."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict

import pytest

from pipeline.claims import load_detector
from pipeline.claims.evaluation import KINDS, evaluate, parse_example
from pipeline.claims.lexicon import CATEGORIES
from tests.paths import DATA

REAL = DATA / "real"
LINES = [
    json.loads(line) for path in sorted(REAL.glob("*.jsonl")) for line in path.read_text("utf-8").splitlines()
]
FIELDS = {
    "id",
    "text",
    "labels",
    "source",
    "kind",
    "part",
    "doc",
    "url",
    "title",
    "licence",
    "note",
    "annotation",
}


def hashed_part(doc: str) -> str:
    """The split of the first collection: a document is held out when its hash's first byte < 128."""
    return "heldout" if hashlib.blake2b(doc.encode(), digest_size=8).digest()[0] < 128 else "dev"


def test_every_line_is_traceable_and_labelled_with_the_taxonomy() -> None:
    assert len(LINES) >= 1500
    assert len({line["id"] for line in LINES}) == len(LINES)
    assert len({line["text"] for line in LINES}) == len(LINES)
    for line in LINES:
        assert set(line) >= FIELDS, line["id"]
        assert all(line[field] for field in ("url", "doc", "annotation")), line["id"]
        assert set(line["labels"]) <= set(CATEGORIES), line["id"]
        assert line["kind"] in set(KINDS) - {"authored"}, line["id"]
        parse_example(line)


def test_the_split_is_by_document() -> None:
    parts: dict[str, set[str]] = defaultdict(set)
    for line in LINES:
        parts[line["doc"]].add(line["part"])
        # later collections only ever add development lines
        expected = "dev" if line.get("collection", 1) > 1 else hashed_part(line["doc"])
        assert line["part"] == expected, line["id"]
    assert all(len(p) == 1 for p in parts.values())
    held = [line for line in LINES if line["part"] == "heldout"]
    assert len(held) >= 1000
    assert {line["kind"] for line in held} == set(KINDS) - {"authored"}


@pytest.mark.parametrize("kind", sorted(set(KINDS) - {"authored"}))
def test_each_kind_has_both_parts(kind: str) -> None:
    assert {line["part"] for line in LINES if line["kind"] == kind} == {"dev", "heldout"}


def figures(part: str) -> dict[str, object]:
    report = evaluate(load_detector(), [parse_example(line) for line in LINES if line["part"] == part])
    return report.summary()


# Floors under the figures measured on 2026-12-03 (docs/claims.md): a change that loses ground on
# material nobody tuned on fails here. They are floors, not targets: the targets of issue 13 (0.85,
# 0.80, 5 %) are not met, and raising a floor means measuring again, never reading held-out lines.
HELDOUT_FLOORS = {"binary_f1": 0.66, "macro_f1": 0.61}
HELDOUT_MOST_FLAGGED = 0.115
DEV_FLOORS = {"binary_f1": 0.85, "macro_f1": 0.81}


def test_the_detector_holds_its_ground_on_the_held_out_and_development_parts() -> None:
    heldout, dev = figures("heldout"), figures("dev")
    assert heldout["examples"] == 1168  # the held-out part is what it was at the first look
    for key, floor in HELDOUT_FLOORS.items():
        assert heldout[key] >= floor, (key, heldout[key])
    assert heldout["no_claim_flagged"] <= HELDOUT_MOST_FLAGGED, heldout["no_claim_flagged"]
    for key, floor in DEV_FLOORS.items():
        assert dev[key] >= floor, (key, dev[key])


ROUND4 = [
    json.loads(line)
    for path in sorted((REAL / "round4").glob("*.jsonl"))
    for line in path.read_text("utf-8").splitlines()
]


def test_the_fourth_collection_is_held_out_from_documents_the_corpus_never_had() -> None:
    # tests/data/real/round4: a fresh held-out collection (docs/claims.md), measured, never tuned on
    assert len(ROUND4) >= 300
    assert len({line["id"] for line in ROUND4}) == len(ROUND4)
    known_docs = {line["doc"] for line in LINES} | {line["url"] for line in LINES}
    known_texts = {line["text"] for line in LINES}
    texts: set[str] = set()
    for line in ROUND4:
        assert set(line) >= FIELDS, line["id"]
        assert line["part"] == "heldout", line["id"]
        assert line["collection"] == 4, line["id"]
        assert set(line["labels"]) <= set(CATEGORIES), line["id"]
        assert line["doc"] not in known_docs, line["id"]
        assert line["url"] not in known_docs, line["id"]
        assert line["text"] not in known_texts, line["id"]
        assert line["text"] not in texts, line["id"]
        texts.add(line["text"])
        parse_example(line)
