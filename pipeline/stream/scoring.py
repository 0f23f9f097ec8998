"""How well a stream's speech violations match its script: claim F1 by sentence, and localisation.

A scenario's timeline says when each utterance (sentence) was said and which claim categories it
makes. Each speech claim violation is scored to the utterance its span overlaps most (the nearest
one when it overlaps none): it is right when that utterance makes that category.
Found and expected are sets of (utterance, category), so a claim raised twice counts once.
A violation is *localised* when its span lies within the utterance it was scored to, give or take
``tolerance_s`` at either end: the officer's clip and quote are that sentence (or a clause of it),
not the piece of several sentences around it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.records import Violation

TOLERANCE_S = 1.0


@dataclass(frozen=True, slots=True)
class Utterance:
    """One sentence of a scenario: when it was said and the claim categories it makes."""

    start: float
    end: float
    labels: frozenset[str]


@dataclass(frozen=True, slots=True)
class SpeechScore:
    expected: int  # (utterance, category) pairs the script makes
    found: int  # pairs the speech violations name
    correct: int  # pairs in both
    violations: int  # speech claim violations scored
    localised: int  # of them, within the tolerance of their utterance

    @property
    def precision(self) -> float:
        return self.correct / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.expected if self.expected else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def localised_share(self) -> float:
        return self.localised / self.violations if self.violations else 1.0


def utterances_of(timeline: Mapping[str, Any], time_scale: float = 1.0) -> list[Utterance]:
    """A timeline.json's segments (``start``, ``end``, ``labels``); times multiplied by ``time_scale``
    (a stream played faster by a factor f has its times scaled by 1/f)."""
    return [
        Utterance(float(s["start"]) * time_scale, float(s["end"]) * time_scale, frozenset(s["labels"]))
        for s in timeline["segments"]
    ]


def scored_to(utterances: Sequence[Utterance], start: float, end: float) -> int:
    """The index of the utterance ``[start, end]`` overlaps most, else of the nearest one."""

    def overlap(u: Utterance) -> float:
        return min(end, u.end) - max(start, u.start)

    best = max(range(len(utterances)), key=lambda i: overlap(utterances[i]))
    if overlap(utterances[best]) > 0:
        return best
    return best  # overlapping none: the nearest (a negative overlap is minus the gap)


def score_speech(
    utterances: Sequence[Utterance], violations: Iterable[Violation], tolerance_s: float = TOLERANCE_S
) -> SpeechScore:
    """Speech-claim precision, recall and F1 by sentence, and the share localised to it."""
    if not utterances:
        raise ValueError("a scenario without utterances cannot be scored")
    expected = {(i, c) for i, u in enumerate(utterances) for c in u.labels}
    found: set[tuple[int, str]] = set()
    scored = localised = 0
    for v in violations:
        if v.kind != "claim" or v.source != "speech":
            continue
        i = scored_to(utterances, v.offset_s, v.end_offset_s)
        found.add((i, v.category))
        scored += 1
        u = utterances[i]
        if v.offset_s >= u.start - tolerance_s and v.end_offset_s <= u.end + tolerance_s:
            localised += 1
    return SpeechScore(len(expected), len(found), len(expected & found), scored, localised)
