"""Listing and cross checks: each check with positive and negative cases, dedup, evidence, stage."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from pipeline.checks.listing import ListingChecker, held_qualifications, uncovered_claims
from pipeline.ledger.qualifications import load_rules
from pipeline.legal_basis import in_language
from pipeline.records import (
    Claim,
    LedgerEntry,
    ListingEvent,
    Qualification,
    TranscriptSegment,
    Violation,
)
from tests.fake_detector import FakeDetector

RULES = load_rules()
CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 20, 0, tzinfo=CST)
MCN = "mcn-starlight"
FILING = Qualification("cosmetics_filing", "浙G妆网备字2023001147", date(2028, 12, 31))
SPECIAL = Qualification("cosmetics_special_registration", "国妆特字G20210123", date(2028, 12, 31))


def entry(**changes: Any) -> LedgerEntry:
    base = LedgerEntry(
        "P-1", MCN, "玻尿酸保湿面霜 50g", "水润坊", "cosmetics", "approved", qualifications=(FILING,)
    )
    return replace(base, **changes)


def listing(**changes: Any) -> ListingEvent:
    base = ListingEvent(
        ts=T0, stream_id="s1", anchor_id="a1", mcn_id=MCN, event="on_shelf", listing_id="L1",
        title="玻尿酸保湿面霜 50g", brand="水润坊", category="cosmetics", product_id="P-1",
        qualifications=(Qualification(FILING.type, FILING.number),), selling_points="深层保湿",
    )  # fmt: skip
    return replace(base, **changes)


def checker(*rows: LedgerEntry, detector: FakeDetector | None = None) -> ListingChecker:
    check = ListingChecker(RULES, detector)
    for row in rows:
        check.on_ledger(row)
    check.on_stream("s1", T0)
    return check


def categories(violations: list[Violation]) -> set[str]:
    return {v.category for v in violations}


def segment(text: str, offset_s: float, stream_id: str = "s1") -> TranscriptSegment:
    return TranscriptSegment(f"seg-{offset_s}", stream_id, offset_s, offset_s + 3.0, text)


# --- ledger checks -------------------------------------------------------------------------------


def test_a_clean_listing_raises_nothing() -> None:
    assert checker(entry()).on_listing(listing()) == []


def test_off_ledger_by_product_id() -> None:
    (v,) = checker(entry()).on_listing(listing(product_id="P-404"))
    assert (v.kind, v.category, v.severity, v.source) == ("ledger", "off_ledger", "high", "listing")
    assert v.evidence.ledger_row is None
    assert "product_id 'P-404'" in v.evidence.reason


def test_off_ledger_by_title_and_not_for_a_reworded_title() -> None:
    check = checker(entry())
    reworded = listing(product_id=None, title="【直播专享】水润坊 玻尿酸补水保湿面霜50克")
    assert check.on_listing(reworded) == []
    (v,) = check.on_listing(listing(product_id=None, listing_id="L2", title="水润坊 玻尿酸保湿眼霜 15g"))
    assert (v.category, v.listing_id, v.term) == ("off_ledger", "L2", "水润坊 玻尿酸保湿眼霜 15g")


def test_another_mcns_row_is_off_ledger() -> None:
    (v,) = checker(entry(mcn_id="mcn-other")).on_listing(listing())
    assert v.category == "off_ledger"


@pytest.mark.parametrize("status", ["pending", "rejected"])
def test_ledger_not_approved(status: str) -> None:
    (v,) = checker(entry(status=status)).on_listing(listing())
    assert (v.kind, v.category, v.term, v.product_id) == ("ledger", "ledger_not_approved", status, "P-1")
    assert v.evidence.ledger_row.status == status


# --- qualification checks ------------------------------------------------------------------------


def test_missing_qualification_when_neither_listing_nor_ledger_has_it() -> None:
    (v,) = checker(entry(qualifications=())).on_listing(listing(qualifications=()))
    assert (v.kind, v.category, v.term) == ("qualification", "missing_qualification", "cosmetics_filing")
    # the qualification's law first, in Chinese and in English
    assert v.legal_basis.startswith("《化妆品监督管理条例》第十七条")
    assert in_language(v.legal_basis, "en").startswith(
        "Cosmetics Supervision and Administration Regulation art. 17"
    )


def test_held_on_the_ledger_only_is_enough() -> None:
    assert checker(entry()).on_listing(listing(qualifications=())) == []


def test_shown_on_the_listing_only_is_enough() -> None:
    assert checker(entry(qualifications=())).on_listing(listing()) == []


def test_no_requirement_no_finding() -> None:
    row = entry(category="apparel", qualifications=())
    assert checker(row).on_listing(listing(category="apparel", qualifications=())) == []


def test_any_of_the_required_types_satisfies_health_food() -> None:
    filing = Qualification("health_food_filing", "食健备G202032000123", date(2030, 1, 1))
    row = entry(category="health_food", qualifications=(filing,))
    assert checker(row).on_listing(listing(category="health_food", qualifications=())) == []
    (v,) = checker(entry(category="health_food", qualifications=())).on_listing(
        listing(category="health_food", qualifications=())
    )
    assert v.term == "health_food_registration/health_food_filing"


def test_a_registered_function_on_a_filed_health_food_is_not_covered() -> None:
    """TAXONOMY v1.1: 增强免疫力 needs a registration (国食健注); a filing (食健备) covers nutrients."""
    filing = Qualification("health_food_filing", "食健备G202032000123", date(2030, 1, 1))
    row = entry(category="health_food", qualifications=(filing,))
    found = checker(row, detector=FakeDetector()).on_listing(
        listing(category="health_food", title="增强免疫力 蛋白粉", qualifications=())
    )
    assert categories(found) == {"efficacy_without_registration", "efficacy"}
    registered = Qualification("health_food_registration", "国食健注G20190123", date(2030, 1, 1))
    lawful = entry(category="health_food", qualifications=(registered,))
    assert (
        checker(lawful, detector=FakeDetector()).on_listing(
            listing(category="health_food", title="增强免疫力 蛋白粉", qualifications=())
        )
        == []
    )


def test_the_ledger_category_adds_its_requirements() -> None:
    row = entry(category="cosmetics_special")  # the ledger knows it is a special-use cosmetic
    (v,) = checker(row).on_listing(listing())
    assert (v.category, v.term) == ("missing_qualification", "cosmetics_special_registration")


def test_expired_not_missing_when_the_only_one_is_expired() -> None:
    old = replace(FILING, valid_to=date(2026, 11, 19))
    (v,) = checker(entry(qualifications=(old,))).on_listing(listing())
    assert (v.category, v.term) == ("expired_qualification", FILING.number)
    assert "expired on 2026-11-19" in v.evidence.reason


def test_valid_on_its_last_day() -> None:
    last_day = replace(FILING, valid_to=date(2026, 11, 20))
    assert checker(entry(qualifications=(last_day,))).on_listing(listing()) == []


def test_an_expired_one_beside_a_valid_one_is_fine() -> None:
    other = Qualification("cosmetics_filing", "浙G妆网备字2024003321", date(2020, 1, 1))
    assert checker(entry(qualifications=(FILING, other))).on_listing(listing()) == []


def test_the_listing_number_takes_the_ledger_expiry() -> None:
    row = entry(qualifications=(replace(FILING, valid_to=date(2025, 1, 1)),))
    shown = listing(qualifications=(Qualification(FILING.type, "浙G妆网备字 2023001147"),))  # spaced
    (v,) = checker(row).on_listing(shown)
    assert v.category == "expired_qualification"


def test_invalid_qualification_number() -> None:
    bad = Qualification("cosmetics_filing", "浙G妆网备字20230011")
    (v,) = checker(entry(qualifications=())).on_listing(listing(qualifications=(bad,)))
    assert (v.category, v.severity, v.term) == ("invalid_qualification", "medium", bad.number)
    assert "(on the listing)" in v.evidence.reason


def test_full_width_numbers_are_valid() -> None:
    shown = Qualification("cosmetics_filing", "浙Ｇ妆网备字２０２３００１１４７")
    assert checker(entry(qualifications=())).on_listing(listing(qualifications=(shown,))) == []


def test_unknown_qualification_types_are_ignored() -> None:
    shown = (*listing().qualifications, Qualification("organic_cert", "whatever"))
    assert checker(entry()).on_listing(listing(qualifications=shown)) == []


# --- listing-text claims and the efficacy cross check --------------------------------------------


def test_listing_text_claims() -> None:
    detector = FakeDetector()
    check = checker(entry(), detector=detector)
    (v,) = check.on_listing(listing(selling_points="全网最低价，深层保湿"))
    assert (v.kind, v.category, v.source, v.listing_id, v.term) == (
        "claim",
        "price",
        "listing",
        "L1",
        "全网最低价",
    )
    assert v.evidence.listing_field == "selling_points"
    assert ("全网最低价，深层保湿", "listing") in detector.calls
    assert check.on_listing(listing(selling_points="深层保湿")) == []  # nothing new, nothing fired


def test_efficacy_in_the_listing_without_registration() -> None:
    """The missing registration, and the claim itself (a listing-text claim like any other)."""
    v, claim = checker(entry(), detector=FakeDetector()).on_listing(listing(title="美白保湿面霜"))
    assert (v.kind, v.category, v.source, v.term) == (
        "qualification",
        "efficacy_without_registration",
        "listing",
        "美白",
    )
    assert v.evidence.claims[0].requires == ("cosmetics_special_registration",)
    assert (claim.kind, claim.category, claim.source, claim.term, claim.listing_id) == (
        "claim",
        "efficacy",
        "listing",
        "美白",
        "L1",
    )
    assert claim.evidence.listing_field == "title"


def test_efficacy_in_the_listing_with_registration_is_lawful() -> None:
    row = entry(category="cosmetics_special", qualifications=(SPECIAL,))
    check = checker(row, detector=FakeDetector())
    assert check.on_listing(listing(title="美白面霜", category="cosmetics_special", qualifications=())) == []


def test_an_expired_registration_does_not_cover_the_claim() -> None:
    old = replace(SPECIAL, valid_to=date(2026, 1, 1))
    row = entry(category="cosmetics_special", qualifications=(old,))
    found = checker(row, detector=FakeDetector()).on_listing(
        listing(title="美白面霜", category="cosmetics_special")
    )
    assert categories(found) == {"expired_qualification", "efficacy_without_registration", "efficacy"}


def test_uncovered_claims_pure() -> None:
    claim = Claim("efficacy", "美白", 0, 2, "high", "r", "law", requires=("cosmetics_special_registration",))
    plain = Claim("absolute", "最好", 0, 2, "high", "r", "law")
    held = held_qualifications(listing(), entry(qualifications=(SPECIAL,)))
    assert uncovered_claims([claim, plain], held, RULES, T0) == []
    (found,) = uncovered_claims([claim, plain], held_qualifications(listing(), None), RULES, T0)
    assert found[0] is claim
    assert found[1].check == "efficacy_without_registration"


def explained(check: ListingChecker, listing_id: str, at_s: float, **changes: Any) -> None:
    check.on_listing(
        listing(event="explain", listing_id=listing_id, ts=T0 + timedelta(seconds=at_s), **changes)
    )


def test_efficacy_heard_while_presented() -> None:
    check = checker(entry())
    explained(check, "L1", 10)
    claim = FakeDetector().detect("用了能美白")
    (v,) = check.on_claims(segment("用了能美白", 29.3), claim)
    assert (v.kind, v.category, v.source, v.listing_id, v.product_id) == (
        "qualification", "efficacy_without_registration", "speech", "L1", "P-1",
    )  # fmt: skip
    assert (v.offset_s, v.end_offset_s, v.ts) == (29.3, 32.3, T0 + timedelta(seconds=29.3))
    assert v.evidence.segment.text == "用了能美白"
    assert v.evidence.listing.listing_id == "L1"
    assert check.on_claims(segment("又美白了", 40), claim) == []  # once per (listing, category)


def test_no_cross_check_without_a_product_on_stage() -> None:
    check = checker(entry())
    claim = FakeDetector().detect("美白")
    assert check.on_claims(segment("美白", 5), claim) == []
    explained(check, "L1", 10)
    assert check.on_claims(segment("美白", 5), claim) == []  # said before the explain
    check.on_listing(listing(event="off_shelf", ts=T0 + timedelta(seconds=20)))
    assert check.on_claims(segment("美白", 25), claim) == []  # said after its off_shelf


def test_claims_attributed_to_the_product_on_stage_when_said() -> None:
    special = entry(product_id="P-2", category="cosmetics_special", qualifications=(SPECIAL,))
    check = checker(entry(), special, detector=FakeDetector())
    explained(check, "L1", 10)
    explained(check, "L2", 30, product_id="P-2", category="cosmetics_special", qualifications=())
    # the transcript of second 25 arrives after L2's explain: still L1's
    (v,) = check.on_segment(segment("能美白", 25))
    assert v.listing_id == "L1"
    assert check.on_segment(segment("能美白", 35)) == []  # L2 holds a registration
    assert check.on_stage("s1", 31.0) is not None
    assert check.on_stage("nope", 31.0) is None


def test_another_stream_fires_again_and_ids_are_deterministic() -> None:
    first = checker(entry()).on_listing(listing(product_id="P-404"))
    again = checker(entry()).on_listing(listing(product_id="P-404"))
    other = checker(entry()).on_listing(listing(product_id="P-404", stream_id="s2"))
    assert first[0].event_id == again[0].event_id != other[0].event_id


def test_dedup_per_listing_and_category() -> None:
    check = checker(entry(qualifications=()))
    assert len(check.on_listing(listing(qualifications=()))) == 1
    assert check.on_listing(listing(event="explain", qualifications=())) == []
    assert len(check.on_listing(listing(listing_id="L9", qualifications=()))) == 1
    check.end_stream("s1")
    assert len(check.on_listing(listing(qualifications=()))) == 1


def test_the_first_card_marks_the_start_when_no_stream_start_is_known() -> None:
    check = ListingChecker(RULES)
    check.on_listing(listing(ts=T0))
    (v,) = check.on_listing(listing(listing_id="L2", product_id="P-404", ts=T0 + timedelta(seconds=12.5)))
    assert (v.offset_s, v.end_offset_s, v.ts) == (12.5, 12.5, T0 + timedelta(seconds=12.5))


def test_evidence_is_the_snapshot_as_it_was() -> None:
    row = entry(status="pending")
    check = checker(row)
    (v,) = check.on_listing(listing(price=89.0))
    check.on_ledger(replace(row, status="approved"))  # the ledger changes later
    assert v.evidence.ledger_row.status == "pending"
    assert v.evidence.listing.price == 89.0
    assert v.evidence.matched_by == "product_id"
    assert [h.shown_on for h in v.evidence.held] == ["listing"]


def test_on_segment_needs_a_detector() -> None:
    with pytest.raises(ValueError, match="needs a detector"):
        checker().on_segment(segment("x", 1))


def test_with_the_real_detector() -> None:
    claims = pytest.importorskip("pipeline.claims")
    detector = claims.load_detector()
    found = checker(entry(), detector=detector).on_listing(
        listing(title="美白保湿面霜", selling_points="全网最低价")
    )
    assert {(v.kind, v.category) for v in found} >= {
        ("qualification", "efficacy_without_registration"),
        ("claim", "price"),
        ("claim", "efficacy"),
    }
    special = entry(category="cosmetics_special", qualifications=(SPECIAL,))
    lawful = checker(special, detector=detector).on_listing(
        listing(title="美白面霜", category="cosmetics_special")
    )
    assert lawful == []
