"""The one constructor of a :class:`~pipeline.records.Violation`: every check and claim goes
through :func:`violation`, so the record's fields are filled in one place.

A violation is *who* (the stream's party: stream, anchor, MCN), *what* (a :class:`Charge`: kind,
category, severity, the rule and the law), *when* (wall time and offsets into the stream), *where*
(speech or listing, the listing and product) and its :class:`~pipeline.records.Evidence`. Its id is
a function of the stream and a ``key`` that names the event without its wording, so the same
finding in the same place keeps its id through replays and restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pipeline.records import Claim, Evidence, Severity, Source, Violation, ViolationKind, stable_id

When = tuple[datetime, float, float]  # wall time, offset_s, end_offset_s


class Party(Protocol):
    """Whose violation it is (a :class:`~pipeline.records.StreamInfo` or a listing event)."""

    @property
    def stream_id(self) -> str: ...
    @property
    def anchor_id(self) -> str: ...
    @property
    def mcn_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Charge:
    """What a violation says: kind and category, severity, the term, the rule and its legal basis."""

    kind: ViolationKind
    category: str
    severity: Severity
    term: str
    rule_id: str
    legal_basis: str
    lexicon_version: str
    rewrite: str | None = None
    read_as: str = ""  # the claim the term was read as (美白 for a heard 每白); "" as written

    @classmethod
    def of_claim(cls, claim: Claim) -> Charge:
        """A claim found by the detector, charged as it is (kind ``claim``), with what its term
        was read as when the recogniser's text held it through a homophone or glitch."""
        return cls(
            "claim", claim.category, claim.severity, claim.term, claim.rule_id, claim.legal_basis,
            claim.lexicon_version, claim.rewrite, str(claim.extra.get("read_as") or ""),
        )  # fmt: skip


def violation(
    party: Party,
    charge: Charge,
    *,
    key: tuple[object, ...],
    when: When,
    source: Source,
    text: str,
    evidence: Evidence,
    listing_id: str | None = None,
    product_id: str | None = None,
    off_card: bool = False,
) -> Violation:
    """The violation of ``party`` for ``charge``; ``key`` identifies it within the stream."""
    ts, offset_s, end_offset_s = when
    return Violation(
        event_id=stable_id(party.stream_id, *key),
        stream_id=party.stream_id,
        anchor_id=party.anchor_id,
        mcn_id=party.mcn_id,
        kind=charge.kind,
        category=charge.category,
        severity=charge.severity,
        ts=ts,
        offset_s=offset_s,
        end_offset_s=end_offset_s,
        source=source,
        listing_id=listing_id,
        product_id=product_id,
        text=text,
        term=charge.term,
        read_as=charge.read_as,
        rule_id=charge.rule_id,
        legal_basis=charge.legal_basis,
        lexicon_version=charge.lexicon_version,
        rewrite=charge.rewrite,
        evidence=evidence,
        off_card=off_card,
    )
