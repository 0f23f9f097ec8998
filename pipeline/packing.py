"""Packing short speech pieces, of any streams, into Whisper's 30-second windows.

Whisper's encoder costs a whole 30 s window whatever the piece's length, so on a CPU a piece per
utterance (what low latency wants) would spend most of the work on padding. Packing lays pieces
end to end in one window with a stretch of silence between them, decodes the window once with
timestamps, and gives each piece back the text whose time falls inside it.

Pure logic on sample counts and times: :func:`pack` groups pieces into windows, :func:`assign`
hands a window's timestamped spans back to its pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

SAMPLE_RATE_HZ = 16_000


@dataclass(frozen=True, slots=True)
class Slot:
    """Where piece ``index`` (of the list given to :func:`pack`) lies in its window, in seconds."""

    index: int
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Window:
    """Pieces decoded together; ``gap_s`` of silence separates neighbours."""

    slots: tuple[Slot, ...]
    gap_s: float

    @property
    def duration_s(self) -> float:
        return self.slots[-1].end_s if self.slots else 0.0


def pack(lengths: Sequence[int], *, max_s: float, gap_s: float) -> list[Window]:
    """Pieces (their sample counts, in queue order) grouped first-fit in order into windows of at
    most ``max_s`` seconds. A piece longer than ``max_s`` gets a window of its own."""
    windows: list[Window] = []
    current: list[Slot] = []
    at = 0.0
    for index, samples in enumerate(lengths):
        length = samples / SAMPLE_RATE_HZ
        start = at + gap_s if current else 0.0
        if current and start + length > max_s:
            windows.append(Window(tuple(current), gap_s))
            current, start = [], 0.0
        current.append(Slot(index, start, start + length))
        at = start + length
    if current:
        windows.append(Window(tuple(current), gap_s))
    return windows


def assign(
    window: Window, spans: Sequence[tuple[float, float, list[int]]]
) -> dict[int, list[tuple[float, float, list[int]]]]:
    """The window's spans ``(start_s, end_s, tokens)`` per piece index, times made relative to
    the piece. A span belongs to the piece its middle falls in (or the nearest one); the middle of
    each gap is the border."""
    out: dict[int, list[tuple[float, float, list[int]]]] = {slot.index: [] for slot in window.slots}
    for start, end, tokens in spans:
        slot = _owner(window, (start + end) / 2)
        length = slot.end_s - slot.start_s
        out[slot.index].append(
            (_clamp(start - slot.start_s, length), _clamp(end - slot.start_s, length), tokens)
        )
    return out


def _owner(window: Window, at_s: float) -> Slot:
    slots = window.slots
    for slot, following in pairwise(slots):
        if at_s < (slot.end_s + following.start_s) / 2:
            return slot
    return slots[-1]


def _clamp(value: float, length: float) -> float:
    return round(min(max(value, 0.0), length), 3)


def needs_repair(
    window: Window, spans: Sequence[tuple[float, float, list[int]]], *, min_overlap_s: float = 0.3
) -> set[int]:
    """Piece indices whose text cannot be trusted to be their own: a span that runs over two or
    more pieces (Whisper read across the silence between them), or a piece no span fell in. Such
    pieces are decoded again, each alone."""
    if len(window.slots) < 2:
        return set()
    doubtful: set[int] = set()
    for start, end, _ in spans:
        covered = [
            s.index for s in window.slots if min(end, s.end_s) - max(start, s.start_s) >= min_overlap_s
        ]
        if len(covered) > 1:
            doubtful.update(covered)
    owned = {index for index, own in assign(window, spans).items() if own}
    doubtful.update(slot.index for slot in window.slots if slot.index not in owned)
    return doubtful
