"""Ledger hygiene: each issue with positive and negative cases."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from pipeline.ledger.hygiene import check_ledger
from pipeline.ledger.qualifications import load_rules
from pipeline.records import LedgerEntry, Qualification

RULES = load_rules()
TODAY = date(2026, 11, 20)
GOOD = LedgerEntry(
    "P-1", "mcn-a", "面霜", "水润坊", "cosmetics", "approved", reviewed_at=date(2026, 9, 2), reviewer="王敏",
    qualifications=(Qualification("cosmetics_filing", "浙G妆网备字2023001147", date(2028, 12, 31)),),
)  # fmt: skip


def issues(*entries: LedgerEntry, within_days: int = 30) -> list[tuple[str, str]]:
    found = check_ledger(entries, RULES, today=TODAY, within_days=within_days)
    return [(i.issue, i.product_id) for i in found]


def with_qualification(number: str = "浙G妆网备字2023001147", valid_to: date | None = None) -> LedgerEntry:
    return replace(GOOD, qualifications=(Qualification("cosmetics_filing", number, valid_to),))


def test_a_clean_row_has_no_issue() -> None:
    assert issues(GOOD) == []
    assert issues(replace(GOOD, category="apparel", qualifications=())) == []


def test_expired_and_expiring() -> None:
    assert issues(with_qualification(valid_to=date(2026, 11, 19))) == [("expired_qualification", "P-1")]
    assert issues(with_qualification(valid_to=date(2026, 12, 1))) == [("expiring_qualification", "P-1")]
    assert issues(with_qualification(valid_to=date(2026, 12, 1)), within_days=5) == []
    assert issues(with_qualification(valid_to=TODAY)) == [("expiring_qualification", "P-1")]


def test_missing_required_qualification() -> None:
    assert issues(replace(GOOD, qualifications=())) == [("missing_qualification", "P-1")]
    health = replace(GOOD, category="health_food")
    (found,) = check_ledger([health], RULES, today=TODAY)
    assert found.detail == "category health_food requires health_food_registration/health_food_filing"


def test_malformed_number_and_no_expiry() -> None:
    assert issues(with_qualification("浙G妆网备字2023", date(2028, 1, 1))) == [("malformed_number", "P-1")]
    assert issues(with_qualification(valid_to=None)) == [("no_expiry_date", "P-1")]


def test_approved_without_review() -> None:
    assert issues(replace(GOOD, reviewer="")) == [("approved_without_review", "P-1")]
    assert issues(replace(GOOD, reviewer="", status="pending")) == []


def test_most_severe_first() -> None:
    rows = [replace(GOOD, product_id="P-2", reviewer=""), replace(GOOD, qualifications=())]
    found = check_ledger(rows, RULES, today=TODAY)
    assert [(i.severity, i.issue) for i in found] == [
        ("high", "missing_qualification"),
        ("low", "approved_without_review"),
    ]
