"""A stand-in for ``pipeline.claims.Detector`` in the checks' unit tests.

It knows a handful of fixed terms, enough to exercise the checks; the claim lexicons and the real
detector belong to ``pipeline/claims/`` (the sample scenario also runs with the real one).
"""

from __future__ import annotations

from pipeline.records import Claim, Source

TERMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "美白": ("efficacy", ("cosmetics_special_registration",)),
    "增强免疫力": ("efficacy", ("health_food_registration",)),
    "全网最低价": ("price", ()),
    "第一": ("absolute", ()),
    "最好": ("absolute", ()),
}


class FakeDetector:
    """A stand-in for pipeline.claims.Detector: a few fixed terms (the real lexicons are not ours)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def detect(self, text: str, *, source: Source = "speech") -> list[Claim]:
        self.calls.append((text, source))
        return [
            Claim(
                cat,
                term,
                text.index(term),
                text.index(term) + len(term),
                "high",
                f"t.{term}",
                "law",
                requires=req,
            )
            for term, (cat, req) in TERMS.items()
            if term in text
        ]
