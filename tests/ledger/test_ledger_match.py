"""Matching listings to ledger rows: product_id, brand + title, near-miss products."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline.ledger.files import read_ledger
from pipeline.ledger.matching import MATCH_THRESHOLD, LedgerIndex, brand_matches, title_score, units
from pipeline.ledger.qualifications import load_rules
from pipeline.records import LedgerEntry
from tests.paths import DATA

DATA = DATA / "ledger_match"
MCN = "mcn-starlight"
CASES = [json.loads(line) for line in (DATA / "cases.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def index() -> LedgerIndex:
    result = read_ledger(DATA / "ledger.csv", load_rules())
    assert result.errors == ()
    index = LedgerIndex()
    index.put_all(result.entries)
    return index


@pytest.mark.parametrize("case", CASES, ids=[c["title"] for c in CASES])
def test_title_match_cases(index: LedgerIndex, case: dict[str, Any]) -> None:
    match = index.match(MCN, None, case["brand"], case["title"])
    got = match.entry.product_id if match else None
    if case.get("known_miss"):
        assert got is None, f"known miss now matches ({got}): update the case and docs/ledger.md"
        return
    assert got == case["expected"], case["explanation"]


def test_no_reworded_title_is_off_ledger(index: LedgerIndex) -> None:
    reworded = [c for c in CASES if c["expected"] and not c.get("known_miss")]
    assert len(reworded) >= 20
    assert all(index.match(MCN, None, c["brand"], c["title"]) for c in reworded)


def test_product_id_is_authoritative(index: LedgerIndex) -> None:
    match = index.match(MCN, "P-1002", "水润坊", "something else entirely")
    assert match is not None
    assert (match.entry.product_name, match.by, match.score) == ("红枣枸杞茶 150g", "product_id", 1.0)
    # a linked card whose row does not exist is not rescued by its title
    assert index.match(MCN, "P-404", "水润坊", "玻尿酸保湿面霜 50g") is None


def test_rows_of_another_mcn_never_match(index: LedgerIndex) -> None:
    assert index.match("mcn-other", None, "电多多", "电多多 30000毫安大容量充电宝") is not None
    assert index.match(MCN, None, "电多多", "电多多 30000毫安大容量充电宝") is None
    assert index.match(MCN, "P-9001", "电多多", "") is None


def test_put_replaces_and_remove_forgets() -> None:
    index = LedgerIndex()
    row = LedgerEntry("P-1", MCN, "面霜", "水润坊", "cosmetics", "pending")
    index.put(row)
    index.put(LedgerEntry("P-1", MCN, "面霜", "水润坊", "cosmetics", "approved"))
    assert [e.status for e in index.of_mcn(MCN)] == ["approved"]
    index.remove(MCN, "P-1")
    index.remove(MCN, "P-2")
    assert index.get(MCN, "P-1") is None


def test_threshold_is_the_measured_one() -> None:
    assert LedgerIndex().threshold == MATCH_THRESHOLD == 0.65


def test_units_and_scores() -> None:
    assert units("电多多 20000毫安 ＰＤ快充") == ("电", "多", "多", "20000mah", "pd", "快", "充")
    assert title_score("水润坊玻尿酸保湿面霜50克", "玻尿酸保湿面霜 50g", "水润坊") == 1.0
    # swapping a size/model token halves the score: another size is not the reviewed product
    same = (6 / 7 + 7 / 8) / 2
    assert title_score("玻尿酸保湿面霜 100g", "玻尿酸保湿面霜 50g") == pytest.approx(same / 2)
    assert title_score("玻尿酸保湿面霜 50g 送15g小样", "玻尿酸保湿面霜 50g") == 1.0
    assert title_score("", "面霜") == 0.0
    assert title_score("水润坊", "水润坊", "水润坊") == 0.0


@pytest.mark.parametrize(
    ("card", "title", "row", "expected"),
    [
        ("水润坊", "", "水润坊", True),
        ("水润坊官方旗舰店", "", "水润坊", True),
        ("润水坊", "", "水润坊", False),
        ("", "水润坊 面霜", "水润坊", True),
        ("", "面霜", "水润坊", False),
        ("Dr. Jart+", "", "dr jart", True),
        ("水润坊", "", "", False),
    ],
)
def test_brand_matches(card: str, title: str, row: str, expected: bool) -> None:
    assert brand_matches(card, title, row) is expected
