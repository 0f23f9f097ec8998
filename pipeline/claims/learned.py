"""A learned second opinion: logistic regression over character n-grams, trained on labelled lines.

The rules of the lexicons decide what is a claim and say why. This model is trained on labelled
utterances (the authored set, our own cases, the development part of the real-world corpus) and
can propose categories the rules miss. It is measured beside the rules, with and without it
(``claimwatch eval claims --learned TRAIN``, docs/claims.md), and says why as the rules do: the
rule id ``LEARNED-<CATEGORY>``, the span of the n-grams that weighed most, the category's legal
basis.

Features are the character 1- to 3-grams of the normalised text (Simplified, half-width, lower
case), weighted by sublinear term frequency times inverse document frequency and L2-normalised;
one binary logistic regression per category, with L2 regularisation and class weights that
balance positives and negatives, fitted by full-batch gradient descent (Adam) with numpy, so the
result is deterministic and needs no other library.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.claims.detector import Detector, Source
from pipeline.claims.lexicon import CATEGORIES
from pipeline.records import Claim

NGRAMS = (1, 2, 3)
MIN_COUNT = 2  # n-grams seen in fewer training lines are left out
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class LearnedClaim:
    """A category the model proposes for a text, with its probability and the span behind it."""

    category: str
    probability: float
    start: int
    end: int


def ngrams(text: str) -> Iterable[tuple[str, int]]:
    """Every character n-gram of ``text`` with its start offset."""
    for n in NGRAMS:
        for i in range(len(text) - n + 1):
            yield text[i : i + n], i


@dataclass(frozen=True)
class LearnedModel:
    """The fitted model over the character n-grams of a normalised text, and the probability a
    category must reach to be proposed."""

    model: FeatureModel
    threshold: float

    def probabilities(self, text: str) -> dict[str, float]:
        """Each category's probability for a normalised text."""
        found = self.model.probabilities(g for g, _ in ngrams(text))
        return dict(zip(CATEGORIES, found.tolist(), strict=True))

    def claims(self, text: str) -> list[LearnedClaim]:
        """The categories whose probability reaches the threshold, each with the span of its
        strongest n-gram (extended over the neighbouring n-grams that also push it up)."""
        out = []
        for category, probability in self.probabilities(text).items():
            if probability >= self.threshold:
                start, end = self._evidence(text, CATEGORIES.index(category))
                out.append(LearnedClaim(category, round(probability, 4), start, end))
        return out

    def _evidence(self, text: str, category: int) -> tuple[int, int]:
        weighed = [
            (float(self.model.weights[self.model.vocabulary[g], category]), i, i + len(g))
            for g, i in ngrams(text)
            if g in self.model.vocabulary
        ]
        best = max(weighed, default=(0.0, 0, len(text)))
        start, end = best[1], best[2]
        for weight, s, e in sorted(weighed, key=lambda w: w[1]):
            if weight > 0 and s <= end and e >= start:  # touching or overlapping, pushing up too
                start, end = min(start, s), max(end, e)
        return start, end


def train(
    texts: Sequence[str],
    labels: Sequence[frozenset[str]],
    *,
    threshold: float = 0.8,
    l2: float = 1e-4,
    steps: int = 300,
    normalise: Callable[[str], str] = lambda t: t,
) -> LearnedModel:
    """Fit the model on labelled texts (each normalised with ``normalise`` first)."""
    docs = [normalise(t) for t in texts]
    fitted = train_features([[g for g, _ in ngrams(d)] for d in docs], labels, l2=l2, steps=steps)
    return LearnedModel(fitted, threshold)


@dataclass(frozen=True)
class FeatureModel:
    """The same model over any string features (n-grams, words, what the rules saw): the
    vocabulary with its idf, per category weights and a bias."""

    vocabulary: dict[str, int]
    idf: Floats
    weights: Floats  # (features, categories)
    bias: Floats  # (categories,)

    def row(self, features: Iterable[str]) -> dict[int, float]:
        """The sublinear tf-idf row of a line's features, L2-normalised (unknown ones left out)."""
        counts = Counter(self.vocabulary[f] for f in features if f in self.vocabulary)
        row = {i: (1.0 + math.log(c)) * float(self.idf[i]) for i, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in row.values())) or 1.0
        return {i: v / norm for i, v in row.items()}

    def probabilities(self, features: Iterable[str]) -> Floats:
        """Each category's probability (in CATEGORIES order) for a line's features."""
        row = self.row(features)
        scores = self.bias
        if row:
            index = np.fromiter(row, dtype=np.int64)
            values = np.fromiter(row.values(), dtype=np.float64)
            scores = values @ self.weights[index] + self.bias
        probabilities: Floats = 1.0 / (1.0 + np.exp(-scores))
        return probabilities


def train_features(
    docs: Sequence[Sequence[str]],
    labels: Sequence[frozenset[str]],
    *,
    l2: float = 1e-4,
    steps: int = 300,
) -> FeatureModel:
    """Fit one class-weighted logistic regression per category on each line's features; features
    seen in fewer than MIN_COUNT lines are left out. Deterministic."""
    if len(docs) != len(labels):
        raise ValueError(f"{len(docs)} lines but {len(labels)} label sets")
    frequency: Counter[str] = Counter(f for d in docs for f in set(d))
    vocabulary = {f: i for i, f in enumerate(sorted(f for f, c in frequency.items() if c >= MIN_COUNT))}
    idf = np.ones(len(vocabulary))
    for f, i in vocabulary.items():
        idf[i] = math.log((1 + len(docs)) / (1 + frequency[f])) + 1.0
    empty = FeatureModel(vocabulary, idf, np.zeros((len(vocabulary), len(CATEGORIES))), np.zeros(7))
    rows = [empty.row(d) for d in docs]
    y = np.array([[c in labs for c in CATEGORIES] for labs in labels], dtype=np.float64).reshape(
        len(docs), len(CATEGORIES)
    )
    weights, bias = _fit(rows, y, len(vocabulary), l2=l2, steps=steps)
    return FeatureModel(vocabulary, idf, weights, bias)


def _fit(
    rows: list[dict[int, float]], y: Floats, features: int, *, l2: float, steps: int
) -> tuple[Floats, Floats]:
    """Full-batch Adam on the class-weighted logistic loss of every category at once.

    The sparse products are segment sums (``np.add.reduceat``) over the non-zero entries, sorted
    once by line for the scores and once by feature for the gradient; every feature of the
    vocabulary occurs in some line, lines without a feature score their bias alone.
    """
    doc = np.concatenate([np.full(len(r), i) for i, r in enumerate(rows)]).astype(np.int64)
    col = np.concatenate([np.fromiter(r, dtype=np.int64, count=len(r)) for r in rows])
    val = np.concatenate([np.fromiter(r.values(), dtype=np.float64, count=len(r)) for r in rows])
    positives = y.sum(axis=0).clip(1.0)
    balance = np.where(
        y > 0, len(rows) / (2 * positives), len(rows) / (2 * (len(rows) - positives).clip(1.0))
    )
    filled = np.array([bool(r) for r in rows])
    row_starts = np.concatenate([[0], np.cumsum([len(r) for r in rows])[:-1]])[filled]
    by_col = np.argsort(col, kind="stable")
    col_sorted, doc_by_col, val_by_col = col[by_col], doc[by_col], val[by_col]
    col_starts = np.flatnonzero(np.r_[True, col_sorted[1:] != col_sorted[:-1]])
    present = col_sorted[col_starts]
    w = np.zeros((features, y.shape[1]))
    b = np.zeros(y.shape[1])
    m_w, v_w, m_b, v_b = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
    scores = np.zeros_like(y)
    grad_w = np.zeros_like(w)
    for step in range(1, steps + 1):
        if len(val):
            scores[filled] = np.add.reduceat(val[:, None] * w[col], row_starts, axis=0)
        error = balance * (1.0 / (1.0 + np.exp(-(scores + b))) - y) / len(rows)
        grad_w[:] = l2 * w
        if len(val):
            grad_w[present] += np.add.reduceat(val_by_col[:, None] * error[doc_by_col], col_starts, axis=0)
        grad_b: Floats = error.sum(axis=0)
        for param, grad, moments in ((w, grad_w, (m_w, v_w)), (b, grad_b, (m_b, v_b))):
            _adam(param, grad, moments, step)
    return w, b


_RATE, _BETA1, _BETA2 = 0.05, 0.9, 0.999


def _adam(param: Floats, grad: Floats, moments: tuple[Floats, Floats], step: int) -> None:
    """One Adam update of ``param`` in place."""
    first, second = moments
    first *= _BETA1
    first += (1 - _BETA1) * grad
    second *= _BETA2
    second += (1 - _BETA2) * grad * grad
    param -= _RATE * (first / (1 - _BETA1**step)) / (np.sqrt(second / (1 - _BETA2**step)) + 1e-8)


class WithLearned:
    """The rules' claims, and those the model proposes in categories the rules found nothing of.

    A proposed claim says it is the model's (``rule_id`` ``LEARNED-<CATEGORY>``, ``extra`` with the
    probability), points at the span that weighed most and carries the category's legal basis.
    """

    def __init__(self, detector: Detector, model: LearnedModel) -> None:
        self.detector = detector
        self.model = model
        self.version = f"{detector.version}+learned"
        bases: dict[str, Counter[str]] = {}
        for entry in detector.lexicon.entries:
            bases.setdefault(entry.category, Counter())[entry.legal_basis] += 1
        self._legal_basis = {c: bases[c].most_common(1)[0][0] for c in bases}

    def detect(self, text: str, *, source: Source = "speech") -> list[Claim]:
        claims = self.detector.detect(text, source=source)
        have = {c.category for c in claims}
        normalised = self.detector.normalised(text, source=source)
        for proposed in self.model.claims(normalised.text):
            if proposed.category not in have:
                claims.append(self._claim(proposed, normalised.original, normalised.span))
        return claims

    def _claim(
        self, proposed: LearnedClaim, original: str, span: Callable[[int, int], tuple[int, int]]
    ) -> Claim:
        start, end = span(proposed.start, proposed.end)
        category = proposed.category
        return Claim(
            category=category,
            term=original[start:end],
            start=start,
            end=end,
            severity="medium",
            rule_id=f"LEARNED-{category.upper()}",
            legal_basis=self._legal_basis.get(category, ""),
            lexicon_version=self.version,
            requires=("cosmetics_special_registration", "health_food_registration")
            if category == "efficacy"
            else (),
            extra={"model": "learned", "probability": proposed.probability},
        )
