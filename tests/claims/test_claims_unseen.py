"""bench/unseen.py: the rules of an old commit, and the collections they are measured on."""

from __future__ import annotations

import subprocess
from collections import Counter

from bench.unseen import BEFORE, ROOT, lines, old_rules
from pipeline.claims import load_detector
from pipeline.claims.evaluation import Example

REAL = ROOT / "tests" / "data" / "real"


def test_every_commit_named_is_in_the_history() -> None:
    for commit, _ in BEFORE.values():
        subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{commit}^{{commit}}"], check=True)


def test_each_collection_is_measured_and_learnt_from_as_the_corpus_says() -> None:
    counted = Counter(line.collection for line in lines(REAL))
    assert set(BEFORE) <= set(counted)
    assert counted["round4"] == 358
    for name, (_, before) in BEFORE.items():
        assert name not in before
        assert all(counted[b] for b in before)


def test_the_rules_of_a_commit_are_those_of_its_tree() -> None:
    """The rules of HEAD's tree, run in a child process, say what this checkout's detector says
    (the lexicons are committed; a change to them not yet committed would differ)."""
    texts = ["全网最低价", "这个能治疗高血压", "今天天气很好", "国宴专供", "小唐人都可以放心吃"]
    examples = [Example(id=str(i), text=t, labels=frozenset()) for i, t in enumerate(texts)]
    detector = load_detector()
    status = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "lexicons", "pipeline"],
        capture_output=True,
        text=True,
        check=True,
    )
    expected = [frozenset(c.category for c in detector.detect(t)) for t in texts]
    got = old_rules("HEAD", examples)
    if not status.stdout.strip():
        assert got == expected
    assert got[2] == frozenset()
    assert "price" in got[0]
    assert "authority" in got[3]
