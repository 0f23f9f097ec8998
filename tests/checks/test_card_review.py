"""Card review with the real detector and qualification rules: findings line by line."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from pipeline.checks.cards import CardBook, CardReview, load_card_rules, review_card
from pipeline.claims import load_detector
from pipeline.ledger.cards import read_cards
from pipeline.ledger.files import read_ledger
from pipeline.ledger.qualifications import load_rules
from pipeline.records import Card, LedgerEntry, Qualification, SellingPoint
from pipeline.sample import SAMPLE_DIR
from tests.paths import DATA

AT = datetime(2026, 11, 20, 12, tzinfo=UTC)
RULES = load_rules()


@pytest.fixture(scope="module")
def ledger() -> dict[str, LedgerEntry]:
    read = read_ledger(SAMPLE_DIR / "ledger.csv", RULES, mcn_id="mcn-starlight")
    return {e.product_id: e for e in read.entries}


def review(card: Card, entry: LedgerEntry | None) -> CardReview:
    return review_card(
        card, entry, detector=load_detector(), rules=RULES, card_rules=load_card_rules(), at=AT
    )


def cards(name: str) -> dict[str, Card]:
    return {c.product_id: c for c in read_cards(DATA / "cards" / name, mcn_id="mcn-starlight").cards}


def test_brand_card_for_an_ordinary_cosmetic(ledger: dict[str, LedgerEntry]) -> None:
    found = review(cards("brand_cards.xlsx")["P-1001"], ledger["P-1001"])
    by_line = {f.line: f for f in found.findings if f.severity == "high" or f.line == 5}
    assert sorted({f.line for f in found.findings}) == [4, 5]  # lines 2 and 3 are compliant
    whitening = by_line[4]
    assert (whitening.check, whitening.severity) == ("efficacy_without_registration", "high")
    assert "cosmetics_special_registration" in whitening.reason
    assert "化妆品监督管理条例" in whitening.legal_basis
    assert "Cosmetics Supervision" in whitening.legal_basis
    assert "国妆特字" in whitening.rewrite
    price = {f.check for f in found.at(5)}
    assert price >= {"price", "absolute"}
    assert all(f.rewrite and f.legal_basis for f in found.at(5))
    assert found.high


def test_whitening_is_no_finding_for_a_registered_special_cosmetic(ledger: dict[str, LedgerEntry]) -> None:
    registered = replace(
        ledger["P-1001"],
        category="cosmetics_special",
        qualifications=(Qualification("cosmetics_special_registration", "国妆特字G20210123", None),),
    )
    found = review(cards("brand_cards.xlsx")["P-1001"], registered)
    assert 4 not in {f.line for f in found.findings}


def test_health_function_beyond_a_filing(ledger: dict[str, LedgerEntry]) -> None:
    card = cards("brand_cards.xlsx")["P-1005"]
    assert not review(card, ledger["P-1005"]).high  # a registration (国食健注) covers it
    filed = replace(
        ledger["P-1005"], qualifications=(Qualification("health_food_filing", "食健备G202032000123"),)
    )
    (finding,) = review(card, filed).high
    assert (finding.line, finding.check) == (7, "efficacy_without_registration")
    assert "食健备 filing covers nutrient supplements only" in finding.reason


def test_medical_claim_on_food_is_high(ledger: dict[str, LedgerEntry]) -> None:
    (finding,) = [f for f in review(cards("cards.csv")["P-1002"], ledger["P-1002"]).findings if f.line == 3]
    assert (finding.check, finding.severity) == ("medical_on_non_medicine", "high")
    assert "category food" in finding.reason
    assert "非药品" in finding.rewrite


def test_statements_and_off_card_against_an_approved_card() -> None:
    book = CardBook(load_detector(), load_card_rules())
    card = Card(
        "m", "P-1", (SellingPoint(1, "深层保湿，质地轻薄"), SellingPoint(2, "宁夏产枸杞")), status="approved"
    )
    book.put(card)
    terms = book.get("m", "P-1")
    assert terms is not None
    detector = load_detector()
    for text, off_claims, off_statements in [
        ("保湿效果很好，秋冬天用也不会干。", 0, []),
        ("这个枸杞是宁夏的", 0, []),
        ("面料是新疆长绒棉，穿着很舒服。", 0, ["新疆", "长绒棉"]),
        ("这个价格是全网最低价。", 2, []),
    ]:
        claims = detector.detect(text, source="speech")
        ids, statements = book.off_card(terms, claims, text)
        assert (len(ids), [s.term for s in statements]) == (off_claims, off_statements), text
    book.put(replace(card, status="draft", version=2))  # a draft does not replace the card in force
    assert book.get("m", "P-1") == terms
