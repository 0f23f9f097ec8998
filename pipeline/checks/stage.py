"""Which product an anchor is presenting (讲解中), and the per-stream state of the listing checks.

An ``explain`` listing event puts its listing on stage; claims heard from then on are attributed to
it until another ``explain`` or its own ``off_shelf`` (DESIGN.md §3.3). Transcripts lag the audio
while listing events arrive at once, so the stage is kept as a timeline and asked "what was on
stage at time t", not "what is on stage now".
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline.records import ListingEvent, TranscriptSegment, decode, parse_datetime, to_dict

MAX_STAGE_CHANGES = 256
"""Stage changes kept per stream; older ones are forgotten (transcripts lag seconds, not hours)."""


@dataclass(slots=True)
class StageTimeline:
    """The stage changes of one stream, in time order: (time, listing presented or None)."""

    changes: list[tuple[datetime, ListingEvent | None]] = field(default_factory=list)

    def record(self, event: ListingEvent) -> None:
        """Note an ``explain`` (on stage) or an ``off_shelf`` of the listing on stage (off stage)."""
        if event.event == "explain":
            self._insert(event.ts, event)
        elif event.event == "off_shelf":
            current = self.at(event.ts)
            if current is not None and current.listing_id == event.listing_id:
                self._insert(event.ts, None)

    def at(self, ts: datetime) -> ListingEvent | None:
        """The listing on stage at ``ts`` (the latest change at or before it)."""
        index = bisect.bisect_right(self.changes, ts, key=lambda change: change[0])
        return self.changes[index - 1][1] if index else None

    def _insert(self, ts: datetime, listing: ListingEvent | None) -> None:
        bisect.insort_right(self.changes, (ts, listing), key=lambda change: change[0])
        del self.changes[:-MAX_STAGE_CHANGES]


@dataclass(slots=True)
class StreamState:
    """What the listing checks remember of one stream."""

    stage: StageTimeline = field(default_factory=StageTimeline)
    started_at: datetime | None = None
    fired: set[tuple[str, str]] = field(default_factory=set)
    stored: set[tuple[str, str]] = field(default_factory=set)  # fired, and its violation stored

    def fire(self, listing_id: str, category: str) -> bool:
        """True the first time a (listing, category) pair fires in this stream, False after."""
        key = (listing_id, category)
        if key in self.fired:
            return False
        self.fired.add(key)
        return True

    def confirm(self, listing_id: str, category: str) -> None:
        """The violation of a pair that fired is stored: a snapshot may now say it fired. Until
        then it does not, so a worker that takes the stream over from a snapshot taken while the
        violation was on its way fires it again (the same event id) instead of losing it."""
        key = (listing_id, category)
        if key in self.fired:
            self.stored.add(key)

    def snapshot(self) -> dict[str, Any]:
        """The state as JSON-ready data (a worker keeps it in a changelog-backed table)."""
        return {
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "stage": [[ts.isoformat(), to_dict(e) if e else None] for ts, e in self.stage.changes],
            "fired": sorted([list(pair) for pair in self.stored]),
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> StreamState:
        """The state a :meth:`snapshot` describes."""
        state = cls(started_at=parse_datetime(data["started_at"]) if data.get("started_at") else None)
        state.stage.changes = [
            (parse_datetime(ts), decode(ListingEvent, e) if e else None) for ts, e in data.get("stage", [])
        ]
        state.fired = {(listing, category) for listing, category in data.get("fired", [])}
        state.stored = set(state.fired)
        return state

    def time_of(self, offset_s: float) -> datetime:
        """The wall-clock time ``offset_s`` seconds into the stream."""
        if self.started_at is None:
            raise ValueError("the stream's start is not known")
        return self.started_at + timedelta(seconds=offset_s)

    def offset_of(self, ts: datetime) -> float:
        """Seconds from the stream's start to ``ts`` (0 when before it or unknown)."""
        if self.started_at is None:
            return 0.0
        return max(0.0, round((ts - self.started_at).total_seconds(), 3))

    def span(
        self, event: ListingEvent, segment: TranscriptSegment | None, chars: tuple[int, int] = (0, 0)
    ) -> tuple[datetime, float, float]:
        """When a violation happened: for speech the time of the sentence holding ``chars`` of the
        segment, for a listing the event's."""
        if segment is not None:
            sentence = segment.sentence_at(*chars)
            return self.time_of(sentence.offset_s), sentence.offset_s, sentence.end_offset_s
        offset = self.offset_of(event.ts)
        return event.ts, offset, offset
