"""Measure the listing → ledger title matcher on near-miss cases and pick its threshold.

    .venv/bin/python bench/ledger_match.py [CASES.jsonl LEDGER.csv]

For each candidate score it prints, over the cases of tests/data/ledger_match/: the lowest score of
a reworded title against its own row, the highest score of another product against any row of its
brand, and the thresholds that get every case right (or the best accuracy). The score in
pipeline/ledger/matching.py is the one named `recall_mix`; MATCH_THRESHOLD sits in the middle of its
interval of best accuracy.
"""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Callable
from pathlib import Path

from pipeline.ledger.files import read_ledger
from pipeline.ledger.matching import _bigrams, _units_without, brand_matches, title_score
from pipeline.ledger.qualifications import load_rules

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "ledger_match"
MCN = "mcn-starlight"
Score = Callable[[str, str, str], float]


def _sides(title: str, name: str, brand: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return _units_without(title, brand), _units_without(name, brand)


def recall_mix_no_swap(title: str, name: str, brand: str) -> float:
    return (bigram_recall(title, name, brand) + unit_recall(title, name, brand)) / 2


def bigram_recall(title: str, name: str, brand: str) -> float:
    t, n = _sides(title, name, brand)
    return len(_bigrams(n) & _bigrams(t)) / max(1, len(_bigrams(n)))


def unit_recall(title: str, name: str, brand: str) -> float:
    t, n = _sides(title, name, brand)
    return len(set(n) & set(t)) / max(1, len(set(n)))


def bigram_dice(title: str, name: str, brand: str) -> float:
    t, n = _bigrams(_sides(title, name, brand)[0]), _bigrams(_sides(title, name, brand)[1])
    return 2 * len(t & n) / max(1, len(t) + len(n))


def sequence_ratio(title: str, name: str, brand: str) -> float:
    t, n = _sides(title, name, brand)
    return difflib.SequenceMatcher(None, t, n).ratio()


SCORES: dict[str, Score] = {
    "recall_mix": title_score,
    "recall_mix_no_swap": recall_mix_no_swap,
    "bigram_recall": bigram_recall,
    "unit_recall": unit_recall,
    "bigram_dice": bigram_dice,
    "sequence_ratio": sequence_ratio,
}


def evaluate(score: Score, cases: list[dict[str, str]], rows: list[tuple[str, str, str]]) -> None:
    positives: list[tuple[float, bool, str]] = []  # (own score, own row is the best, title)
    negatives: list[tuple[float, str]] = []  # (best score over the brand's rows, title)
    for case in cases:
        scored = sorted(
            ((score(case["title"], name, brand), pid) for pid, name, brand in rows
             if brand_matches(case["brand"], case["title"], brand)),
            reverse=True,
        )  # fmt: skip
        if case["expected"] is None:
            negatives.append((scored[0][0] if scored else 0.0, case["title"]))
        else:
            own = next(s for s, pid in scored if pid == case["expected"])
            positives.append((own, scored[0][1] == case["expected"], case["title"]))
    sweep = [t / 100 for t in range(1, 101)]
    right = {
        t: sum(s >= t and top for s, top, _ in positives) + sum(s < t for s, _ in negatives) for t in sweep
    }
    best = max(right.values())
    good = [t for t in sweep if right[t] == best]
    low_pos = min(positives)
    high_neg = max(negatives)
    print(f"  lowest positive {low_pos[0]:.3f} ({low_pos[2]})")
    print(f"  highest negative {high_neg[0]:.3f} ({high_neg[1]})")
    print(f"  best {best}/{len(cases)} right for thresholds {good[0]:.2f}..{good[-1]:.2f}")
    wrong_rank = [title for _, top, title in positives if not top]
    if wrong_rank:
        print(f"  another row outscores the right one for: {wrong_rank}")


def main(argv: list[str]) -> None:
    cases_path = Path(argv[0]) if argv else DATA / "cases.jsonl"
    ledger_path = Path(argv[1]) if len(argv) > 1 else DATA / "ledger.csv"
    cases = [json.loads(line) for line in cases_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    entries = read_ledger(ledger_path, load_rules()).entries
    rows = [(e.product_id, e.product_name, e.brand) for e in entries if e.mcn_id == MCN]
    reworded = sum(c["expected"] is not None for c in cases)
    print(
        f"{len(cases)} cases ({reworded} reworded, {len(cases) - reworded} other products), {len(rows)} rows"
    )
    for name, score in SCORES.items():
        print(name)
        evaluate(score, cases, rows)


if __name__ == "__main__":
    main(sys.argv[1:])
