"""The leave-sources-out cross-validation of the learned policies (pipeline.claims.crossval): a
fold never holds part of a source, thresholds come from the training folds, the policies do what
they say, and everything is deterministic. Only development lines of tests/data/real are read."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.claims import Detector
from pipeline.claims.crossval import (
    NEVER,
    Observation,
    Policy,
    choose,
    cross_validate,
    folds,
    observe,
    source_groups,
)
from pipeline.claims.evaluation import Example, data_files, read_examples
from pipeline.claims.learned import FeatureModel, ngrams, train_features
from pipeline.claims.lexicon import CATEGORIES
from pipeline.commands.main import main
from tests.paths import DATA

REAL = DATA / "real"


def dev_lines() -> list[Example]:
    """The development part of the real corpus (held-out lines are never read here)."""
    lines = [e for path in data_files(REAL) for _, e in read_examples(path) if isinstance(e, Example)]
    return [e for e in lines if e.part == "dev"]


def test_lines_sharing_a_doc_or_a_url_are_one_source_transitively() -> None:
    lines = [
        Example("a", "x", frozenset(), doc="d1", url="u1"),
        Example("b", "x", frozenset(), doc="d2", url="u1"),  # same page as a
        Example("c", "x", frozenset(), doc="d2", url="u2"),  # same document as b
        Example("d", "x", frozenset(), doc="d3", url="u3"),
        Example("e", "x", frozenset()),  # no provenance: a source of its own
        Example("f", "x", frozenset()),
    ]
    groups = source_groups(lines)
    assert groups[0] == groups[1] == groups[2]
    assert len({groups[0], groups[3], groups[4], groups[5]}) == 4


def test_no_fold_of_the_development_part_shares_a_document_or_a_page_with_another() -> None:
    lines = dev_lines()
    fold_of = folds(lines, 5)
    assert set(fold_of) == set(range(5))
    for key in ("doc", "url"):
        seen: dict[str, set[int]] = {}
        for line, fold in zip(lines, fold_of, strict=True):
            seen.setdefault(getattr(line, key), set()).add(fold)
        assert all(len(f) == 1 for f in seen.values()), key
    sizes = [fold_of.count(f) for f in range(5)]
    assert max(sizes) - min(sizes) <= max(len(g) for g in _groups(lines))  # balanced to one source


def _groups(lines: list[Example]) -> list[list[int]]:
    out: dict[int, list[int]] = {}
    for i, g in enumerate(source_groups(lines)):
        out.setdefault(g, []).append(i)
    return list(out.values())


def test_folds_do_not_depend_on_the_order_of_the_lines() -> None:
    lines = dev_lines()
    shuffled = lines[:]
    random.Random(7).shuffle(shuffled)
    before = dict(zip((e.id for e in lines), folds(lines, 4), strict=True))
    after = dict(zip((e.id for e in shuffled), folds(shuffled, 4), strict=True))
    assert before == after


def test_too_few_sources_for_the_folds_is_an_error() -> None:
    lines = [Example(str(i), "x", frozenset(), doc="one") for i in range(10)]
    with pytest.raises(ValueError, match="1 source groups cannot fill 3 folds"):
        folds(lines, 3)


@pytest.fixture(scope="module")
def authored_model(detector: Detector) -> FeatureModel:
    lines = [json.loads(line) for line in (DATA / "claims" / "dev.jsonl").read_text("utf-8").splitlines()]
    return train_features(
        [[g for g, _ in ngrams(detector.normalise_text(d["text"]))] for d in lines],
        [frozenset(d["labels"]) for d in lines],
        steps=100,
    )


def _probabilities(model: FeatureModel, o: Observation) -> list[float]:
    return [float(p) for p in model.probabilities(g for g, _ in ngrams(o.text))]


def test_a_veto_drops_a_rule_category_scored_below_it_and_keeps_the_rest(
    detector: Detector, authored_model: FeatureModel
) -> None:
    o = observe(detector, Example("m", "全网最低价，这款面霜美白效果特别好", frozenset()))
    assert o.rules, "the rules flag this line"
    p = _probabilities(authored_model, o)
    for category in o.rules:
        score = p[CATEGORIES.index(category)]
        assert category in Policy("v", veto=score).apply(o.rules, o.near, p)
        vetoed = Policy("v", veto=score + 1e-9).apply(o.rules, o.near, p)
        assert category not in vetoed
        assert vetoed == {c for c in o.rules if p[CATEGORIES.index(c)] >= score + 1e-9}


def test_an_addition_comes_at_its_threshold_and_only_near_a_candidate_when_asked(
    detector: Detector, authored_model: FeatureModel
) -> None:
    o = observe(detector, Example("e", "姐妹们这个精华喝了皮肤白到发光，斑都没了", frozenset()))
    p = _probabilities(authored_model, o)
    missing = [c for c in CATEGORIES if c not in o.rules]
    top = max(missing, key=lambda c: p[CATEGORIES.index(c)])
    score = p[CATEGORIES.index(top)]
    assert top in Policy("a", add=score).apply(o.rules, o.near, p)
    assert top not in Policy("a", add=score + 1e-9).apply(o.rules, o.near, p)
    assert Policy("a").apply(o.rules, o.near, p) == o.rules  # no threshold: the rules as they are
    near = Policy("c", add=score, near_only=True).apply(o.rules, o.near, p)
    assert (top in near) == (top in o.near)
    assert Policy("c", add=score, near_only=True).apply(o.rules, frozenset({top}), p) >= {top}


def test_a_chosen_threshold_never_flags_more_claim_free_lines_than_the_rules_where_chosen(
    detector: Detector, authored_model: FeatureModel
) -> None:
    observations = [observe(detector, e) for e in dev_lines()[:600]]
    p = [_probabilities(authored_model, o) for o in observations]
    rules_flagged = sum(bool(o.rules) for o in observations if not o.example.labels)
    for policy in (Policy("a", tune=("add",)), Policy("ab", tune=("add", "veto"))):
        chosen = choose(policy, observations, p)  # type: ignore[arg-type]
        flagged = sum(
            bool(chosen.apply(o.rules, o.near, q))
            for o, q in zip(observations, p, strict=True)
            if not o.example.labels
        )
        assert flagged <= rules_flagged
        assert chosen.add in (
            NEVER,
            *[0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99],
        )


@pytest.mark.slow
def test_the_cross_validation_is_deterministic_and_rules_alone_is_the_rules(detector: Detector) -> None:
    lines = dev_lines()[::6]
    observations = [observe(detector, e) for e in lines]
    policies = (Policy("rules alone"), Policy("(a)", tune=("add",)), Policy("(b)", tune=("veto",)))
    runs = [cross_validate(observations, policies=policies, k=3, inner=2, steps=40) for _ in range(2)]
    assert runs[0].chosen == runs[1].chosen
    for name in runs[0].reports:
        assert runs[0].reports[name].summary() == runs[1].reports[name].summary()
    rules = runs[0].reports["rules alone"]
    assert rules.examples == len(lines)
    flagged = sum(bool(detector.detect(e.text, source=e.source)) for e in lines if not e.labels)
    assert rules.no_claim_flagged == flagged


def test_the_eval_command_cross_validates_development_lines_only(tmp_path: Path) -> None:
    texts = ["全网最低价", "这款面霜能美白", "家人们晚上好", "央视推荐的好产品", "包治百病", "欢迎来到直播间"]
    lines = [
        {"id": f"{i}", "text": t, "labels": [], "part": "dev", "doc": f"doc{i % 3}", "url": f"u{i}"}
        for i, t in enumerate(texts * 3)
    ]
    lines.append({"id": "h", "text": "最好", "labels": [], "part": "heldout", "doc": "h", "url": "h"})
    data = tmp_path / "lines.jsonl"
    data.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), "utf-8")
    runner = CliRunner()
    result = runner.invoke(
        main, ["eval", "claims", "--data", str(data), "--part", "dev", "--cv", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.splitlines()[-1])
    assert {r["examples"] for r in figures["results"]} == {len(texts) * 3}  # the held-out line left out
    assert "rules alone" in {r["policy"] for r in figures["results"]}
    refused = runner.invoke(main, ["eval", "claims", "--data", str(data), "--part", "heldout", "--cv", "3"])
    assert refused.exit_code == 2
    assert "never on the held-out part" in refused.output
