"""The scoring rules as data (``lexicons/scoring.yaml``): weights, caps and grade bands, validated.

Every score names the rules ``version`` it was computed with. A malformed file raises
:class:`LexiconError` naming the file and the bad key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import LexiconError
from pipeline.reporting.categories import Language

SEVERITIES = ("high", "medium", "low")
CONDUCT_KINDS = ("claim", "qualification")
LEDGER_ITEMS = ("off_ledger_sales", "expired_qualifications", "unreviewed_approvals")


@dataclass(frozen=True, slots=True)
class GradeBand:
    grade: str
    min_score: float
    display: str
    names: Mapping[Language, str]


@dataclass(frozen=True, slots=True)
class ScoringRules:
    version: str
    points_per_weighted_hour: float
    severity_weights: Mapping[str, float]
    kind_factors: Mapping[str, float]
    min_monitored_hours: float
    max_live_hours: float
    conduct_max_deduction: float
    ledger_max_deduction: float
    ledger_points: Mapping[str, float]
    grades: tuple[GradeBand, ...]
    off_card_factor: float = 1.0

    def band(self, score: float) -> GradeBand:
        """The first (best) band whose minimum the score reaches."""
        for band in self.grades:
            if score >= band.min_score:
                return band
        return self.grades[-1]


def load_rules(path: Path) -> ScoringRules:
    """Read and validate a scoring file."""
    try:
        data = yaml.safe_load(path.read_text("utf-8-sig"))
    except (OSError, yaml.YAMLError) as exc:
        raise LexiconError(f"{path}: cannot read scoring rules ({exc})") from None
    try:
        return _parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise LexiconError(f"{path}: invalid scoring rules: {exc}") from None


def _parse(data: Any) -> ScoringRules:
    conduct, ledger = _mapping(data, "conduct"), _mapping(data, "ledger")
    items = _mapping(ledger, "items")
    return ScoringRules(
        version=str(_get(data, "version")),
        points_per_weighted_hour=_number(conduct, "points_per_weighted_hour"),
        severity_weights={s: _number(_mapping(conduct, "severity_weights"), s) for s in SEVERITIES},
        kind_factors={k: _number(_mapping(conduct, "kind_factors"), k) for k in CONDUCT_KINDS},
        min_monitored_hours=_number(conduct, "min_monitored_hours", positive=True),
        max_live_hours=_number(conduct, "max_live_hours", positive=True),
        conduct_max_deduction=_number(conduct, "max_deduction"),
        ledger_max_deduction=_number(ledger, "max_deduction"),
        ledger_points={i: _number(_mapping(items, i), "points") for i in LEDGER_ITEMS},
        grades=_grades(_get(data, "grades")),
        off_card_factor=_number(conduct, "off_card_factor"),
    )


def _grades(raw: Any) -> tuple[GradeBand, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError("grades: expected a non-empty list of bands")
    bands = tuple(
        GradeBand(
            grade=str(_get(b, "grade")),
            min_score=_number(b, "min_score"),
            display=str(b.get("display") or ""),
            names={"zh": str(_get(b, "zh")), "en": str(_get(b, "en"))},
        )
        for b in raw
    )
    minimums = [b.min_score for b in bands]
    if minimums != sorted(minimums, reverse=True) or minimums[-1] != 0:
        raise ValueError("grades: bands must run best first and the last must start at 0")
    return bands


def _get(data: Any, key: str) -> Any:
    if not isinstance(data, Mapping) or key not in data:
        raise KeyError(f"missing key {key!r}")
    return data[key]


def _mapping(data: Any, key: str) -> Mapping[str, Any]:
    value = _get(data, key)
    if not isinstance(value, Mapping):
        raise TypeError(f"{key}: expected a mapping")
    return value


def _number(data: Any, key: str, *, positive: bool = False) -> float:
    value = _get(data, key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{key}: expected a non-negative number, got {value!r}")
    if positive and value == 0:
        raise ValueError(f"{key}: must be more than 0")
    return float(value)
