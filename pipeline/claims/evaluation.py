"""Evaluating the detector on labelled utterances (``{"id", "text", "labels", "source"?, "kind"?,
"part"?}`` lines, in a file or a directory of files).

Per category: precision, recall and F1 of the utterance-level label sets; their macro average;
binary F1 (does the utterance contain any claim); the share of no-claim utterances flagged; a
multi-label confusion table (each gold label, or ``none``, against each predicted label, or ``none``);
and the same figures per source kind (``kind``: ruling, platform_rule, real_asr, published_copy,
meta; lines without one are ``authored``). ``part`` (``dev`` or ``heldout``) selects the
development or the held-out part of a corpus split by source (tests/data/real/README.md).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pipeline.claims.detector import Source
from pipeline.claims.lexicon import CATEGORIES
from pipeline.errors import RecordError
from pipeline.jsonl import read_records
from pipeline.records import Claim

NONE = "none"
# the `source` values accepted in input files, and what each means to the detector
SOURCES: dict[str, Source] = {"speech": "speech", "spoken": "speech", "asr": "speech", "listing": "listing"}


AUTHORED = "authored"
KINDS = ("ruling", "platform_rule", "real_asr", "published_copy", "meta", AUTHORED)
PARTS = ("dev", "heldout")


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled utterance, with the kind of source it comes from and its part of the split."""

    id: str
    text: str
    labels: frozenset[str]
    source: Source = "speech"
    kind: str = AUTHORED
    part: str = ""
    doc: str = ""  # the source document (a page, a room of a transcript), for splits by source
    url: str = ""


def parse_example(obj: Mapping[str, Any]) -> Example:
    """An example from a parsed JSON line; RecordError names the bad field."""
    text = obj.get("text")
    if not isinstance(text, str):
        raise RecordError("expected a string", field="text")
    labels = obj.get("labels")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise RecordError("expected a list of category names", field="labels")
    unknown = sorted(set(labels) - set(CATEGORIES))
    if unknown:
        raise RecordError(f"unknown categories {', '.join(unknown)}", field="labels")
    source = obj.get("source", "speech")
    if source not in SOURCES:
        raise RecordError(f"{source!r} is not one of {', '.join(SOURCES)}", field="source")
    kind = obj.get("kind", AUTHORED)
    if kind not in KINDS:
        raise RecordError(f"{kind!r} is not one of {', '.join(KINDS)}", field="kind")
    part = obj.get("part", "")
    if part not in ("", *PARTS):
        raise RecordError(f"{part!r} is not one of {', '.join(PARTS)}", field="part")
    provenance = {name: obj.get(name, "") for name in ("doc", "url")}
    for name, value in provenance.items():
        if not isinstance(value, str):
            raise RecordError("expected a string", field=name)
    return Example(
        str(obj.get("id", "")),
        text,
        frozenset(labels),
        SOURCES[source],
        kind,
        part,
        provenance["doc"],
        provenance["url"],
    )


def read_examples(path: str | Path) -> Iterator[tuple[int, Example | RecordError]]:
    """Each labelled line of a JSONL file, or the RecordError that locates a bad one."""
    return read_records(path, parse_example)


def data_files(path: str | Path) -> list[Path]:
    """The JSONL files of ``path``: the file itself, or a directory's ``*.jsonl`` in name order."""
    where = Path(path)
    return sorted(where.glob("*.jsonl")) if where.is_dir() else [where]


@dataclass(frozen=True, slots=True)
class Scores:
    """Precision, recall and F1 from true positives, false positives and false negatives."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(slots=True)
class Report:
    """Counts gathered over a labelled set, with the figures derived from them."""

    counts: dict[str, Counter[str]] = field(default_factory=lambda: {c: Counter() for c in CATEGORIES})
    binary: Counter[str] = field(default_factory=Counter)
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: int = 0
    no_claim: int = 0
    no_claim_flagged: int = 0
    errors: list[tuple[Example, frozenset[str]]] = field(default_factory=list)
    kinds: dict[str, Report] = field(default_factory=dict)  # the same figures per source kind

    def add(self, example: Example, predicted: frozenset[str]) -> None:
        self._add(example, predicted)
        self.kinds.setdefault(example.kind, Report())._add(example, predicted)

    def _add(self, example: Example, predicted: frozenset[str]) -> None:
        self.examples += 1
        for category in CATEGORIES:
            gold, found = category in example.labels, category in predicted
            if gold or found:
                self.counts[category]["tp" if gold and found else "fp" if found else "fn"] += 1
        gold_any, found_any = bool(example.labels), bool(predicted)
        if gold_any or found_any:
            self.binary["tp" if gold_any and found_any else "fp" if found_any else "fn"] += 1
        if not gold_any:
            self.no_claim += 1
            self.no_claim_flagged += found_any
        for gold_label in example.labels or {NONE}:
            for found_label in predicted or {NONE}:
                self.confusions[gold_label, found_label] += 1
        if predicted != example.labels:
            self.errors.append((example, predicted))

    def scores(self, category: str) -> Scores:
        c = self.counts[category]
        return Scores(c["tp"], c["fp"], c["fn"])

    @property
    def macro_f1(self) -> float:
        return sum(self.scores(c).f1 for c in CATEGORIES) / len(CATEGORIES)

    @property
    def binary_scores(self) -> Scores:
        return Scores(self.binary["tp"], self.binary["fp"], self.binary["fn"])

    @property
    def flagged_share(self) -> float:
        """Share of the no-claim utterances that got at least one claim."""
        return self.no_claim_flagged / self.no_claim if self.no_claim else 0.0

    def summary(self) -> dict[str, Any]:
        """The figures as a JSON-ready mapping (with the per-kind figures when there are several)."""
        out = self._figures()
        if len(self.kinds) > 1:
            out["kinds"] = {kind: self.kinds[kind]._figures() for kind in sorted(self.kinds)}
        return out

    def _figures(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "macro_f1": round(self.macro_f1, 4),
            "binary_f1": round(self.binary_scores.f1, 4),
            "no_claim_flagged": round(self.flagged_share, 4),
            "categories": {
                c: {"precision": round(s.precision, 4), "recall": round(s.recall, 4), "f1": round(s.f1, 4)}
                for c in CATEGORIES
                for s in [self.scores(c)]
            },
        }


class Finds(Protocol):
    """What evaluation needs of a detector (the rules, or the rules with the learned model)."""

    def detect(self, text: str, *, source: Source = "speech") -> list[Claim]: ...


def evaluate(detector: Finds, examples: Iterable[Example]) -> Report:
    """Run the detector over labelled examples."""
    report = Report()
    for example in examples:
        claims = detector.detect(example.text, source=example.source)
        report.add(example, frozenset(claim.category for claim in claims))
    return report


def format_report(report: Report, *, errors: int = 0) -> str:
    """The report as plain-text tables; ``errors`` wrong utterances are listed after them."""
    lines = [f"{'category':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for category in CATEGORIES:
        s = report.scores(category)
        lines.append(f"{category:<14}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}{s.tp + s.fn:>10}")
    b = report.binary_scores
    lines += [
        "",
        f"macro-F1 (7 categories)   {report.macro_f1:.3f}",
        f"binary F1 (any claim)     {b.f1:.3f}   (precision {b.precision:.3f}, recall {b.recall:.3f})",
        f"no-claim lines flagged    {report.flagged_share:.1%}   "
        f"({report.no_claim_flagged} of {report.no_claim})",
        f"utterances                {report.examples}",
        "",
        "confusions (rows: labelled, columns: detected; multi-label pairs)",
    ]
    lines += _confusion_table(report)
    if len(report.kinds) > 1:
        lines += ["", "by source kind", _KIND_HEADER]
        lines += [_kind_line(kind, report.kinds[kind]) for kind in KINDS if kind in report.kinds]
    for example, predicted in report.errors[:errors]:
        lines.append(
            json.dumps(
                {
                    "id": example.id,
                    "text": example.text,
                    "labels": sorted(example.labels),
                    "detected": sorted(predicted),
                },
                ensure_ascii=False,
            )
        )
    return "\n".join(lines)


def _confusion_table(report: Report) -> list[str]:
    names = [*CATEGORIES, NONE]
    short = [n[:6] for n in names]
    rows = ["".ljust(14) + "".join(f"{s:>8}" for s in short)]
    for gold in names:
        cells = "".join(f"{report.confusions[gold, found]:>8}" for found in names)
        rows.append(f"{gold:<14}{cells}")
    return rows


_KIND_COLUMNS = [
    ("kind", "<", 16),
    ("lines", ">", 7),
    ("claims", ">", 8),
    ("bin-F1", ">", 8),
    ("prec", ">", 7),
    ("recall", ">", 8),
    ("macro-F1", ">", 10),
    ("flagged", ">", 9),
]
_KIND_HEADER = "".join(f"{name:{align}{width}}" for name, align, width in _KIND_COLUMNS)


def _kind_line(kind: str, r: Report) -> str:
    b = r.binary_scores
    claims = r.examples - r.no_claim
    return (
        f"{kind:<16}{r.examples:>7}{claims:>8}{b.f1:>8.3f}{b.precision:>7.3f}{b.recall:>8.3f}"
        f"{r.macro_f1:>10.3f}{r.flagged_share:>9.1%}"
    )


def format_comparison(rules: Report, both: Report) -> str:
    """The rules beside the rules with the learned model, in all and per source kind."""
    lines = ["rules | rules + learned", _KIND_HEADER, _kind_line("all", rules), _kind_line("+learned", both)]
    for kind in KINDS:
        if kind in rules.kinds and len(rules.kinds) > 1:
            lines += [_kind_line(kind, rules.kinds[kind]), _kind_line("  +learned", both.kinds[kind])]
    return "\n".join(lines)
