"""Selling-point cards in the warehouse (both stores): versions, approval, the card in force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.ledger.cards import read_cards
from pipeline.records import Card, SellingPoint
from pipeline.warehouse import Store
from pipeline.warehouse.cards import approve_card, approved_cards, card_versions, latest_cards, save_cards
from tests.paths import DATA

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def card(*texts: str, product_id: str = "P-1001") -> Card:
    return Card("mcn-starlight", product_id, tuple(SellingPoint(i, t) for i, t in enumerate(texts, 1)))


def test_versions_approval_and_the_card_in_force(store: Store) -> None:
    (first,) = save_cards(store, [card("深层保湿")], imported_at=T0).written
    assert (first.version, first.status) == (1, "draft")
    again = save_cards(store, [card("深层保湿")], imported_at=T0 + timedelta(hours=1))
    assert again.written == ()
    assert again.unchanged[0].version == 1
    assert approved_cards(store, "mcn-starlight") == []
    approve_card(store, first, approved_by="王敏", approved_at=T0)  # the same second as the import
    (second,) = save_cards(store, [card("深层保湿", "质地轻薄")], imported_at=T0 + timedelta(days=1)).written
    assert second.version == 2
    (in_force,) = approved_cards(store, "mcn-starlight")  # version 2 is still a draft
    assert (in_force.version, in_force.approved_by, in_force.approved_at) == (1, "王敏", T0)
    assert [c.version for c in latest_cards(store, "mcn-starlight")] == [2]
    approve_card(store, second, approved_by="李强", approved_at=T0 + timedelta(days=2), override_reason="ok")
    assert approved_cards(store, "mcn-starlight")[0].version == 2
    assert approved_cards(store, "mcn-starlight", as_of=T0 + timedelta(days=1))[0].version == 1
    history = sorted(card_versions(store, "mcn-starlight", "P-1001"), key=lambda c: c.version)
    assert [(c.version, c.status, c.override_reason) for c in history] == [
        (1, "approved", ""),
        (2, "approved", "ok"),
    ]


def test_a_read_card_file_round_trips(store: Store) -> None:
    read = read_cards(DATA / "cards" / "brand_cards.xlsx", mcn_id="mcn-starlight")
    save_cards(store, read.cards, imported_at=T0)
    stored = {c.product_id: c for c in latest_cards(store)}
    assert stored["P-1001"].points == read.cards[0].points
    assert stored["P-1001"].source.endswith("brand_cards.xlsx")
    assert stored["P-1001"].imported_at == T0
