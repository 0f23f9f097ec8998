"""The violation page's player: the clip it plays, where the claim lies in it, and the transcript
lines a reader clicks to seek (``static/player.js`` does the seeking; the CSP allows no inline
script, so everything it needs is in ``data-`` attributes of the page).

The console's clip spans the transcript the page shows around the violation (``evidence_context_s``
either side, at most :data:`MAX_SIDE_S`), so every line of it can be played, and the player starts
at the claim. The evidence bundle keeps its own shorter clip: the sentence and its padding
(:meth:`pipeline.reporting.casefile.Case.clip_bounds`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.reporting.casefile import Case

MAX_SIDE_S = 120.0  # the most audio the console's clip holds on either side of the claim


@dataclass(frozen=True, slots=True)
class Line:
    """One transcript line: its place in the stream and in the clip, its text cut around the claim."""

    offset_s: float  # into the stream, as the page shows it
    at_s: float | None  # into the clip, where a click seeks; None when the clip does not hold it
    before: str
    term: str  # the claim's term inside the line ("" when the line does not hold it)
    after: str
    hit: bool  # the line the claim was said in


@dataclass(frozen=True, slots=True)
class Player:
    """The clip's bounds in the stream and the claim's place in the clip, in seconds."""

    start_s: float
    end_s: float
    hit_s: float
    hit_end_s: float
    lines: tuple[Line, ...]

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def percent(self, at_s: float) -> float:
        """Where ``at_s`` into the clip lies on its timeline, 0-100."""
        if self.duration_s <= 0:
            return 0.0
        return round(min(100.0, max(0.0, 100.0 * at_s / self.duration_s)), 3)


def around(text: str, term: str) -> tuple[str, str, str]:
    """``text`` cut around the first ``term`` in it (before, term, after), to mark the claim in its
    sentence; the whole text before an empty term or one it does not hold."""
    at = text.find(term) if term else -1
    if at < 0:
        return text, "", ""
    return text[:at], term, text[at + len(term) :]


def is_hit(segment: Mapping[str, Any], violation: Mapping[str, Any]) -> bool:
    """Whether a transcript segment overlaps the violation's time."""
    return bool(
        float(segment["end_offset_s"]) >= float(violation["offset_s"])
        and float(segment["offset_s"]) <= float(violation["end_offset_s"])
    )


def player_bounds(
    violation: Mapping[str, Any], transcript: Sequence[Mapping[str, Any]], padding_s: float
) -> tuple[float, float]:
    """The console's clip: the violation with ``padding_s`` either side, widened to the transcript
    lines shown around it (at most :data:`MAX_SIDE_S` either side of the violation)."""
    start, end = float(violation["offset_s"]), float(violation["end_offset_s"])
    if end < start:
        raise ValueError(f"violation {violation.get('event_id')}: ends ({end}) before it starts ({start})")
    low = min([start - padding_s, *(float(s["offset_s"]) for s in transcript)])
    high = max([end + padding_s, *(float(s["end_offset_s"]) for s in transcript)])
    return max(0.0, low, start - MAX_SIDE_S), min(high, end + MAX_SIDE_S)


def player_of(case: Case, padding_s: float) -> Player:
    """The player of a case: its clip, the claim in it and the transcript lines to seek to."""
    v = case.violation
    start, end = player_bounds(v, case.transcript, padding_s)
    terms = [t for t in (str(v.get("term") or ""), str(v.get("read_as") or "")) if t]
    lines = []
    for s in case.transcript:
        offset = float(s["offset_s"])
        hit = is_hit(s, v)
        text = str(s.get("text") or "")
        found = next((t for t in terms if t in text), "") if hit else ""
        at = round(offset - start, 3) if start <= offset <= end else None
        lines.append(Line(offset, at, *around(text, found), hit))
    return Player(
        start_s=start,
        end_s=end,
        hit_s=round(float(v["offset_s"]) - start, 3),
        hit_end_s=round(float(v["end_offset_s"]) - start, 3),
        lines=tuple(lines),
    )


def heard_and_read(violation: Mapping[str, Any]) -> tuple[str, str] | None:
    """(what the recogniser wrote, the claim it was read as) for a term heard through a homophone
    or a glitch; None for a term read as written."""
    term, read_as = str(violation.get("term") or ""), str(violation.get("read_as") or "")
    return (term, read_as) if read_as and read_as != term else None
