"""The selection-process figures of an MCN for a period (issue 18, docs/cards.md): what a certifier
checks of product selection in the annual surveillance.

- **with an approved card**: of the products sold in the period (put on the shelf or presented in
  a room), the share whose selling-point card had an approved version at the period's end;
- **reviewed before their first stream**: the share whose card was approved before the product was
  first sold in any room of the MCN (the card was read before the anchor spoke from it);
- **off-card rate per anchor**: of the claims an anchor made in the period (speech claims, and
  statements off the card that are no violation category), the share said off the approved card.

:func:`selection_figures` reads the warehouse; :func:`figures_of` is the arithmetic, apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.records import Card
from pipeline.reporting.scope import Period
from pipeline.warehouse import Store
from pipeline.warehouse.cards import card_versions

_SOLD = (
    "SELECT ifNull(product_id, '') AS product_id, min(ts) AS first_sold, "
    "max(ts >= %(start)s AND ts < %(end)s) AS in_period "
    "FROM listings FINAL WHERE mcn_id = %(mcn)s AND ts < %(end)s AND ifNull(product_id, '') != '' "
    "AND event IN ('on_shelf', 'explain') GROUP BY product_id"
)
_CLAIMS = (
    "SELECT anchor_id, countIf(kind = 'claim') + countIf(kind = 'ledger') AS claims, "
    "countIf(off_card = 1) AS off_card FROM violations FINAL "
    "WHERE mcn_id = %(mcn)s AND ts >= %(start)s AND ts < %(end)s "
    "AND (kind = 'claim' OR (kind = 'ledger' AND category = 'off_card')) GROUP BY anchor_id"
)


@dataclass(frozen=True, slots=True)
class AnchorOffCard:
    anchor_id: str
    claims: int
    off_card: int

    @property
    def rate(self) -> float:
        return self.off_card / self.claims if self.claims else 0.0


@dataclass(frozen=True, slots=True)
class SelectionFigures:
    mcn_id: str
    period: str
    products_sold: int
    with_approved_card: int
    reviewed_before_first_stream: int
    anchors: tuple[AnchorOffCard, ...]
    without_card: tuple[str, ...]  # the products sold with no approved card: what to ask about

    @property
    def approved_share(self) -> float:
        return self.with_approved_card / self.products_sold if self.products_sold else 0.0

    @property
    def reviewed_share(self) -> float:
        return self.reviewed_before_first_stream / self.products_sold if self.products_sold else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "mcn_id": self.mcn_id,
            "period": self.period,
            "products_sold": self.products_sold,
            "with_approved_card": self.with_approved_card,
            "approved_share": round(self.approved_share, 4),
            "reviewed_before_first_stream": self.reviewed_before_first_stream,
            "reviewed_share": round(self.reviewed_share, 4),
            "without_card": list(self.without_card),
            "anchors": [
                {
                    "anchor_id": a.anchor_id,
                    "claims": a.claims,
                    "off_card": a.off_card,
                    "rate": round(a.rate, 4),
                }
                for a in self.anchors
            ],
        }


def selection_figures(store: Store, mcn_id: str, period: Period) -> SelectionFigures:
    """The figures of ``mcn_id`` for ``period``, from its listings, cards and violations."""
    params = {"mcn": mcn_id, **period.params()}
    sold = {
        str(r["product_id"]): _utc(r["first_sold"]) for r in store.query(_SOLD, params) if int(r["in_period"])
    }
    versions = card_versions(store, mcn_id, as_of=period.end)
    claims = [
        (str(r["anchor_id"]), int(r["claims"]), int(r["off_card"])) for r in store.query(_CLAIMS, params)
    ]
    return figures_of(mcn_id, period.label, sold, versions, claims)


def figures_of(
    mcn_id: str,
    period: str,
    sold: Mapping[str, datetime],
    versions: Iterable[Card],
    claims: Sequence[tuple[str, int, int]],
) -> SelectionFigures:
    """``sold``: product → when it was first sold (ever, up to the period's end), for the products
    sold in the period; ``versions``: the MCN's card versions as they stood at the period's end;
    ``claims``: (anchor, claims, of them off the card) in the period."""
    first_approval: dict[str, datetime] = {}
    for card in versions:
        if card.status == "approved" and card.approved_at is not None:
            when = _utc(card.approved_at)
            first_approval[card.product_id] = min(when, first_approval.get(card.product_id, when))
    approved = [p for p in sold if p in first_approval]
    before = [p for p in approved if first_approval[p] <= sold[p]]
    return SelectionFigures(
        mcn_id=mcn_id,
        period=period,
        products_sold=len(sold),
        with_approved_card=len(approved),
        reviewed_before_first_stream=len(before),
        anchors=tuple(AnchorOffCard(a, n, off) for a, n, off in sorted(claims)),
        without_card=tuple(sorted(p for p in sold if p not in first_approval)),
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def describe_selection(figures: SelectionFigures, language: str = "zh") -> list[str]:
    """The figures as the lines of a report, in Chinese or English."""
    n = figures.products_sold
    if language == "zh":
        lines = [
            f"选品流程：期内售出商品 {n} 个；有已审核卖点卡 {figures.with_approved_card} 个"
            f"（{figures.approved_share:.0%}）；首播前已审核 {figures.reviewed_before_first_stream} 个"
            f"（{figures.reviewed_share:.0%}）",
        ]
        if figures.without_card:
            lines.append(f"无已审核卖点卡：{'、'.join(figures.without_card)}")
        lines += [
            f"主播 {a.anchor_id} 卡外宣称率 {a.rate:.0%}（{a.off_card}/{a.claims} 条宣称）"
            for a in figures.anchors
        ]
        return lines
    lines = [
        f"selection: {n} products sold; {figures.with_approved_card} with an approved card "
        f"({figures.approved_share:.0%}); {figures.reviewed_before_first_stream} reviewed before their "
        f"first stream ({figures.reviewed_share:.0%})",
    ]
    if figures.without_card:
        lines.append(f"no approved card: {', '.join(figures.without_card)}")
    lines += [
        f"anchor {a.anchor_id} off-card rate {a.rate:.0%} ({a.off_card} of {a.claims} claims)"
        for a in figures.anchors
    ]
    return lines
