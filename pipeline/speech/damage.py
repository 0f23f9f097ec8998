"""Damaged audio: stretches that could not be read, files cut short, and the clock kept across them.

A disk or transfer error in the middle of a recording makes the demuxer skip what it cannot read
(Ogg pages failing their checksum, undecodable AAC frames...). Counting decoded samples would then
put everything after the damage early by the length lost: evidence times would be wrong. So the
stream clock follows the container's timestamps instead (:class:`StreamClock`): where a frame
starts later than the audio decoded so far reaches, the decoder puts silence in the missing
stretch and records it as a :class:`Gap`. Later offsets stay where the container puts them, the
archive keeps its alignment with them (evidence clips are cut by offset), and the VAD sends no
silence on. A container without timestamps (raw MP3, WAV) cannot show where; a shortfall against
the duration it declares is reported instead.

A file cut short (a copy or an upload that stopped) is reported too (:attr:`DecodeReport.truncated`):
when it reads shorter than the duration it declares, when its last packet is incomplete, or, for
Ogg, whose declared duration comes from its last page and so shrinks with the cut, when it ends
without an end-of-stream page.

Timestamps that jump back, or forward by more than ``max_gap_s`` (a live source restarting its
clock, not lost audio), are not filled: the clock carries on from the audio decoded so far.

A live source that drops and comes back (:mod:`pipeline.speech.live`) loses the audio broadcast
meanwhile: that is an *outage*, kept apart from damage (``DecodeReport.outages``) but counted like
it in ``unreadable_before``, since the evidence after it has the same hole before it.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

MIN_GAP_S = 0.05  # shorter shortfalls are codec framing and timestamp rounding, not lost audio
_SHORT_TOLERANCE_S = 0.5  # decoded length may differ a little from the declared one (priming, padding)
_OGG_PAGE_MAX = 27 + 255 + 255 * 255  # header, segment table, body


@dataclass(frozen=True, slots=True)
class Gap:
    """``duration_s`` of unreadable audio from ``start_s`` (stream offset), filled with silence."""

    start_s: float
    duration_s: float


@dataclass
class DecodeReport:
    """What was wrong with a source, filled in while it is decoded (pass one to ``decode_pcm``).

    ``start_s`` is the stream offset of the source's first sample (an ingester that reconnects
    carries on its offsets), so gaps are on the stream's clock.
    """

    start_s: float = 0.0
    gaps: list[Gap] = field(default_factory=list)
    truncated: str = ""  # why the file looks cut short; empty when it does not
    declared_s: float | None = None  # the duration the container declares, when it does
    read_s: float = 0.0  # seconds decoded, silence put in gaps included
    outages: list[Gap] = field(default_factory=list)  # a live source gone, then back (silence there)
    earlier_s: float = 0.0  # seconds unreadable in the stream's earlier ingests (archive parts)
    ended: str = ""  # why a live source's audio stopped (gone for good, or unreadable); empty if it ended

    @property
    def damaged(self) -> bool:
        return bool(self.gaps or self.truncated)

    @property
    def unreadable_s(self) -> float:
        return sum(g.duration_s for g in self.gaps)

    def unreadable_before(self, offset_s: float) -> float:
        """Seconds of unreadable audio earlier in the stream than ``offset_s``, outages included."""
        lost = sum(g.duration_s for g in [*self.gaps, *self.outages] if g.start_s < offset_s)
        return round(self.earlier_s + lost, 3)

    def outage_summary(self) -> str:
        """One line on a live source's outages ("6.2 s at 10.0 s"); empty if there were none."""
        shown = ", ".join(f"{g.duration_s:.1f} s at {g.start_s:.1f} s" for g in self.outages[:10])
        more = f" and {len(self.outages) - 10} more" if len(self.outages) > 10 else ""
        return shown + more

    def summary(self) -> str:
        """One line for an operator ("7.0 s of audio unreadable at 53.0 s; ..."); empty if sound."""
        parts: list[str] = []
        if len(self.gaps) == 1:
            gap = self.gaps[0]
            parts.append(f"{gap.duration_s:.1f} s of audio unreadable at {gap.start_s:.1f} s")
        elif self.gaps:
            where = ", ".join(f"{g.start_s:.1f} s ({g.duration_s:.1f} s)" for g in self.gaps[:10])
            more = f" and {len(self.gaps) - 10} more" if len(self.gaps) > 10 else ""
            parts.append(f"{self.unreadable_s:.1f} s of audio unreadable at {where}{more}")
        if self.truncated:
            parts.append(f"cut short ({self.truncated}): {self.read_s:.1f} s could be read")
        return "; ".join(parts)


class StreamClock:
    """Places decoded frames on the container's clock: how much audio is missing before each.

    Seconds count from the first frame with a timestamp (as decoding always has: a stream that
    starts at pts 1.4 s starts at offset 0). ``decoded_s`` is how far the audio handed on reaches.
    """

    def __init__(self, max_gap_s: float, name: str) -> None:
        self.max_gap_s = max_gap_s
        self.name = name
        self._origin_s: float | None = None

    def at_s(self, pts_s: float) -> float:
        """Where a frame at ``pts_s`` belongs, in seconds from the first frame."""
        return pts_s - (self._origin_s or 0.0)

    def missing_s(self, pts_s: float | None, decoded_s: float) -> float:
        """Seconds to fill with silence before a frame at ``pts_s``, the audio reaching ``decoded_s``."""
        if pts_s is None:
            return 0.0
        if self._origin_s is None:
            self._origin_s = pts_s - decoded_s
            return 0.0
        jump = pts_s - self._origin_s - decoded_s
        if -MIN_GAP_S <= jump < MIN_GAP_S:
            return 0.0
        if 0 < jump <= self.max_gap_s:
            return jump
        log.warning(
            "%s: timestamps jump %+.1f s at %.1f s; not filled, the clock carries on from the audio",
            self.name, jump, decoded_s,
        )  # fmt: skip
        self._origin_s = pts_s - decoded_s
        return 0.0


def shortfall(report: DecodeReport, declared_s: float | None) -> str:
    """Why a file reads shorter than it declares, or ''."""
    report.declared_s = declared_s
    if declared_s is None or declared_s - report.read_s <= max(_SHORT_TOLERANCE_S, 0.01 * declared_s):
        return ""
    return f"it declares {declared_s:.1f} s"


def ogg_unfinished(path: Path) -> str:
    """Why an Ogg file looks cut short: it does not end with a whole end-of-stream page; or ''."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - _OGG_PAGE_MAX))
        tail = handle.read()
    at = tail.rfind(b"OggS")
    while at >= 0:
        end = _page_end(tail, at)
        if end is not None:
            if end < len(tail):
                return "it ends inside an Ogg page, before its end-of-stream page"
            flags = tail[at + 5]
            return "" if flags & 0x04 else "it ends without an Ogg end-of-stream page"
        at = tail.rfind(b"OggS", 0, at)  # a partial page (or the pattern inside audio data)
    return "no whole Ogg page at its end (no end-of-stream page)"


def _page_end(data: bytes, at: int) -> int | None:
    """Where the Ogg page starting at ``at`` ends, when the whole page is in ``data``."""
    if len(data) < at + 27 or data[at + 4] != 0:
        return None
    (count,) = struct.unpack_from("B", data, at + 26)
    table = data[at + 27 : at + 27 + count]
    end = at + 27 + count + sum(table)
    return end if len(table) == count and end <= len(data) else None
