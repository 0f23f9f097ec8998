"""Claim detector throughput, side by side with a naive substring matcher over the same lexicon.

    .venv/bin/python -m bench.claims [--data FILE.jsonl] [--seconds 5] [--learned DIR]

Both run on one core (the process is pinned to one CPU where the OS allows) over the same labelled
utterances (default: tests/data/claims/dev.jsonl, a copy of ../shared/data/claims/dev.jsonl),
each with its source (speech or listing), and once more all read as listing text (no homophone
reading). Throughput is utterances per CPU second, the median of repeated passes (and the best
pass); wall-clock
figures are printed too, as they suffer from whatever else runs on the machine. The naive matcher
flags a category whenever one of its entries' literal terms occurs anywhere in the text; its
quality is printed beside the detector's, for what speed buys. With ``--learned`` (a labelled file
or directory: the development lines of tests/data/real, say; held-out lines are never trained on),
one more row runs the rules with the learned model (pipeline/claims/learned.py), so its cost
shows on its own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.claims import Detector, load_detector
from pipeline.claims.evaluation import Example, Report, read_examples
from pipeline.claims.learned import WithLearned, train

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "claims" / "dev.jsonl"


def naive_matcher(detector: Detector) -> Callable[[str], frozenset[str]]:
    """A word list: every literal term of every entry, found by substring search."""
    normalise = detector.normalise_text
    terms = [(term, entry.category) for entry in detector.lexicon.entries for term in entry.terms]

    def match(text: str) -> frozenset[str]:
        text = normalise(text)
        return frozenset(category for term, category in terms if term in text)

    return match


def throughput(
    run: Callable[[Example], object], examples: list[Example], seconds: float
) -> tuple[float, float, float]:
    """Utterances per CPU second (median and best pass) and per wall-clock second (median pass).

    Passes over all the examples repeat for at least ``seconds`` of CPU; the median pass is the
    figure to quote, the best one shows what an idle core does.
    """
    for example in examples:
        run(example)  # warm caches (pinyin readings) before timing
    cpu: list[float] = []
    wall: list[float] = []
    while sum(cpu) < seconds or len(cpu) < 3:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for example in examples:
            run(example)
        cpu.append(time.process_time() - cpu0)
        wall.append(time.perf_counter() - wall0)
    n = len(examples)
    return n / statistics.median(cpu), n / min(cpu), n / statistics.median(wall)


def learned_detector(detector: Detector, data: Path) -> WithLearned:
    """The rules with a learned model trained on the development lines under ``data``."""
    files = sorted(data.glob("*.jsonl")) if data.is_dir() else [data]
    lines = [e for f in files for _, e in read_examples(f) if isinstance(e, Example) and e.part != "heldout"]
    return WithLearned(
        detector, train([e.text for e in lines], [e.labels for e in lines], normalise=detector.normalise_text)
    )


def quality(predict: Callable[[Example], frozenset[str]], examples: list[Example]) -> Report:
    report = Report()
    for example in examples:
        report.add(example, predict(example))
    return report


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to CPU {core}"
    return "not pinned (no sched_setaffinity here)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled JSONL utterances")
    parser.add_argument("--seconds", type=float, default=5.0, help="CPU seconds per matcher")
    parser.add_argument(
        "--learned", type=Path, help="also time the rules with a model trained on these lines"
    )
    args = parser.parse_args()
    pinned = pin_to_one_core()
    started = time.perf_counter()
    detector = load_detector()
    load_s = time.perf_counter() - started
    examples = [e for _, e in read_examples(args.data) if isinstance(e, Example)]
    naive = naive_matcher(detector)

    def detect(example: Example) -> frozenset[str]:
        return frozenset(c.category for c in detector.detect(example.text, source=example.source))

    def substring(example: Example) -> frozenset[str]:
        return naive(example.text)

    def as_listing(example: Example) -> frozenset[str]:
        return frozenset(c.category for c in detector.detect(example.text, source="listing"))

    rows = []
    runs: list[tuple[str, Callable[[Example], frozenset[str]]]] = [
        ("detector", detect),
        ("naive substring", substring),
        ("detector, listing", as_listing),
    ]
    if args.learned is not None:
        with_learned = learned_detector(detector, args.learned)
        runs.append(
            (
                "rules + learned",
                lambda e: frozenset(c.category for c in with_learned.detect(e.text, source=e.source)),
            )
        )
    for name, run in runs:
        cpu, best, wall = throughput(run, examples, args.seconds)
        rows.append((name, cpu, best, wall, quality(run, examples)))
    print(f"claims bench: {len(examples)} utterances from {args.data}, {pinned}")
    entries = len(detector.lexicon.entries)
    print(f"lexicon {detector.version}, {entries} entries; detector built in {load_s:.1f} s")
    header = [("utt/s CPU", 11), ("best pass", 11), ("wall", 8)]
    header += [("macro-F1", 10), ("binary F1", 11), ("flagged", 9)]
    print(" " * 18 + "".join(f"{name:>{width}}" for name, width in header))
    for name, cpu, best, wall, report in rows:
        print(
            f"{name:<18}{cpu:>11,.0f}{best:>11,.0f}{wall:>8,.0f}{report.macro_f1:>10.3f}"
            f"{report.binary_scores.f1:>11.3f}{report.flagged_share:>9.1%}"
        )
    print(f"detector / naive throughput: {rows[0][1] / rows[1][1]:.3f} (CPU)")
    print("detector: each utterance with its own source; detector, listing: every one read as listing")
    print("text (no homophone reading); flagged: share of the no-claim utterances that got a claim")


if __name__ == "__main__":
    main()
