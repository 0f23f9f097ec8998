"""JSON API for scripts and the pages' charts: scores, violations and panels, all scoped."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request

from pipeline.console.auth import CurrentUser
from pipeline.console.context import period_of, state
from pipeline.console.pages import default_period, scoped_case
from pipeline.reporting.casefile import find_violations
from pipeline.reporting.panels import BY_ID, run_panel
from pipeline.reporting.scoring import compute_scores

router = APIRouter(prefix="/api")


@router.get("/scores")
def scores(
    request: Request,
    user: CurrentUser,
    *,
    level: Literal["anchor", "mcn"] = "mcn",
    period: str | None = None,
    mcn: str | None = None,
    anchor: str | None = None,
) -> dict[str, Any]:
    console = state(request)
    month = period_of(request, period, default_period(console, user.scope))
    found = compute_scores(console.store, console.rules, level, month, user.scope.narrow(mcn), subject=anchor)
    return {"period": month.label, "rules": console.rules.version, "scores": [asdict(s) for s in found]}


@router.get("/violations")
def violations(
    request: Request,
    user: CurrentUser,
    period: str | None = None,
    anchor: str | None = None,
    limit: int = 200,
) -> dict[str, Any]:
    console = state(request)
    month = period_of(request, period, default_period(console, user.scope))
    rows = find_violations(
        console.store, user.scope, period=month, anchor_id=anchor, limit=min(max(limit, 1), 1000)
    )
    return {"period": month.label, "violations": rows}


@router.get("/violations/{event_id}")
def violation(request: Request, user: CurrentUser, event_id: str) -> dict[str, Any]:
    case = scoped_case(request, user, event_id)
    return {
        "violation": case.violation,
        "transcript": case.transcript,
        "listing": case.listing,
        "ledger": case.ledger,
        "reviews": case.reviews,
        "decision": case.decision,
    }


@router.get("/panels/{panel_id}")
def panel(request: Request, user: CurrentUser, panel_id: str, period: str | None = None) -> dict[str, Any]:
    if panel_id not in BY_ID:
        raise HTTPException(404)
    console = state(request)
    month = period_of(request, period, default_period(console, user.scope))
    rows = run_panel(console.store, BY_ID[panel_id], console.rules, user.scope, month)
    return {"panel": panel_id, "period": month.label, "rows": rows}
