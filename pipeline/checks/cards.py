"""Selling-point cards held against the rules and against speech (docs/cards.md): pure stage logic.

Review (:func:`review_card`): every selling point goes through the claim detector and is cross-checked
with the product's ledger row, its category and qualifications: an efficacy claim no valid
registration covers (``efficacy_without_registration``, which also catches a health function claimed
on a 食健备 filing: a filing covers nutrient supplements only), a medical claim on a product that is
no medicine, and every other claim the detector finds. Each finding carries the line it is on, the
legal basis and a compliant rewrite (the lexicon entry's own, else ``lexicons/cards.yaml``'s for the
category). A card with a ``high`` finding needs an override reason to be approved.

Off-card speech (:class:`CardBook`): what the approved card of a product *says* is the set of its
claims (by lexicon ``rule_id``) and of its statements, the things that are claims for this purpose
although no violation category (``lexicons/cards.yaml``: effect words a product may lawfully say,
origin, material and ingredients, specifications). A claim heard while the product is on stage is
off-card when the card makes no claim of the same rule; a statement is off-card when the card makes
no statement of the same term (or, for a ``same: rule`` entry, of the same rule). A product with no
approved card is not judged off-card: the certification report counts those products instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from pypinyin import lazy_pinyin

from pipeline.checks.listing import ClaimDetector, uncovered_claims
from pipeline.claims import load_detector
from pipeline.config import LEXICON_DIR
from pipeline.errors import LexiconError
from pipeline.ledger.qualifications import QualificationRules, load_rules
from pipeline.records import Card, Claim, HeldQualification, LedgerEntry, SellingPoint, Severity

CARD_RULES_FILE = "cards.yaml"
StatementKind = Literal["effect", "origin", "material", "spec"]
_KINDS = ("effect", "origin", "material", "spec")
_MEDICINES = frozenset({"medical_device"})  # the categories that may make medical claims at all


# ---------------------------------------------------------------------------------------------
# Rules: rewrites and statements, validated on load


@dataclass(frozen=True, slots=True)
class StatementRule:
    """One kind of statement that counts as a claim against the card (``lexicons/cards.yaml``)."""

    rule_id: str
    kind: StatementKind
    same: Literal["term", "rule"]
    pattern: re.Pattern[str]
    # the Chinese terms by their toneless pinyin: speech heard through homophones (新姜 for 新疆)
    sounds: tuple[tuple[tuple[str, ...], str], ...] = ()


@dataclass(frozen=True, slots=True)
class Statement:
    """A statement found in a text: which rule, the term as normalised, where."""

    rule_id: str
    kind: str
    term: str
    start: int
    end: int
    same: str = "term"

    @property
    def key(self) -> tuple[str, str]:
        """What a card must say to cover it: the same rule, and the same term if ``same`` is term."""
        return (self.rule_id, self.term if self.same == "term" else "")


@dataclass(frozen=True, slots=True)
class CardRules:
    version: str
    rewrites: Mapping[str, str]
    statements: tuple[StatementRule, ...]

    def find_statements(self, text: str, *, speech: bool = False) -> list[Statement]:
        """The statements of a text, each at most once per (rule, term); in ``speech`` also the
        terms heard through a homophone (the same toneless pinyin: 肠融绵 is 长绒棉)."""
        normal = _normal(text)
        found: dict[tuple[str, str], Statement] = {}
        for rule in self.statements:
            for m in rule.pattern.finditer(normal):
                statement = Statement(rule.rule_id, rule.kind, m.group(), *m.span(), same=rule.same)
                found.setdefault(statement.key, statement)
        if speech:
            for statement in self._heard(normal):
                found.setdefault(statement.key, statement)
        return sorted(found.values(), key=lambda s: s.start)

    def _heard(self, normal: str) -> list[Statement]:
        syllables = [lazy_pinyin(c)[0] if "\u4e00" <= c <= "\u9fff" else c for c in normal]
        heard: list[Statement] = []
        for rule in self.statements:
            for sound, term in rule.sounds:
                n = len(sound)
                for start in range(len(syllables) - n + 1):
                    if tuple(syllables[start : start + n]) == sound:
                        heard.append(Statement(rule.rule_id, rule.kind, term, start, start + n, rule.same))
        return heard


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def load_card_rules(lexicon_dir: Path = LEXICON_DIR) -> CardRules:
    """Read and validate ``cards.yaml`` of a lexicon directory (LexiconError naming file and entry)."""
    path = Path(lexicon_dir) / CARD_RULES_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise LexiconError(f"{path}: cannot read ({exc})") from None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("rewrites"), Mapping):
        raise LexiconError(f"{path}: expected a mapping with 'rewrites' and 'statements'")
    entries = raw.get("statements")
    if not isinstance(entries, list):
        raise LexiconError(f"{path}: statements: expected a list")
    rules = tuple(_statement(path, i, e) for i, e in enumerate(entries))
    rewrites = {str(k): str(v) for k, v in raw["rewrites"].items()}
    return CardRules(str(raw.get("version", "")), rewrites, rules)


def _statement(path: Path, index: int, entry: Any) -> StatementRule:
    where = f"{path}: statements[{index}]"
    if not isinstance(entry, Mapping) or not isinstance(entry.get("rule_id"), str):
        raise LexiconError(f"{where}: expected a mapping with a rule_id")
    if entry.get("kind") not in _KINDS or entry.get("same") not in ("term", "rule"):
        raise LexiconError(f"{where} ({entry['rule_id']}): kind must be one of {_KINDS}, same term or rule")
    terms, regex = entry.get("terms"), entry.get("regex")
    if (terms is None) == (regex is None):
        raise LexiconError(f"{where} ({entry['rule_id']}): give terms or regex, not both")
    if terms is not None:
        if not isinstance(terms, list) or not terms:
            raise LexiconError(f"{where} ({entry['rule_id']}): terms must be a non-empty list")
        ordered = sorted({_normal(str(t)) for t in terms}, key=len, reverse=True)
        regex = "|".join(re.escape(t) for t in ordered)
        sounds = tuple(
            (tuple(lazy_pinyin(t)), t)
            for t in ordered
            if len(t) >= 2 and all("\u4e00" <= c <= "\u9fff" for c in t)
        )
    try:
        pattern = re.compile(str(regex))
    except re.error as exc:
        raise LexiconError(f"{where} ({entry['rule_id']}): regex does not compile ({exc})") from None
    kind = cast(StatementKind, entry["kind"])
    return StatementRule(entry["rule_id"], kind, entry["same"], pattern, sounds if terms is not None else ())


# ---------------------------------------------------------------------------------------------
# Review


@dataclass(frozen=True, slots=True)
class CardFinding:
    """One problem on one line of a card: what, why, the law, and how to say it instead."""

    line: int
    text: str
    check: str  # a claim category, or efficacy_without_registration / medical_on_non_medicine
    severity: Severity
    term: str
    rule_id: str
    legal_basis: str
    rewrite: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class CardReview:
    """A card's review: its findings line by line and the statements it makes."""

    card: Card
    entry: LedgerEntry | None
    findings: tuple[CardFinding, ...]
    statements: Mapping[int, tuple[Statement, ...]] = field(default_factory=dict)

    @property
    def high(self) -> tuple[CardFinding, ...]:
        return tuple(f for f in self.findings if f.severity == "high")

    def at(self, line: int) -> list[CardFinding]:
        return [f for f in self.findings if f.line == line]


def review_card(
    card: Card,
    entry: LedgerEntry | None,
    *,
    detector: ClaimDetector,
    rules: QualificationRules,
    card_rules: CardRules,
    at: datetime,
) -> CardReview:
    """Every selling point of ``card`` checked against its product's ledger row ``entry`` at ``at``."""
    held = tuple(HeldQualification(q, "ledger") for q in (entry.qualifications if entry else ()))
    findings: list[CardFinding] = []
    for point in card.points:
        claims = detector.detect(point.text, source="listing")
        uncovered = {id(c): f.reason for c, f in uncovered_claims(claims, held, rules, at)}
        for claim in claims:
            finding = _finding(point, claim, uncovered, entry, rules, card_rules)
            if finding is not None:
                findings.append(finding)
    statements = {p.line: tuple(card_rules.find_statements(p.text)) for p in card.points}
    return CardReview(card, entry, tuple(findings), statements)


@dataclass(frozen=True, slots=True)
class CardReviewer:
    """What a review needs from a lexicon directory (the detector, the qualification rules, the
    card rules), loaded once: ``claimwatch card`` and the console's card pages review through it,
    so both show the same findings."""

    detector: ClaimDetector
    rules: QualificationRules
    card_rules: CardRules

    @classmethod
    def load(cls, lexicon_dir: Path = LEXICON_DIR) -> CardReviewer:
        return cls(load_detector(lexicon_dir), load_rules(lexicon_dir), load_card_rules(lexicon_dir))

    def review(self, card: Card, entry: LedgerEntry | None, *, at: datetime) -> CardReview:
        """:func:`review_card` with these lexicons."""
        return review_card(
            card, entry, detector=self.detector, rules=self.rules, card_rules=self.card_rules, at=at
        )


def _finding(  # noqa: PLR0917
    point: SellingPoint,
    claim: Claim,
    uncovered: Mapping[int, str],
    entry: LedgerEntry | None,
    rules: QualificationRules,
    card_rules: CardRules,
) -> CardFinding | None:
    def make(check: str, severity: Severity, legal: str, reason: str) -> CardFinding:
        rewrite = (
            claim.rewrite or card_rules.rewrites.get(check) or card_rules.rewrites.get(claim.category, "")
        )
        return CardFinding(
            point.line, point.text, check, severity, claim.term, claim.rule_id, legal, rewrite, reason
        )

    if claim.requires:
        if id(claim) not in uncovered:
            return None  # an efficacy claim a valid registration covers: lawful for this product
        check = rules.checks["efficacy_without_registration"]
        legal = "; ".join(b for b in (claim.legal_basis, check.legal_basis) if b)
        return make(check.name, check.severity, legal, _uncovered_reason(claim, entry, uncovered[id(claim)]))
    if claim.category == "medical" and (entry is None or entry.category not in _MEDICINES):
        what = entry.category if entry else "not on the ledger"
        reason = f"medical claim {claim.term!r} for a product that is no medicine (category {what})"
        return make("medical_on_non_medicine", "high", claim.legal_basis, reason)
    return make(claim.category, claim.severity, claim.legal_basis, f"{claim.category} claim {claim.term!r}")


def _uncovered_reason(claim: Claim, entry: LedgerEntry | None, reason: str) -> str:
    if entry is None:
        return f"{reason} (the product has no ledger row)"
    filings = [q for q in entry.qualifications if q.type == "health_food_filing"]
    if filings and "health_food_registration" in claim.requires:
        return f"{reason}: a 食健备 filing covers nutrient supplements only, not a health function"
    return f"{reason} (category {entry.category})"


# ---------------------------------------------------------------------------------------------
# Off-card speech


@dataclass(frozen=True, slots=True)
class CardTerms:
    """What one approved card says: its claims' rule ids and its statements."""

    card: Card
    rule_ids: frozenset[str]
    statements: frozenset[tuple[str, str]]

    def covers_claim(self, claim: Claim) -> bool:
        return claim.rule_id in self.rule_ids

    def covers_statement(self, statement: Statement) -> bool:
        return statement.key in self.statements


class CardBook:
    """The approved cards in force, by (mcn_id, product_id), with what each says (built once)."""

    def __init__(self, detector: ClaimDetector, rules: CardRules) -> None:
        self.detector = detector
        self.rules = rules
        self.cards: dict[tuple[str, str], CardTerms] = {}

    def put_all(self, cards: Iterable[Card]) -> None:
        for card in cards:
            self.put(card)

    def put(self, card: Card) -> None:
        """Add or replace a product's approved card (a draft is ignored)."""
        if card.status != "approved":
            return
        key = (card.mcn_id, card.product_id)
        known = self.cards.get(key)
        if known is not None and known.card.version >= card.version:
            return
        rule_ids: set[str] = set()
        statements: set[tuple[str, str]] = set()
        for point in card.points:
            rule_ids.update(c.rule_id for c in self.detector.detect(point.text, source="listing"))
            statements.update(s.key for s in self.rules.find_statements(point.text))
        self.cards[key] = CardTerms(card, frozenset(rule_ids), frozenset(statements))

    def get(self, mcn_id: str, product_id: str | None) -> CardTerms | None:
        return self.cards.get((mcn_id, product_id)) if product_id else None

    def off_card(
        self, terms: CardTerms, claims: Sequence[Claim], text: str
    ) -> tuple[set[int], list[Statement]]:
        """Of what ``text`` says: the ids of claims the card does not make, and the statements it
        does not make (statements inside a claim's span are the claim's, not counted twice)."""
        off_claims = {id(c) for c in claims if not terms.covers_claim(c)}
        spans = [(c.start, c.end) for c in claims]
        statements = [
            s
            for s in self.rules.find_statements(text, speech=True)
            if not terms.covers_statement(s) and not any(a < s.end and s.start < b for a, b in spans)
        ]
        return off_claims, statements
