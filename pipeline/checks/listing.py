"""Listing and cross checks (DESIGN.md §3.4): pure stage logic, no I/O, no broker, no warehouse.

For every listing event (on the shelf or being presented) the checks ask: is the product on the
MCN's selection ledger (``off_ledger``) and approved there (``ledger_not_approved``); does the listing
or its ledger row hold the qualifications its category requires (``missing_qualification``,
``expired_qualification`` at the event time, ``invalid_qualification`` for a malformed number); do
its title and selling points make claims (kind ``claim``, source ``listing``); and is an efficacy
claim, in the listing or heard while the product is presented, covered by a valid registration
(``efficacy_without_registration``)?

The findings are pure functions of a listing, its ledger row and the rules (:func:`find_problems`,
:func:`uncovered_claims`). :class:`ListingChecker` keeps the state a streaming worker needs (the
ledger by (mcn_id, product_id), the product on stage per stream, which (listing, category) pairs
already fired) and turns findings into :class:`Violation` records: one per (listing, category) per
stream, with a deterministic ``event_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pipeline.checks.stage import StreamState
from pipeline.checks.violations import Charge, Party, violation
from pipeline.ledger.matching import LedgerIndex, Match
from pipeline.ledger.qualifications import QualificationRules, normalise_number
from pipeline.records import (
    Claim,
    Evidence,
    HeldQualification,
    LedgerEntry,
    ListingEvent,
    Qualification,
    Source,
    TranscriptSegment,
    Violation,
)


class ClaimDetector(Protocol):
    """What the checks need of the claim detector (``pipeline.claims.Detector``)."""

    def detect(self, text: str, *, source: Source = "speech") -> list[Claim]: ...


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem a check found: the check's name, what it is about, and why."""

    check: str
    term: str
    reason: str
    qualification_type: str = ""
    details: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Pure checks


def held_qualifications(event: ListingEvent, entry: LedgerEntry | None) -> tuple[HeldQualification, ...]:
    """The listing's qualifications and its ledger row's, once each (same type and number).

    A number shown on the listing without ``valid_to`` takes the ledger row's ``valid_to``.
    """
    ledger = {(q.type, normalise_number(q.number)): q for q in (entry.qualifications if entry else ())}
    held: list[HeldQualification] = []
    for shown in event.qualifications:
        known = ledger.pop((shown.type, normalise_number(shown.number)), None)
        if shown.valid_to is None and known is not None and known.valid_to is not None:
            shown = Qualification(shown.type, shown.number, known.valid_to, shown.extra)  # noqa: PLW2901
        held.append(HeldQualification(shown, "listing"))
    held.extend(HeldQualification(q, "ledger") for q in ledger.values())
    return tuple(held)


def find_problems(event: ListingEvent, match: Match | None, rules: QualificationRules) -> list[Finding]:
    """The ledger and qualification findings for a listing event at its own time."""
    entry = match.entry if match else None
    held = held_qualifications(event, entry)
    return [*ledger_problems(event, match), *qualification_problems(event, entry, held, rules)]


def ledger_problems(event: ListingEvent, match: Match | None) -> list[Finding]:
    """``off_ledger`` when no row of the MCN matches; ``ledger_not_approved`` when it is not approved."""
    if match is None:
        how = f"product_id {event.product_id!r}" if event.product_id else f"brand {event.brand!r} + title"
        return [Finding("off_ledger", event.title, f"no ledger row of {event.mcn_id} matches ({how})")]
    if match.entry.status != "approved":
        reason = f"ledger row {match.entry.product_id} is {match.entry.status}, not approved"
        return [Finding("ledger_not_approved", match.entry.status, reason)]
    return []


def qualification_problems(
    event: ListingEvent,
    entry: LedgerEntry | None,
    held: Sequence[HeldQualification],
    rules: QualificationRules,
) -> list[Finding]:
    """Missing or expired required qualifications (never both for one requirement), malformed numbers."""
    categories = (event.category, entry.category) if entry else (event.category,)
    found: list[Finding] = []
    for requirement in rules.requirements(*categories):
        candidates = [h.qualification for h in held if h.qualification.type in requirement.any_of]
        states = [rules.state(q, event.ts) for q in candidates]
        wanted = "/".join(requirement.any_of)
        if not candidates:
            reason = f"category {event.category} requires {wanted}; none is shown or on the ledger"
            found.append(Finding("missing_qualification", wanted, reason, requirement.any_of[0]))
        elif "valid" not in states and "expired" in states:
            q = candidates[states.index("expired")]
            reason = f"{q.type} {q.number} expired on {q.valid_to} (event {event.ts.date()})"
            found.append(Finding("expired_qualification", q.number, reason, q.type))
    for h in held:
        if rules.state(h.qualification, event.ts) == "invalid":
            q = h.qualification
            reason = f"{q.number!r} (on the {h.shown_on}) does not fit the format of {q.type}"
            found.append(Finding("invalid_qualification", q.number, reason, q.type))
    return found


def uncovered_claims(
    claims: Iterable[Claim], held: Sequence[HeldQualification], rules: QualificationRules, at: datetime
) -> list[tuple[Claim, Finding]]:
    """Efficacy claims (``Claim.requires``) that no valid qualification of a required type covers.

    Valid means a known type, a well-formed number and not expired at ``at``.
    """
    found: list[tuple[Claim, Finding]] = []
    for claim in claims:
        if not claim.requires:
            continue
        covering = [h for h in held if h.qualification.type in claim.requires]
        if any(rules.state(h.qualification, at) == "valid" for h in covering):
            continue
        have = ", ".join(f"{h.qualification.type} {h.qualification.number}" for h in held) or "nothing"
        reason = f"{claim.term!r} needs {'/'.join(claim.requires)} valid at {at.date()}; holds {have}"
        finding = Finding("efficacy_without_registration", claim.term, reason, claim.requires[0])
        found.append((claim, finding))
    return found


# ---------------------------------------------------------------------------------------------
# State for a streaming worker


@dataclass(frozen=True, slots=True)
class Subject:
    """A listing under check: the event (snapshot), its ledger match, what the product holds, and
    whose it is (the stream's registration; the event itself when its stream is not registered)."""

    event: ListingEvent
    match: Match | None
    held: tuple[HeldQualification, ...]
    party: Party

    @property
    def product_id(self) -> str | None:
        return self.match.entry.product_id if self.match else self.event.product_id


class ListingChecker:
    """The checks with the state a worker keeps; call it per event, in any order of topics.

    - :meth:`on_ledger` / :meth:`on_ledger_removed` keep the ledger rows (a compacted topic).
    - :meth:`on_stream` records a stream's start (to place speech on the listing timeline).
    - :meth:`on_listing` checks a listing event and tracks the product on stage.
    - :meth:`on_claims` (or :meth:`on_segment`, which runs the detector) cross-checks claims heard in
      speech against the product being presented when they were said.
    """

    def __init__(
        self,
        rules: QualificationRules,
        detector: ClaimDetector | None = None,
        ledger: LedgerIndex | None = None,
    ) -> None:
        self.rules = rules
        self.detector = detector
        self.ledger = ledger if ledger is not None else LedgerIndex()
        self.streams: dict[str, StreamState] = {}

    # ledger and streams

    def on_ledger(self, entry: LedgerEntry) -> None:
        """Add or replace a ledger row."""
        self.ledger.put(entry)

    def on_ledger_removed(self, mcn_id: str, product_id: str) -> None:
        self.ledger.remove(mcn_id, product_id)

    def on_stream(self, stream_id: str, started_at: datetime) -> None:
        """The stream's start time: speech offsets count from it."""
        self._state(stream_id).started_at = started_at

    def stream_state(self, stream_id: str) -> StreamState | None:
        """What the checks remember of a stream (to keep it in a worker's table), if anything."""
        return self.streams.get(stream_id)

    def restore_stream(self, stream_id: str, state: StreamState) -> None:
        """Take back a stream's state after a restart or a rebalance."""
        self.streams[stream_id] = state

    def end_stream(self, stream_id: str) -> None:
        """Forget a finished stream's state."""
        self.streams.pop(stream_id, None)

    def on_stage(self, stream_id: str, offset_s: float) -> ListingEvent | None:
        """The listing being presented at ``offset_s`` seconds into the stream, if any."""
        state = self.streams.get(stream_id)
        if state is None or state.started_at is None:
            return None
        return state.stage.at(state.time_of(offset_s))

    def product_id_of(self, event: ListingEvent, party: Party | None = None) -> str | None:
        """The ledger product a listing stands for (its product_id, else its ledger match)."""
        return self._subject(event, party).product_id

    # listing events

    def on_listing(self, event: ListingEvent, party: Party | None = None) -> list[Violation]:
        """Check a listing event; ``explain``/``off_shelf`` also move the product on stage.
        ``party``: whose stream it is (its registration; the event's own when None): the ledger
        matched and the violations attributed are that party's."""
        state = self._state(event.stream_id)
        if state.started_at is None:
            state.started_at = event.ts  # no stream start given: its first card marks the start
        state.stage.record(event)
        if event.event == "off_shelf":
            return []
        subject = self._subject(event, party)
        found: list[tuple[Finding, str, Claim | None]]
        found = [(f, event.title, None) for f in find_problems(event, subject.match, self.rules)]
        claims: list[tuple[str, str, Claim]] = []
        for name, text in (("title", event.title), ("selling_points", event.selling_points or "")):
            detected = self.detector.detect(text, source="listing") if self.detector and text else []
            uncovered = uncovered_claims(detected, subject.held, self.rules, event.ts)
            found += [(f, text, c) for c, f in uncovered]
            # every claim of the text is a claim violation, but an efficacy claim a valid
            # registration covers, which the product may lawfully make
            unlawful = {id(c) for c, _ in uncovered}
            claims += [(name, text, c) for c in detected if not c.requires or id(c) in unlawful]
        out = [self._check(state, subject, f, text=text, claim=c) for f, text, c in found]
        out += [self._listing_claim(state, subject, c, name, text) for name, text, c in claims]
        return [v for v in out if v is not None]

    # speech

    def on_segment(self, segment: TranscriptSegment) -> list[Violation]:
        """Run the detector on a transcript segment, then :meth:`on_claims`."""
        if self.detector is None:
            raise ValueError("on_segment needs a detector; pass claims to on_claims instead")
        return self.on_claims(segment, self.detector.detect(segment.text, source="speech"))

    def on_claims(
        self, segment: TranscriptSegment, claims: Sequence[Claim], party: Party | None = None
    ) -> list[Violation]:
        """Cross-check efficacy claims heard in a segment against the product on stage then
        (``party``: the stream's registration, as for :meth:`on_listing`)."""
        listing = self.on_stage(segment.stream_id, segment.offset_s)
        if listing is None or not any(c.requires for c in claims):
            return []
        state = self.streams[segment.stream_id]
        subject = self._subject(listing, party)
        uncovered = uncovered_claims(claims, subject.held, self.rules, state.time_of(segment.offset_s))
        out = [
            self._check(state, subject, f, text=segment.text, claim=c, segment=segment) for c, f in uncovered
        ]
        return [v for v in out if v is not None]

    def replay(
        self,
        stream_id: str,
        started_at: datetime,
        listings: Iterable[ListingEvent],
        segments: Iterable[TranscriptSegment],
    ) -> list[Violation]:
        """A recorded stream (``claimwatch analyze``): listing events and transcript segments in
        time order, a listing event first when both fall on the same instant."""
        self.on_stream(stream_id, started_at)
        timed: list[tuple[float, int, ListingEvent | TranscriptSegment]] = [
            ((e.ts - started_at).total_seconds(), 0, e) for e in listings
        ]
        timed += [(s.offset_s, 1, s) for s in segments]
        out: list[Violation] = []
        for _, _, item in sorted(timed, key=lambda t: (t[0], t[1])):
            out += self.on_listing(item) if isinstance(item, ListingEvent) else self.on_segment(item)
        return out

    # violations

    def _state(self, stream_id: str) -> StreamState:
        return self.streams.setdefault(stream_id, StreamState())

    def _subject(self, event: ListingEvent, party: Party | None = None) -> Subject:
        party = party if party is not None else event
        match = self.ledger.match(party.mcn_id, event.product_id, event.brand, event.title)
        return Subject(event, match, held_qualifications(event, match.entry if match else None), party)

    def _check(
        self,
        state: StreamState,
        subject: Subject,
        finding: Finding,
        *,
        text: str,
        claim: Claim | None = None,
        segment: TranscriptSegment | None = None,
    ) -> Violation | None:
        """A check's violation, unless this (listing, check) already fired in the stream."""
        event = subject.event
        if not state.fire(event.listing_id, finding.check):
            return None
        rule = self.rules.checks[finding.check]
        qtype = self.rules.types.get(finding.qualification_type)
        legal = "; ".join(b for b in (qtype.legal_basis if qtype else "", rule.legal_basis) if b)
        charge = Charge(
            rule.kind, finding.check, rule.severity, finding.term, rule.rule_id, legal, self.rules.version
        )
        return violation(
            subject.party, charge, key=(event.listing_id, rule.kind, finding.check),
            when=state.span(event, segment, (claim.start, claim.end) if claim else (0, 0)),
            source="speech" if segment else "listing", text=text, listing_id=event.listing_id,
            product_id=subject.product_id,
            evidence=_evidence(subject, finding.reason, claims=(claim,) if claim else (), segment=segment),
        )  # fmt: skip

    def _listing_claim(
        self, state: StreamState, subject: Subject, claim: Claim, name: str, text: str
    ) -> Violation | None:
        """A claim in the listing's title or selling points (kind ``claim``, source ``listing``)."""
        event = subject.event
        if not state.fire(event.listing_id, claim.category):
            return None
        evidence = _evidence(subject, f"claim in the listing {name}", claims=(claim,), listing_field=name)
        return violation(
            subject.party, Charge.of_claim(claim), key=(event.listing_id, "claim", claim.category),
            when=state.span(event, None), source="listing", text=text, listing_id=event.listing_id,
            product_id=subject.product_id, evidence=evidence,
        )  # fmt: skip


def _evidence(
    subject: Subject,
    reason: str,
    *,
    claims: tuple[Claim, ...],
    segment: TranscriptSegment | None = None,
    listing_field: str | None = None,
) -> Evidence:
    """The listing snapshot and the ledger row as they were when the check ran."""
    match = subject.match
    return Evidence(
        reason=reason,
        listing=subject.event,
        ledger_row=match.entry if match else None,
        matched_by=match.by if match else None,
        match_score=round(match.score, 3) if match else None,
        held=subject.held,
        claims=claims,
        segment=segment,
        listing_field=listing_field,
        unreadable_before_s=segment.unreadable_before_s if segment else 0.0,
    )
