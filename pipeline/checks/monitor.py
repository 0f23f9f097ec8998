"""The monitor: everything a stream's events turn into violations, as one piece of stage logic.

A :class:`Monitor` holds the claim detector and the listing checker (:mod:`pipeline.checks.listing`)
with the facts of the streams it watches, and answers each event with its violations:

- ``on_stream(info)``: a stream began or ended (who broadcasts it, for which MCN, since when);
- ``on_listing(event)``: listing checks and listing-text claims (the checker's work);
- ``on_segment(segment)``: claims heard in speech (kind ``claim``, source ``speech``), attributed to
  the product on stage when they were said, then the cross check of efficacy claims.

It also offers what the wiring around it needs, so no caller reaches through it: the ledger
(``load_ledger``, ``on_ledger``, ``on_ledger_removed``, ``ledger_entry``), a stream's state as data
(``snapshot``, ``restore``, ``restore_events``) and its release (``end_stream``).

A stream's party (its MCN and anchor) is its registration's, the stream record's, never what a
listing event or a speech piece says of itself: a record that names another MCN or anchor than the
registration is refused with :class:`~pipeline.errors.TenantMismatch` (a record error: the worker
dead-letters it, ``claimwatch analyze`` reports and skips it), and so is the stream id registered
again by another MCN or anchor. A listing seen before its stream's registration is checked as it
says; when the registration comes, a listing of another party leaves the stream's stage.

The same object serves the faust worker (one event at a time) and ``claimwatch analyze``
(:meth:`replay`, a recorded stream in time order), so both give the same event ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipeline.checks.cards import CardBook, Statement, load_card_rules
from pipeline.checks.listing import ClaimDetector, ListingChecker
from pipeline.checks.stage import StreamState
from pipeline.checks.violations import Charge, violation
from pipeline.claims import load_detector
from pipeline.config import LEXICON_DIR
from pipeline.errors import ClaimWatchError, TenantMismatch
from pipeline.ledger.qualifications import QualificationRules, load_rules
from pipeline.records import (
    AudioChunk,
    Card,
    Claim,
    Evidence,
    LedgerEntry,
    ListingEvent,
    StreamInfo,
    TranscriptSegment,
    Violation,
    decode,
    to_dict,
)


class UnknownStream(ClaimWatchError):
    """A segment arrived for a stream the monitor was never told about.

    Not a frozen dataclass: Python cannot set ``__traceback__`` on a frozen, slotted exception
    raised through a ``with`` block (its ``__setattr__`` calls ``super()`` with the class the
    slots replaced), and the TypeError that raises instead hides this error."""

    def __init__(self, stream_id: str) -> None:
        self.stream_id = stream_id
        super().__init__(f"no stream info for {stream_id!r} (its ingest must announce it first)")


def tenant_mismatch(
    info: StreamInfo, record: StreamInfo | ListingEvent | AudioChunk
) -> TenantMismatch | None:
    """The error when ``record`` names another MCN or anchor than the stream's registration
    ``info``, else None. A speech piece that carries no stream facts (blank) names nobody."""
    for name in ("mcn_id", "anchor_id"):
        said, registered = getattr(record, name), getattr(info, name)
        if said != registered and (said or not isinstance(record, AudioChunk)):
            return TenantMismatch(info.stream_id, name, said, registered)
    return None


class Monitor:
    """Detector + listing checker + the streams they watch (see the module docstring)."""

    def __init__(
        self, detector: ClaimDetector, checker: ListingChecker, cards: CardBook | None = None
    ) -> None:
        self.detector = detector
        self.checker = checker
        self.cards = cards
        self.streams: dict[str, StreamInfo] = {}

    @property
    def rules(self) -> QualificationRules:
        """The qualification rules the checks apply (to read a ledger file with)."""
        return self.checker.rules

    # -- the ledger ------------------------------------------------------------------------------

    def load_ledger(self, entries: Iterable[LedgerEntry]) -> None:
        """Ledger rows of any MCNs (a warehouse's current ledger, or a file's)."""
        self.checker.ledger.put_all(entries)

    def on_ledger(self, entry: LedgerEntry) -> None:
        self.checker.on_ledger(entry)

    def on_ledger_removed(self, mcn_id: str, product_id: str) -> None:
        self.checker.on_ledger_removed(mcn_id, product_id)

    def ledger_entry(self, mcn_id: str, product_id: str) -> LedgerEntry | None:
        return self.checker.ledger.get(mcn_id, product_id)

    # -- selling-point cards -----------------------------------------------------------------------

    def load_cards(self, cards: Iterable[Card]) -> None:
        """Approved cards (the warehouse's cards in force, or files given to analyze); not drafts."""
        if self.cards is not None:
            self.cards.put_all(cards)

    # -- streams -------------------------------------------------------------------------------------

    def knows(self, stream_id: str) -> bool:
        return stream_id in self.streams

    def stream(self, stream_id: str) -> StreamInfo | None:
        return self.streams.get(stream_id)

    def on_stream(self, info: StreamInfo) -> None:
        """A stream's facts: at its start, and again (with ``ended_at``) at its end. The first
        registers the stream's party; one that names another (the id registered again by another
        MCN) is refused (:class:`TenantMismatch`), the registration kept."""
        registered = self.streams.get(info.stream_id)
        if registered is not None and (mismatch := tenant_mismatch(registered, info)):
            raise mismatch
        self.streams[info.stream_id] = info
        self.checker.on_stream(info.stream_id, info.started_at)
        state = self.checker.stream_state(info.stream_id)
        if registered is None and state is not None:  # listings seen before the registration
            state.stage.changes = [
                (ts, e) for ts, e in state.stage.changes if e is None or tenant_mismatch(info, e) is None
            ]

    def end_stream(self, stream_id: str) -> None:
        """Forget a stream: its facts and what the checks remembered of it."""
        self.streams.pop(stream_id, None)
        self.checker.end_stream(stream_id)

    def confirm(self, stored: Iterable[Violation]) -> None:
        """These violations are in the warehouse: the listing checks that fired them may say so in
        a snapshot (:meth:`StreamState.confirm`). Speech claims are not such checks."""
        for v in stored:
            state = self.checker.stream_state(v.stream_id)
            if state is not None and v.listing_id and not (v.kind == "claim" and v.source == "speech"):
                state.confirm(v.listing_id, v.category)

    def snapshot(self, stream_id: str) -> dict[str, Any] | None:
        """A stream's facts and state as JSON-ready data (a worker keeps it in a table)."""
        info = self.streams.get(stream_id)
        state = self.checker.stream_state(stream_id)
        if info is None or state is None:
            return None
        return {"info": to_dict(info), "state": state.snapshot()}

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Take back a stream that a :meth:`snapshot` describes (after a restart or rebalance)."""
        info = decode(StreamInfo, snapshot["info"])
        self.on_stream(info)
        self.checker.restore_stream(info.stream_id, StreamState.restore(snapshot["state"]))

    def restore_events(
        self, info: StreamInfo, events: Iterable[ListingEvent], fired: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Take back a stream from its facts, the listing events that moved its stage and the
        (listing, check) pairs whose violations are stored."""
        self.on_stream(info)
        state = self.checker.stream_state(info.stream_id)
        if state is not None:
            for event in events:
                if tenant_mismatch(info, event) is None:
                    state.stage.record(event)
            state.fired |= set(fired)
            state.stored |= set(fired)

    # -- events --------------------------------------------------------------------------------------

    def on_listing(self, event: ListingEvent) -> list[Violation]:
        """A listing event's violations, of its stream's registered party; one naming another MCN
        or anchor is refused (:class:`TenantMismatch`) and changes nothing."""
        info = self.streams.get(event.stream_id)
        if info is not None and (mismatch := tenant_mismatch(info, event)):
            raise mismatch
        return self.checker.on_listing(event, party=info)

    def on_segment(self, segment: TranscriptSegment) -> list[Violation]:
        """Claims heard in ``segment``, the cross checks they trigger, and what is off the card of
        the product on stage (docs/cards.md)."""
        info = self.streams.get(segment.stream_id)
        if info is None:
            raise UnknownStream(segment.stream_id)
        claims = self.detector.detect(segment.text, source="speech")
        on_stage = self.checker.on_stage(segment.stream_id, segment.offset_s)
        off_claims, statements = self._off_card(info, on_stage, claims, segment.text)
        by_category: dict[str, list[Claim]] = {}
        for claim in claims:
            by_category.setdefault(claim.category, []).append(claim)
        out = [
            speech_violation(info, segment, g, on_stage, off_card=any(id(c) in off_claims for c in g))
            for g in by_category.values()
        ]
        if statements and on_stage is not None:
            out.append(self._off_card_statement(info, segment, statements, on_stage))
        return out + (self.checker.on_claims(segment, claims, party=info) if claims else [])

    def _off_card(
        self, info: StreamInfo, on_stage: ListingEvent | None, claims: list[Claim], text: str
    ) -> tuple[set[int], list[Statement]]:
        if self.cards is None or on_stage is None:
            return set(), []
        terms = self.cards.get(info.mcn_id, self.checker.product_id_of(on_stage, party=info))
        if terms is None:
            return set(), []
        off_claims, statements = self.cards.off_card(terms, claims, text)
        title = on_stage.title.lower()  # naming the product (玻尿酸保湿面霜) is no statement about it
        return off_claims, [s for s in statements if s.term not in title]

    def _off_card_statement(
        self,
        info: StreamInfo,
        segment: TranscriptSegment,
        statements: list[Statement],
        on_stage: ListingEvent,
    ) -> Violation:
        """Statements (origin, material, effect, spec) the product's approved card does not make:
        one violation of kind ``ledger``, category ``off_card`` per segment."""
        rule = self.checker.rules.checks["off_card"]
        first = statements[0]
        sentence = segment.sentence_at(first.start, first.end)
        product_id = self.checker.product_id_of(on_stage, party=info)
        terms = self.cards.get(info.mcn_id, product_id) if self.cards else None
        version = terms.card.version if terms else 0
        said_ = statements
        said = ", ".join(f"{s.term} ({s.kind})" for s in said_)
        evidence = Evidence(
            reason=f"not on the approved card (version {version}) of {product_id}: {said}",
            listing=on_stage, segment=segment, asr_low_confidence=segment.low_confidence,
            unreadable_before_s=segment.unreadable_before_s,
            extra={"statements": [{"rule_id": s.rule_id, "kind": s.kind, "term": s.term} for s in said_]},
        )  # fmt: skip
        charge = Charge(
            rule.kind, "off_card", rule.severity, first.term, rule.rule_id, rule.legal_basis,
            self.checker.rules.version,
        )  # fmt: skip
        at = info.started_at + timedelta(seconds=sentence.offset_s)
        return violation(
            info, charge, key=("speech", segment.segment_id, "off_card"),
            when=(at, sentence.offset_s, sentence.end_offset_s), source="speech",
            text=segment.text[sentence.start : sentence.end], evidence=evidence,
            listing_id=on_stage.listing_id, product_id=product_id, off_card=True,
        )  # fmt: skip

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


def build_monitor(lexicon_dir: Path = LEXICON_DIR) -> Monitor:
    """The monitor with the lexicons and qualification rules of ``lexicon_dir``."""
    detector = load_detector(lexicon_dir)
    cards = CardBook(detector, load_card_rules(lexicon_dir))
    return Monitor(detector, ListingChecker(load_rules(lexicon_dir), detector), cards)


_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}


def speech_violation(
    info: StreamInfo,
    segment: TranscriptSegment,
    claims: list[Claim],
    on_stage: ListingEvent | None,
    *,
    off_card: bool = False,
) -> Violation:
    """The claims of one category heard in one segment, as one violation.

    The most severe claim (the first of equals) names the term and rule; all of them are in the
    evidence. The violation is placed in the sentence that holds that claim (its text and times;
    the whole piece stays in the evidence as context). The id depends on the segment (itself
    derived from the audio alone) and the category, not on the recognised characters, so the same
    claim in the same stretch of audio keeps its id however the words were transcribed.
    """
    claim = max(claims, key=lambda c: _SEVERITY_RANK[c.severity])
    sentence = segment.sentence_at(claim.start, claim.end)
    at = info.started_at + timedelta(seconds=sentence.offset_s)
    evidence = Evidence(
        listing=on_stage, claims=tuple(claims), segment=segment, asr_low_confidence=segment.low_confidence,
        unreadable_before_s=segment.unreadable_before_s,
    )  # fmt: skip
    return violation(
        info, Charge.of_claim(claim), key=("speech", segment.segment_id, claim.category),
        when=(at, sentence.offset_s, sentence.end_offset_s),
        source="speech", text=segment.text[sentence.start : sentence.end], evidence=evidence,
        listing_id=on_stage.listing_id if on_stage else None,
        product_id=on_stage.product_id if on_stage else None, off_card=off_card,
    )  # fmt: skip
