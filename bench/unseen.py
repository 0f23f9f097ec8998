"""What the learned model adds on collections the rules never saw (issue 13), measured by going back.

    .venv/bin/python -m bench.unseen [--data tests/data/real] [--threshold 0.8 --threshold 0.9]

A cross-validation of the learned model over the development part (``eval claims --cv``) keeps
the rules as they are now, and they were tuned on every development document: beside them, the
model can only add what they already found. This goes back instead. For each later collection of
``tests/data/real`` it takes the rules as they stood before any change made for it (the commit
in ``BEFORE``, read with ``git archive``), trains the model only on the development lines of the
collections before it, and measures both on that collection, which neither had seen. The baseline
is the rules alone; each row with the model prints its binary F1 less the baseline's.

It needs the repository's history (a clone, not an export) and runs each old tree's rules in a
child process with that tree first on the path.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from pipeline.claims import load_detector
from pipeline.claims.evaluation import Example, Report, data_files, parse_example
from pipeline.claims.learned import train

ROOT = Path(__file__).resolve().parent.parent
# each collection with the commit whose rules measured its first look, and the collections a model
# may learn from for it (the development lines of those before it)
BEFORE: dict[str, tuple[str, tuple[str, ...]]] = {
    "2": ("5e0cfbc^", ("1",)),
    "3": ("4601c7e^", ("1", "2")),
    "5": ("3b28118", ("1", "2", "3")),
    "6": ("c91c434", ("1", "2", "3", "5")),
    "round4": ("43eba8c", ("1", "2", "3")),
}
_RULES_OF = """
import json, sys
from pathlib import Path
from pipeline.claims.detector import load_detector
detector = load_detector(Path(sys.argv[1]))
for line in sys.stdin:
    example = json.loads(line)
    found = {c.category for c in detector.detect(example["text"], source=example["source"])}
    print(json.dumps(sorted(found)))
"""


@dataclass(frozen=True)
class Line:
    example: Example
    collection: str


def lines(data: Path) -> list[Line]:
    """Every labelled line of the corpus with its collection (round4 for the fresh held-out set)."""
    out = []
    for path in data_files(data) + data_files(data / "round4"):
        for raw in path.read_text("utf-8").splitlines():
            if raw.strip():
                record = json.loads(raw)
                name = "round4" if path.parent.name == "round4" else str(record.get("collection") or 1)
                out.append(Line(parse_example(record), name))
    return out


def old_rules(commit: str, examples: Sequence[Example]) -> list[frozenset[str]]:
    """The categories the rules of ``commit`` report for each example."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True)
    with tempfile.TemporaryDirectory() as tree:
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            tar.extractall(tree, filter="data")
        given = "".join(json.dumps({"text": e.text, "source": e.source}) + "\n" for e in examples)
        done = subprocess.run(
            [sys.executable, "-c", _RULES_OF, str(Path(tree) / "lexicons")],
            input=given,
            capture_output=True,
            text=True,
            check=True,
            cwd=tree,
            env={"PYTHONPATH": tree, "PATH": "/usr/bin:/bin", "HOME": tree},
        )
    return [frozenset(json.loads(row)) for row in done.stdout.splitlines()]


HEADER = f"{'collection':<12}{'lines':>6}{'rules of':>10}{'trained on':>12}  policy"
COLUMNS = "         bin-F1  macro  flagged  vs rules"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT / "tests" / "data" / "real")
    parser.add_argument("--threshold", type=float, action="append", help="the model's (default: 0.8, 0.9)")
    args = parser.parse_args(argv)
    thresholds = args.threshold or [0.8, 0.9]
    corpus = lines(args.data)
    normalise = load_detector().normalise_text
    print(HEADER + COLUMNS)
    for name, (commit, before) in BEFORE.items():
        measured = [line.example for line in corpus if line.collection == name]
        training = [line.example for line in corpus if line.collection in before]
        training = [e for e in training if e.part == "dev"]
        if not measured:
            continue
        rules = old_rules(commit, measured)
        baseline = _report(measured, rules)
        head = f"{name:<12}{len(measured):>6}{commit:>10}{len(training):>12}"
        print(_row(head, "rules alone", baseline, baseline))
        model = train([e.text for e in training], [e.labels for e in training], normalise=normalise)
        probabilities = [model.probabilities(normalise(e.text)) for e in measured]
        for threshold in thresholds:
            added = [
                found | {c for c, p in chances.items() if p >= threshold}
                for found, chances in zip(rules, probabilities, strict=True)
            ]
            print(_row(" " * len(head), f"+ learned >={threshold:g}", _report(measured, added), baseline))


def _report(examples: Sequence[Example], predicted: Sequence[frozenset[str]]) -> Report:
    report = Report()
    for example, found in zip(examples, predicted, strict=True):
        report.add(example, frozenset(found))
    return report


def _row(head: str, policy: str, report: Report, baseline: Report) -> str:
    f1 = report.binary_scores.f1
    gain = (
        ""
        if report is baseline
        else f"  {f1 - baseline.binary_scores.f1:+.3f} ({f1 / baseline.binary_scores.f1:.2f}x)"
    )
    return f"{head}  {policy:<15}{f1:>6.3f}{report.macro_f1:>7.3f}{report.flagged_share:>8.1%}{gain}"


if __name__ == "__main__":
    main()
