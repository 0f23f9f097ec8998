"""The monitor: everything a stream's events turn into violations, as one piece of stage logic.

A :class:`Monitor` holds the claim detector and the listing checker (:mod:`pipeline.checks`) with
the per-stream facts they need, and answers each event with its violations:

- ``on_stream(info)``: a stream began (who broadcasts it, for which MCN, since when);
- ``on_listing(event)``: listing checks and listing-text claims (the checker's work);
- ``on_segment(segment)``: claims heard in speech (kind ``claim``, source ``speech``), attributed to
  the product on stage when they were said, then the cross check of efficacy claims.

The same object serves the faust worker (one event at a time) and ``claimwatch analyze``
(:meth:`replay`, a recorded stream in time order), so both give the same event ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from pipeline.checks import ClaimDetector, ListingChecker
from pipeline.records import (
    Claim,
    ListingEvent,
    StreamInfo,
    TranscriptSegment,
    Violation,
    stable_id,
    to_dict,
)


@dataclass(frozen=True, slots=True)
class UnknownStream(Exception):
    """A segment arrived for a stream the monitor was never told about."""

    stream_id: str

    def __str__(self) -> str:
        return f"no stream info for {self.stream_id!r} (its ingest must announce it first)"


class Monitor:
    """Detector + listing checker + the streams they watch (see the module docstring)."""

    def __init__(self, detector: ClaimDetector, checker: ListingChecker) -> None:
        self.detector = detector
        self.checker = checker
        self.streams: dict[str, StreamInfo] = {}

    def on_stream(self, info: StreamInfo) -> None:
        self.streams[info.stream_id] = info
        self.checker.on_stream(info.stream_id, info.started_at)

    def end_stream(self, stream_id: str) -> None:
        self.streams.pop(stream_id, None)
        self.checker.end_stream(stream_id)

    def on_listing(self, event: ListingEvent) -> list[Violation]:
        return self.checker.on_listing(event)

    def on_segment(self, segment: TranscriptSegment) -> list[Violation]:
        """Claims heard in ``segment`` and the cross checks they trigger."""
        info = self.streams.get(segment.stream_id)
        if info is None:
            raise UnknownStream(segment.stream_id)
        claims = self.detector.detect(segment.text, source="speech")
        if not claims:
            return []
        on_stage = self.checker.on_stage(segment.stream_id, segment.offset_s)
        by_category: dict[str, list[Claim]] = {}
        for claim in claims:
            by_category.setdefault(claim.category, []).append(claim)
        out = [speech_violation(info, segment, group, on_stage) for group in by_category.values()]
        return out + self.checker.on_claims(segment, claims)

    def replay(
        self, info: StreamInfo, listings: Iterable[ListingEvent], segments: Iterable[TranscriptSegment]
    ) -> list[Violation]:
        """A recorded stream: its events in time order (a listing first on the same instant)."""
        self.on_stream(info)
        timed: list[tuple[float, int, ListingEvent | TranscriptSegment]] = [
            ((e.ts - info.started_at).total_seconds(), 0, e)
            for e in listings
            if e.stream_id == info.stream_id
        ]
        timed += [(s.offset_s, 1, s) for s in segments]
        out: list[Violation] = []
        for _, _, item in sorted(timed, key=lambda t: (t[0], t[1])):
            out += self.on_listing(item) if isinstance(item, ListingEvent) else self.on_segment(item)
        return sorted(out, key=lambda v: (v.offset_s, v.event_id))


_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}


def speech_violation(
    info: StreamInfo, segment: TranscriptSegment, claims: list[Claim], on_stage: ListingEvent | None
) -> Violation:
    """The claims of one category heard in one segment, as one violation.

    The most severe claim (the first of equals) names the term and rule; all of them are in the
    evidence. The id depends on the segment (itself derived from the audio alone) and the
    category, not on the recognised characters, so the same claim in the same stretch of audio
    keeps its id however the words were transcribed.
    """
    claim = max(claims, key=lambda c: _SEVERITY_RANK[c.severity])
    return Violation(
        event_id=stable_id(info.stream_id, "speech", segment.segment_id, claim.category),
        stream_id=info.stream_id,
        anchor_id=info.anchor_id,
        mcn_id=info.mcn_id,
        kind="claim",
        category=claim.category,
        severity=claim.severity,
        ts=info.started_at + timedelta(seconds=segment.offset_s),
        offset_s=segment.offset_s,
        end_offset_s=segment.end_offset_s,
        source="speech",
        listing_id=on_stage.listing_id if on_stage else None,
        product_id=on_stage.product_id if on_stage else None,
        text=segment.text,
        term=claim.term,
        rule_id=claim.rule_id,
        legal_basis=claim.legal_basis,
        lexicon_version=claim.lexicon_version,
        rewrite=claim.rewrite,
        evidence={
            "segment": to_dict(segment),
            "claims": [to_dict(c) for c in claims],
            "listing": to_dict(on_stage) if on_stage else None,
            "asr_low_confidence": segment.low_confidence,
        },
    )
