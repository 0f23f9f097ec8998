"""Selling-point cards in the warehouse: versions, approvals, and the card in force.

:func:`save_cards` gives each product's card a new version when its selling points (or version
label) changed since the latest one, and writes nothing for an unchanged card, so the history holds
real changes only. :func:`approve_card` adds an approval row to one version (never rewriting the
import). :func:`card_versions` reads every version of the scope with its state, from which
:func:`approved_cards` takes the card in force per product (its highest approved version, as it
stood at ``as_of`` if given) and :func:`latest_cards` the newest version, approved or not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pipeline.records import Card, decode, to_dict
from pipeline.warehouse import Store
from pipeline.warehouse.sql import where_clause


@dataclass(frozen=True, slots=True)
class CardImport:
    """What importing cards wrote: the versions written and the cards left unchanged."""

    written: tuple[Card, ...]
    unchanged: tuple[Card, ...]


def content_hash(card: Card) -> str:
    """What makes two cards the same version: the selling points in order, and the label."""
    body = json.dumps([card.label, [p.text for p in card.points]], ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def save_cards(store: Store, cards: Sequence[Card], *, imported_at: datetime) -> CardImport:
    """Write a new version of each card whose content differs from its product's latest version."""
    latest = {(c.mcn_id, c.product_id): c for c in latest_cards_of(store, {c.mcn_id for c in cards})}
    written: list[Card] = []
    unchanged: list[Card] = []
    for card in cards:
        before = latest.get((card.mcn_id, card.product_id))
        if before is not None and content_hash(before) == content_hash(card):
            unchanged.append(before)
            continue
        version = before.version + 1 if before else 1
        written.append(replace(card, version=version, status="draft", imported_at=imported_at))
    store.insert("cards", [_row(c, "imported", imported_at) for c in written])
    return CardImport(tuple(written), tuple(unchanged))


def approve_card(
    store: Store,
    card: Card,
    *,
    approved_by: str,
    approved_at: datetime,
    override_reason: str = "",
    findings: Sequence[dict[str, Any]] = (),
) -> Card:
    """Record the approval of a stored version (with the review's findings as they stood)."""
    approved = replace(
        card,
        status="approved",
        approved_by=approved_by,
        approved_at=approved_at,
        override_reason=override_reason,
    )
    store.insert("cards", [_row(approved, "approved", approved_at, findings)])
    return approved


def _row(card: Card, change: str, at: datetime, findings: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    return {
        "mcn_id": card.mcn_id,
        "product_id": card.product_id,
        "version": card.version,
        "change": change,
        "updated_at": at,
        "status": card.status,
        "label": card.label,
        "source": card.source,
        "imported_at": card.imported_at or at,
        "points": [p.text for p in card.points],
        "content_hash": content_hash(card),
        "approved_by": card.approved_by,
        "approved_at": card.approved_at,
        "override_reason": card.override_reason,
        "findings": json.dumps(list(findings), ensure_ascii=False, sort_keys=True),
        "raw": json.dumps(to_dict(card), ensure_ascii=False, sort_keys=True),
    }


def card_versions(
    store: Store, mcn_id: str | None = None, product_id: str | None = None, *, as_of: datetime | None = None
) -> list[Card]:
    """Every version in scope, each in its latest state (approved once an approval row exists)."""
    where, params = where_clause({"mcn_id": mcn_id, "product_id": product_id}, as_of=("updated_at", as_of))
    rows = store.query(
        "SELECT mcn_id, product_id, version, change, raw FROM cards FINAL "
        f"{where} ORDER BY mcn_id, product_id, version, change",
        params or None,
    )
    return versions_of(rows)


def versions_of(rows: Sequence[dict[str, Any]]) -> list[Card]:
    """Each version in its latest state, from ``cards`` rows (mcn_id, product_id, version, change,
    raw) sorted by those columns: the reduction of :func:`card_versions`, for a caller that reads the
    rows through its own (scoped) query."""
    state: dict[tuple[str, str, int], Card] = {}
    for row in rows:  # 'approved' sorts before 'imported': an approval row wins
        state.setdefault((row["mcn_id"], row["product_id"], int(row["version"])), decode(Card, row["raw"]))
    return list(state.values())


def latest_cards_of(store: Store, mcn_ids: set[str]) -> list[Card]:
    """The newest version of each product's card, for the given MCNs."""
    # one query per MCN: `IN [array]` is not portable to ClickHouse 18.16
    return [c for m in sorted(mcn_ids) for c in newest(card_versions(store, m), approved_only=False)]


def latest_cards(store: Store, mcn_id: str | None = None) -> list[Card]:
    """The newest version of each product's card (draft or approved)."""
    return newest(card_versions(store, mcn_id), approved_only=False)


def approved_cards(store: Store, mcn_id: str | None = None, *, as_of: datetime | None = None) -> list[Card]:
    """The card in force per product: its highest approved version (at ``as_of``, if given)."""
    return newest(card_versions(store, mcn_id, as_of=as_of), approved_only=True)


def newest(cards: list[Card], *, approved_only: bool) -> list[Card]:
    """The highest version per product (of the approved ones only, if asked)."""
    best: dict[tuple[str, str], Card] = {}
    for card in cards:
        if approved_only and card.status != "approved":
            continue
        key = (card.mcn_id, card.product_id)
        if key not in best or card.version > best[key].version:
            best[key] = card
    return sorted(best.values(), key=lambda c: (c.mcn_id, c.product_id))
