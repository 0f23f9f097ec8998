"""The console's selling-point card pages (卖点卡, docs/cards.md): each product's newest card, one
card with its review and version history, and the officer's approval.

Cards are read through the reader's scope (``{scope}`` in the SQL, like every page), so another
MCN's card is "not found" (404) exactly like a missing one. The review is the one ``claimwatch card
check`` prints (:class:`pipeline.checks.cards.CardReviewer`), run against the product's current
ledger row. Approval is for an MCN officer of the card's MCN only: a card with a high finding needs
an override reason, and every approval goes to the audit log as ``card.approve``, with the same
details as the command line's. The routes are plain functions: FastAPI runs them in its thread
pool, off the event loop (docs/console.md, Threads).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipeline.checks.cards import CardReview, CardReviewer
from pipeline.console.auth import CheckedUser, CurrentUser
from pipeline.console.context import ConsoleState, page, state
from pipeline.console.users import User
from pipeline.records import Card, LedgerEntry
from pipeline.reporting.audit import record
from pipeline.reporting.scope import Scope, scoped_query
from pipeline.warehouse.cards import approve_card, newest, versions_of
from pipeline.warehouse.ledger import current_ledger

router = APIRouter()
MAX_REASON = 500
_VERSIONS = (
    "SELECT mcn_id, product_id, version, change, raw FROM cards FINAL WHERE {scope}{only} "
    "ORDER BY mcn_id, product_id, version, change"
)


@lru_cache(maxsize=4)
def reviewer(lexicon_dir: Path) -> CardReviewer:
    """The lexicons of a directory, loaded once per console process."""
    return CardReviewer.load(lexicon_dir)


def scoped_versions(
    console: ConsoleState, scope: Scope, mcn_id: str | None = None, product_id: str | None = None
) -> list[Card]:
    """Every card version the scope may see (of one product, if given), in its latest state."""
    only = "".join(
        f" AND {column} = %({column})s"
        for column, value in (("mcn_id", mcn_id), ("product_id", product_id))
        if value is not None
    )
    params = {k: v for k, v in (("mcn_id", mcn_id), ("product_id", product_id)) if v is not None}
    rows = scoped_query(console.store, _VERSIONS.replace("{only}", only), scope, params)
    return sorted(versions_of(rows), key=lambda c: (c.mcn_id, c.product_id, c.version))


def review_of(console: ConsoleState, card: Card) -> CardReview:
    """The card's review against its product's ledger row as it stands now."""
    entry = _ledger(console, card.mcn_id).get(card.product_id)
    return reviewer(console.settings.lexicon_dir).review(card, entry, at=datetime.now(UTC))


def _ledger(console: ConsoleState, mcn_id: str) -> dict[str, LedgerEntry]:
    # mcn_id comes from a card the reader's scope returned: the scope is already applied
    return {e.product_id: e for e in current_ledger(console.store, mcn_id)}


def _row(console: ConsoleState, card: Card, in_force: Card | None) -> dict[str, Any]:
    review = review_of(console, card)
    entry = review.entry
    return {
        "card": card,
        "name": entry.product_name if entry else "",
        "findings": len(review.findings),
        "high": len(review.high),
        "in_force": in_force,
    }


@router.get("/cards", response_class=HTMLResponse)
def cards(request: Request, user: CurrentUser) -> Response:
    """Each product's newest card: version, status, who approved it and when, its findings."""
    console = state(request)
    versions = scoped_versions(console, user.scope)
    approved = {(c.mcn_id, c.product_id): c for c in newest(versions, approved_only=True)}
    rows = [
        _row(console, c, approved.get((c.mcn_id, c.product_id)))
        for c in newest(versions, approved_only=False)
    ]
    return page(request, "cards.html", user, rows=rows)


def _card_page(
    request: Request, user: User, mcn_id: str, product_id: str, version: int | None, **values: Any
) -> Response:
    console = state(request)
    history = scoped_versions(console, user.scope, mcn_id, product_id)
    shown = [c for c in history if version is None or c.version == version][-1:]
    if not shown:
        raise HTTPException(404)
    card = shown[0]
    review = review_of(console, card)
    return page(
        request,
        "card.html",
        user,
        values.pop("status_code", 200),
        card=card,
        review=review,
        history=history[::-1],
        may_approve=may_approve(user, card),
        **values,
    )


def may_approve(user: User, card: Card) -> bool:
    """Only an MCN officer of the card's MCN approves, and only a version not yet approved."""
    return user.role == "mcn_officer" and user.mcn_id == card.mcn_id and card.status != "approved"


@router.get("/cards/{mcn_id}/{product_id}", response_class=HTMLResponse)
def card(
    request: Request, user: CurrentUser, mcn_id: str, product_id: str, version: int | None = None
) -> Response:
    """One card: every selling point with its findings, and the card's versions."""
    return _card_page(request, user, mcn_id, product_id, version)


@router.post("/cards/{mcn_id}/{product_id}/approve")
def approve(
    request: Request,
    *,
    user: CheckedUser,
    mcn_id: str,
    product_id: str,
    version: Annotated[int, Form()],
    override_reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
) -> Response:
    """Approve one version (403 for anyone but an officer of the card's MCN, 404 outside the
    scope); refused with the findings shown when it has a high finding and no override reason."""
    console = state(request)
    found = [c for c in scoped_versions(console, user.scope, mcn_id, product_id) if c.version == version]
    if not found:
        raise HTTPException(404)
    target = found[0]
    if user.role != "mcn_officer" or user.mcn_id != target.mcn_id:
        raise HTTPException(403)
    if target.status == "approved":
        return _card_page(
            request, user, mcn_id, product_id, version, status_code=400, error="card_already_approved"
        )
    review = review_of(console, target)
    reason = override_reason.strip()
    if review.high and not reason:
        return _card_page(
            request, user, mcn_id, product_id, version, status_code=400, error="card_needs_override"
        )
    save_approval(console, user, review, reason)
    return RedirectResponse(f"/cards/{mcn_id}/{product_id}?version={version}", status_code=303)


def save_approval(console: ConsoleState, user: User, review: CardReview, reason: str) -> Card:
    """Write the approval (with the findings as they stood) and its audit entry, as
    ``claimwatch card approve`` does."""
    target = review.card
    done = approve_card(
        console.store, target, approved_by=user.username, approved_at=datetime.now(UTC),
        override_reason=reason, findings=[f.as_dict() for f in review.findings],
    )  # fmt: skip
    name = f"card:{target.mcn_id}/{target.product_id}/v{done.version}"
    record(
        console.store, user.username, "card.approve", name, target.mcn_id,
        override_reason=done.override_reason, findings=len(review.findings), high=len(review.high),
        via="console",
    )  # fmt: skip
    return done
