"""Leave-sources-out cross-validation of the rules with a learned second opinion (issue 13).

The rules are fixed; what is cross-validated is the learned model and the policy that combines
its probabilities with the rules' claims. Lines are grouped by source (a line's ``doc`` and its
``url``: two lines sharing either are in one group, transitively), and a fold never holds part of
a group, for the reason the corpus is split by source: lines of one document share wordings, and a
model trained on some of them recognises the rest. Thresholds are chosen inside the training folds
(an inner cross-validation over their own groups), never on the fold measured.

A policy (:class:`Policy`) says how the model's per-category probabilities change what the rules
report: add a category at or above a probability (``add``), perhaps only where the rules saw a
near-candidate of it (``near_only``: a lexicon term its context rules out, a knowledge-list name),
and veto a rule's category the model scores below a probability (``veto``).
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pipeline.claims.detector import Detector
from pipeline.claims.evaluation import Example, Report
from pipeline.claims.learned import FeatureModel, Floats, ngrams, train_features
from pipeline.claims.lexicon import CATEGORIES

NEVER = math.inf  # an ``add`` threshold that adds nothing


@dataclass(frozen=True, slots=True)
class Observation:
    """One labelled line and what the rules made of it, computed once for every fold."""

    example: Example
    text: str  # normalised as the detector reads it
    words: tuple[str, ...]  # jieba's words of the normalised text (the detector's dictionary)
    rules: frozenset[str]  # the categories the rules report
    near: frozenset[str]  # categories of candidates the rules found and judged no claim
    signals: tuple[str, ...]  # what the rules saw: hit:<rule>, miss:<rule>, why:<reason>


def observe(detector: Detector, example: Example) -> Observation:
    """What the rules report for ``example`` and what they considered."""
    normalised = detector.normalised(example.text, source=example.source).text
    rules = frozenset(c.category for c in detector.detect(example.text, source=example.source))
    verdicts = detector.explain(example.text, source=example.source)
    near = frozenset(v.candidate.entry.category for v in verdicts if v.reason is not None) - rules
    signals: list[str] = []
    for v in verdicts:
        if v.reason is None:
            signals.append(f"hit:{v.candidate.entry.rule_id}")
        else:
            signals += [f"miss:{v.candidate.entry.rule_id}", f"why:{v.reason.split(' ')[0]}"]
    words = tuple(detector._tokenizer.words(normalised))  # the detector's jieba, lexicon words included
    return Observation(example, normalised, words, rules, near, tuple(signals))


# ---- features -------------------------------------------------------------------------------


def char_features(o: Observation) -> list[str]:
    """Character 1- to 3-grams (the learned model as it stood)."""
    return [g for g, _ in ngrams(o.text)]


def word_features(o: Observation) -> list[str]:
    """Character n-grams, and jieba's words and word pairs."""
    words = [w for w in o.words if w.strip()]
    pairs = [f"{a}|{b}" for a, b in itertools.pairwise(words)]
    return [*char_features(o), *(f"w:{w}" for w in words), *(f"w2:{p}" for p in pairs)]


def rule_features(o: Observation) -> list[str]:
    """Character n-grams, and what the rules saw (each rule hit, near-miss and the reason)."""
    return [*char_features(o), *(f"r:{s}" for s in o.signals)]


def word_rule_features(o: Observation) -> list[str]:
    return [*word_features(o), *(f"r:{s}" for s in o.signals)]


FEATURES: dict[str, Callable[[Observation], list[str]]] = {
    "char": char_features,
    "char+word": word_features,
    "char+rule": rule_features,
    "char+word+rule": word_rule_features,
}


# ---- policies -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Policy:
    """How the model's probabilities change the rules' categories.

    ``add``: a category the rules did not report is added at this probability or above (NEVER: no
    additions); ``near_only``: only where the rules saw a near-candidate of that category;
    ``veto``: a category the rules reported is dropped below this probability (0: no veto).
    ``tune`` names what the inner cross-validation chooses (``add``, ``veto``).
    """

    name: str
    add: float = NEVER
    veto: float = 0.0
    near_only: bool = False
    tune: tuple[str, ...] = ()
    use_rules: bool = True  # False: the model alone (categories at ``add`` or above)

    def apply(
        self, rules: frozenset[str], near: frozenset[str], probabilities: Sequence[float]
    ) -> frozenset[str]:
        """The categories reported for a line the rules gave ``rules`` (and saw ``near``)."""
        if not self.use_rules:
            rules = frozenset()
        out = set()
        for i, category in enumerate(CATEGORIES):
            p = probabilities[i]
            if category in rules:
                if p >= self.veto:
                    out.add(category)
            elif p >= self.add and (not self.near_only or category in near):
                out.add(category)
        return frozenset(out)

    def describe(self) -> str:
        parts = []
        if self.add != NEVER:
            parts.append(f"add>={self.add:g}" + (" near" if self.near_only else ""))
        if self.veto:
            parts.append(f"veto<{self.veto:g}")
        if not self.use_rules:
            parts.append("no rules")
        return ", ".join(parts) or "rules"


ADD_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, NEVER)
VETO_GRID = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)

POLICIES = (
    Policy("rules alone"),
    Policy("learned alone (>=0.5)", add=0.5, use_rules=False),
    Policy("rules + learned as today (add>=0.8)", add=0.8),
    Policy("rules + learned, add>=0.9 (fixed)", add=0.9),
    Policy("rules + learned, add>=0.95 (fixed)", add=0.95),
    Policy("rules + learned, veto<0.05 (fixed)", veto=0.05),
    Policy("(a) add above a tuned threshold", tune=("add",)),
    Policy("(b) veto below a tuned threshold", tune=("veto",)),
    Policy("(c) add near a rule candidate, tuned", near_only=True, tune=("add",)),
    Policy("(a)+(b)", tune=("add", "veto")),
    Policy("(b)+(c)", near_only=True, tune=("add", "veto")),
)


def choose(policy: Policy, observations: Sequence[Observation], probabilities: Floats) -> Policy:
    """The policy with its tuned thresholds: the best binary F1 on these (out-of-fold) lines that
    flags no more of their claim-free lines than the rules alone; ties go to the more cautious
    setting (fewer additions, weaker veto). Untuned policies come back as they are."""
    if not policy.tune:
        return policy
    adds = ADD_GRID if "add" in policy.tune else (policy.add,)
    vetoes = VETO_GRID if "veto" in policy.tune else (policy.veto,)
    ceiling = _report(Policy("rules"), observations, probabilities).no_claim_flagged
    best: tuple[float, float, float] | None = None
    chosen = replace(policy, add=NEVER, veto=0.0)
    for add in adds:
        for veto in vetoes:
            candidate = replace(policy, add=add, veto=veto)
            report = _report(candidate, observations, probabilities)
            if report.no_claim_flagged > ceiling:
                continue
            key = (report.binary_scores.f1, add, -veto)  # higher F1, then higher add, lower veto
            if best is None or key > best:
                best, chosen = key, candidate
    return chosen


def _report(policy: Policy, observations: Sequence[Observation], probabilities: Floats) -> Report:
    report = Report()
    for o, p in zip(observations, probabilities, strict=True):
        report.add(o.example, policy.apply(o.rules, o.near, p))
    return report


# ---- the split ------------------------------------------------------------------------------


def source_groups(examples: Sequence[Example]) -> list[int]:
    """Each example's source group: lines sharing a ``doc`` or a ``url`` (transitively) are one
    group; a line with neither is a group of its own."""
    parent = list(range(len(examples)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, e in enumerate(examples):
        for key in (f"doc:{e.doc}" if e.doc else "", f"url:{e.url}" if e.url else ""):
            if not key:
                continue
            if key in first:
                a, b = root(first[key]), root(i)
                parent[max(a, b)] = min(a, b)
            else:
                first[key] = i
    roots = [root(i) for i in range(len(examples))]
    number = {r: n for n, r in enumerate(dict.fromkeys(roots))}
    return [number[r] for r in roots]


def folds(examples: Sequence[Example], k: int) -> list[int]:
    """Each example's fold (0 … k-1): whole source groups, largest first, each to the fold with
    the fewest lines so far (groups of one size in the order of a hash of their smallest
    doc|url|id), so folds are balanced and a line's fold does not depend on the order of lines."""
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, not {k}")
    groups = source_groups(examples)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    if len(members) < k:
        raise ValueError(f"{len(members)} source groups cannot fill {k} folds")

    def order(g: int) -> tuple[int, str]:
        name = min(f"{examples[i].doc}|{examples[i].url}|{examples[i].id}" for i in members[g])
        return (-len(members[g]), hashlib.blake2b(name.encode(), digest_size=8).hexdigest())

    sizes = [0] * k
    fold_of = [0] * len(examples)
    for g in sorted(members, key=order):
        target = min(range(k), key=lambda f: (sizes[f], f))
        sizes[target] += len(members[g])
        for i in members[g]:
            fold_of[i] = target
    return fold_of


# ---- the cross-validation -------------------------------------------------------------------


@dataclass
class CrossValidation:
    """Out-of-fold reports per policy, and the thresholds each fold chose."""

    features: str
    reports: dict[str, Report]
    chosen: dict[str, list[str]]


def _fit_predict(
    featurise: Callable[[Observation], list[str]],
    train: Sequence[Observation],
    test: Sequence[Observation],
    **fit: Any,
) -> Floats:
    model: FeatureModel = train_features(
        [featurise(o) for o in train], [o.example.labels for o in train], **fit
    )
    return np.array([model.probabilities(featurise(o)) for o in test]).reshape(len(test), len(CATEGORIES))


def out_of_fold(
    observations: Sequence[Observation],
    featurise: Callable[[Observation], list[str]],
    k: int,
    **fit: Any,
) -> Floats:
    """Each line's probabilities from a model trained on the folds without its source (``k`` folds,
    or one per source where there are fewer sources)."""
    k = min(k, len(set(source_groups([o.example for o in observations]))))
    fold_of = folds([o.example for o in observations], k)
    out = np.zeros((len(observations), len(CATEGORIES)))
    for f in range(k):
        test = [i for i, g in enumerate(fold_of) if g == f]
        train = [observations[i] for i, g in enumerate(fold_of) if g != f]
        out[test] = _fit_predict(featurise, train, [observations[i] for i in test], **fit)
    return out


def cross_validate(
    observations: Sequence[Observation],
    *,
    features: str = "char",
    policies: Iterable[Policy] = POLICIES,
    k: int = 5,
    inner: int = 3,
    progress: Callable[[str], None] = lambda _: None,
    **fit: Any,
) -> CrossValidation:
    """Leave-sources-out cross-validation of each policy over ``observations``.

    For each of ``k`` folds: the model is trained on the other folds' lines; a tuned policy's
    thresholds are chosen on those lines' own out-of-fold probabilities (``inner`` folds over
    their groups); the fold's lines are then measured with the policy so chosen.
    """
    featurise = FEATURES[features]
    policies = tuple(policies)
    fold_of = folds([o.example for o in observations], k)
    reports = {p.name: Report() for p in policies}
    chosen: dict[str, list[str]] = {p.name: [] for p in policies}
    for f in range(k):
        train = [o for o, g in zip(observations, fold_of, strict=True) if g != f]
        test = [o for o, g in zip(observations, fold_of, strict=True) if g == f]
        progress(f"fold {f + 1}/{k}: {len(train)} lines to train on, {len(test)} to measure")
        tuning = out_of_fold(train, featurise, inner, **fit) if any(p.tune for p in policies) else None
        probabilities = _fit_predict(featurise, train, test, **fit)
        for policy in policies:
            settled = choose(policy, train, tuning) if tuning is not None else policy
            chosen[policy.name].append(settled.describe())
            for o, p in zip(test, probabilities, strict=True):
                reports[policy.name].add(o.example, settled.apply(o.rules, o.near, p))
    return CrossValidation(features, reports, chosen)


def format_cross_validation(results: Sequence[CrossValidation]) -> str:
    """One row per features and policy: binary F1, precision, recall, macro-F1, claim-free lines
    flagged, real-ASR binary F1, and the thresholds the folds chose."""
    header = (
        f"{'features':<16}{'policy':<40}{'bin-F1':>7}{'prec':>7}{'recall':>7}{'macro':>7}"
        f"{'flagged':>9}{'asr-F1':>8}  chosen per fold"
    )
    lines = [header]
    for cv in results:
        for name, r in cv.reports.items():
            b = r.binary_scores
            asr = r.kinds.get("real_asr")
            asr_f1 = f"{asr.binary_scores.f1:>8.3f}" if asr is not None else f"{'-':>8}"
            folds_chose = sorted(set(cv.chosen[name]))
            lines.append(
                f"{cv.features:<16}{name:<40}{b.f1:>7.3f}{b.precision:>7.3f}{b.recall:>7.3f}"
                f"{r.macro_f1:>7.3f}{r.flagged_share:>9.1%}{asr_f1}  {'; '.join(folds_chose)}"
            )
    return "\n".join(lines)
