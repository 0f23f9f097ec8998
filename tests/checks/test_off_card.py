"""Speech held against the approved card: the sample stream (its script as the transcript) with
approved cards for P-1001 and P-1004, through the monitor with the real detector, stored in both
warehouses and scored."""

from __future__ import annotations

from dataclasses import replace

from pipeline.checks.monitor import build_monitor
from pipeline.jsonl import read_records
from pipeline.ledger.cards import read_cards
from pipeline.ledger.files import read_ledger
from pipeline.records import Card, ListingEvent, StreamInfo, Violation, decode
from pipeline.reporting.scope import Period, Scope
from pipeline.reporting.scoring import compute_scores, describe_item
from pipeline.reporting.scoring_rules import load_rules as load_scoring
from pipeline.sample import SAMPLE_DIR
from pipeline.warehouse import Store
from pipeline.warehouse.rows import stream_row, violation_row
from tests.checks.test_sample_scenario import STARTED_AT, TIMELINE, transcript
from tests.paths import DATA, ROOT

# the sample's listings with the pajamas titled 长绒棉睡衣套装: 新疆 is then said nowhere but in speech
LISTINGS = DATA / "cards" / "listings_offcard.jsonl"
INFO = StreamInfo(TIMELINE["stream_id"], "anchor-xiaomei", "mcn-starlight", STARTED_AT)


def approved(name: str) -> list[Card]:
    read = read_cards(DATA / "cards" / name, mcn_id="mcn-starlight")
    return [replace(c, status="approved", version=1) for c in read.cards]


def run(cards: list[Card]) -> list[Violation]:
    monitor = build_monitor()
    monitor.load_ledger(read_ledger(SAMPLE_DIR / "ledger.csv", monitor.rules, mcn_id="mcn-starlight").entries)
    monitor.load_cards(cards)
    events = [e for _, e in read_records(LISTINGS, lambda d: decode(ListingEvent, d))]
    return monitor.replay(INFO, [e for e in events if isinstance(e, ListingEvent)], transcript())


def test_claims_off_the_approved_card_are_marked_and_statements_off_it_reported() -> None:
    without = run([])
    assert not any(v.off_card for v in without)
    cards = approved("cream_card.md") + [c for c in approved("cards.csv") if c.product_id == "P-1004"]
    cards = [replace(c, points=c.points[:1]) if c.product_id == "P-1004" else c for c in cards]  # 纯棉 only
    found = run(cards)
    ids = {v.event_id for v in without}
    assert ids <= {v.event_id for v in found}  # the same violations, same ids, and more
    marked = {(v.product_id, v.category) for v in found if v.off_card and v.kind == "claim"}
    assert marked == {
        ("P-1001", "absolute"),
        ("P-1001", "price"),
        ("P-1001", "efficacy"),
        ("P-1004", "superstition"),
    }
    (statement,) = [v for v in found if v.category == "off_card"]
    assert (statement.kind, statement.product_id, statement.term) == ("ledger", "P-1004", "新疆")
    assert statement.text == "面料是新疆长绒棉，穿着很舒服。"
    assert "新疆 (origin)" in statement.evidence.reason
    assert "长绒棉" not in statement.evidence.reason  # in the listing's title: naming the product
    # 保湿 is on the cream's card, 玻尿酸 in its title: no statement violation for L1; L2, L3 have no card
    assert not [v for v in found if v.off_card and v.product_id in ("P-1002", None)]


def test_off_card_violations_weigh_more_in_the_score(store: Store) -> None:
    rules = load_scoring(ROOT / "lexicons" / "scoring.yaml")
    period = Period.parse("2026-11", "Asia/Shanghai")
    ended = replace(INFO, ended_at=STARTED_AT.replace(hour=21))
    store.insert("streams", [stream_row(ended)])
    store.insert("violations", [violation_row(v) for v in run([])])
    (before,) = compute_scores(store, rules, "anchor", period, Scope.everything())
    cards = approved("cream_card.md")
    store.insert("violations", [violation_row(v) for v in run(cards)])  # same ids: replaces, marked
    (after,) = compute_scores(store, rules, "anchor", period, Scope.everything())
    assert after.violations == before.violations

    def conduct(score: object) -> float:  # before the cap (the sample is far past it either way)
        return sum(i.deduction for i in score.items if i.group == "conduct")  # type: ignore[attr-defined]

    assert conduct(after) > conduct(before)
    off = [i for i in after.items if i.item == "off_card_violations"]
    assert {i.category for i in off} == {"absolute", "price", "efficacy"}
    assert "不在核准卖点卡上" in describe_item(off[0])
