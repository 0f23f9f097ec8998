"""The selection-process figures of the surveillance report (issue 18, part 4), on both stores:
products sold with an approved card, reviewed before their first stream, off-card rate per anchor."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from pipeline.commands.main import main
from pipeline.config import Settings
from pipeline.records import Card, SellingPoint
from pipeline.reporting.scope import Period
from pipeline.reporting.selection import describe_selection, figures_of, selection_figures
from pipeline.warehouse import Store
from pipeline.warehouse.cards import approve_card, save_cards
from pipeline.warehouse.rows import violation_row
from tests import scenario
from tests.pipeline_harness import env_of

pytestmark = pytest.mark.integration
NOVEMBER = Period.parse(scenario.PERIOD, "Asia/Shanghai")
FIRST_SALE = datetime(2026, 11, 20, 12, tzinfo=UTC)  # the sample room puts P-1001/2/4 on the shelf


def card(product_id: str) -> Card:
    return Card("mcn-starlight", product_id, (SellingPoint(1, "质地清爽"),))


def seeded_with_cards(store: Store) -> int:
    """The scenario, cards for its products (P-1001 approved the day before the room, P-1002 the
    day after, P-1004 a draft), one off-card claim and one off-card statement; the anchor's claims."""
    scenario.seed(store)
    written = save_cards(
        store, [card("P-1001"), card("P-1002"), card("P-1004")], imported_at=FIRST_SALE - timedelta(days=3)
    )
    by_product = {c.product_id: c for c in written.written}
    approve_card(store, by_product["P-1001"], approved_by="王敏", approved_at=FIRST_SALE - timedelta(days=1))
    approve_card(store, by_product["P-1002"], approved_by="王敏", approved_at=FIRST_SALE + timedelta(days=1))
    claims = [v for v in scenario.starlight_violations() if v.kind == "claim"]
    off_claim = dataclasses.replace(claims[0], event_id="off-card-claim", off_card=True)
    statement = dataclasses.replace(
        claims[0], event_id="off-card-statement", kind="ledger", category="off_card", off_card=True
    )
    store.insert("violations", [violation_row(off_claim), violation_row(statement)])
    return len(claims) + 2


def test_the_figures_from_listings_cards_and_violations(store: Store) -> None:
    claims = seeded_with_cards(store)
    figures = selection_figures(store, "mcn-starlight", NOVEMBER)
    assert (figures.products_sold, figures.with_approved_card, figures.reviewed_before_first_stream) == (
        3,
        2,
        1,
    )
    assert figures.without_card == ("P-1004",), figures
    (anchor,) = figures.anchors
    assert (anchor.anchor_id, anchor.claims, anchor.off_card) == ("anchor-xiaomei", claims, 2)
    assert selection_figures(store, "mcn-starlight", NOVEMBER.next()).products_sold == 0  # sold in November
    rival = selection_figures(store, "mcn-rival", NOVEMBER)  # another MCN's cards never count
    assert (rival.products_sold, rival.with_approved_card) == (1, 0)


def test_a_card_approved_later_counts_in_later_periods_only(store: Store) -> None:
    seeded_with_cards(store)
    october = selection_figures(store, "mcn-starlight", NOVEMBER.previous())
    assert october.products_sold == 0
    lines = describe_selection(selection_figures(store, "mcn-starlight", NOVEMBER), "en")
    assert lines[0] == (
        "selection: 3 products sold; 2 with an approved card (67%); "
        "1 reviewed before their first stream (33%)"
    )
    assert lines[1] == "no approved card: P-1004"


def test_the_score_command_reports_them_for_an_mcn(store: Store, store_settings: Settings) -> None:
    claims = seeded_with_cards(store)
    env = {**env_of(store_settings), "CLAIMWATCH_TIMEZONE": "Asia/Shanghai"}
    runner = CliRunner()
    out = runner.invoke(main, ["score", "--period", "2026-11", "--mcn", "mcn-starlight"], env=env)
    assert out.exit_code == 0, out.output
    assert "选品流程：期内售出商品 3 个；有已审核卖点卡 2 个（67%）；首播前已审核 1 个（33%）" in out.output
    assert f"主播 anchor-xiaomei 卡外宣称率 {2 / claims:.0%}（2/{claims} 条宣称）" in out.output
    as_json = runner.invoke(
        main, ["score", "--period", "2026-11", "--mcn", "mcn-starlight", "--level", "mcn", "--json"], env=env
    )
    (line,) = as_json.output.strip().splitlines()
    selection = json.loads(line)["selection"]
    assert (selection["products_sold"], selection["reviewed_share"]) == (3, round(1 / 3, 4))
    anchor_only = runner.invoke(
        main, ["score", "--period", "2026-11", "--anchor", "anchor-xiaomei", "--json"], env=env
    )
    assert "selection" not in json.loads(anchor_only.output.strip().splitlines()[0])


def test_figures_of_is_the_arithmetic() -> None:
    at = datetime(2026, 11, 5, tzinfo=UTC)
    approved = dataclasses.replace(card("A"), status="approved", approved_at=at)
    again = dataclasses.replace(approved, version=2, approved_at=at + timedelta(days=9))
    draft = card("B")
    figures = figures_of("m", "2026-11", {"A": at, "B": at, "C": at}, [again, approved, draft], [("x", 0, 0)])
    assert (figures.with_approved_card, figures.reviewed_before_first_stream) == (1, 1)  # approved as it sold
    assert figures.without_card == ("B", "C")
    assert figures.anchors[0].rate == 0.0  # no claims: no rate to divide by
    empty = figures_of("m", "2026-11", {}, [], [])
    assert (empty.approved_share, empty.reviewed_share) == (0.0, 0.0)
