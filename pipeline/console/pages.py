"""The console's pages: overview (scores, grades, trends), violations, violation detail, review.

Every read goes through the user's scope (``user.scope``): an MCN officer's queries carry their
MCN in the SQL itself, and a violation of another MCN is "not found", exactly like a missing one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipeline.console.auth import CheckedUser, CurrentUser
from pipeline.console.context import ConsoleState, page, period_of, state
from pipeline.console.i18n import language_of, translator
from pipeline.console.labels import chart_labels
from pipeline.console.users import User
from pipeline.errors import AudioError
from pipeline.records import Review
from pipeline.reporting.audit import record
from pipeline.reporting.casefile import Case, find_violations, load_case
from pipeline.reporting.panels import BY_ID, run_panel
from pipeline.reporting.scope import Period, Scope, scoped_query
from pipeline.reporting.scoring import Level, Score, compute_scores, compute_trend
from pipeline.speech.clips import cut_clip
from pipeline.warehouse.rows import review_row

router = APIRouter()
TREND_MONTHS = 6
CHART_WORDS = ("chart_top", "chart_add", "chart_pick", "chart_reset")
MAX_REASON = 500


def default_period(console: ConsoleState, scope: Scope) -> Period:
    """The month of the newest violation the reader may see (else the current month)."""
    rows = scoped_query(
        console.store, "SELECT max(ts) AS t, count() AS n FROM violations FINAL WHERE {scope}", scope
    )
    newest = rows[0]["t"] if rows and rows[0]["n"] else datetime.now(UTC)
    return Period.containing(newest, console.settings.timezone)


def _trend(console: ConsoleState, level: Level, period: Period, scope: Scope) -> dict[str, Any]:
    months = period.recent(TREND_MONTHS)
    series = compute_trend(console.store, console.rules, level, months, scope)
    return {"months": [m.label for m in months], "series": series}


def _day(row: dict[str, Any], timezone: str) -> dict[str, Any]:
    """A row of the daily panel with its day as the console's calendar date (the panel's time is
    that day's local midnight: as a UTC instant it reads as the day before east of Greenwich)."""
    return {
        **row,
        "time": row["time"].isoformat(),
        "day": row["time"].astimezone(ZoneInfo(timezone)).date().isoformat(),
    }


def _bands(scores: list[Score], console: ConsoleState) -> list[tuple[Score, Any]]:
    return [(s, console.rules.band(s.score)) for s in scores]


@dataclass(frozen=True, slots=True)
class OverviewData:
    """What the overview shows for one scope and month: nine queries of the store (shared, read only)."""

    period: Period
    mcn_scores: list[Score]
    anchor_scores: list[Score]
    charts: dict[str, Any]


def overview_data(console: ConsoleState, scope: Scope, month: Period | None) -> OverviewData:
    """The overview's data for ``month`` (``None``: the default period), kept for
    ``console_overview_cache_s`` per (scope, month) and computed once for concurrent readers."""
    data: OverviewData = console.overviews.get(
        (scope, month), lambda: _compute_overview(console, scope, month)
    )
    return data


def _compute_overview(console: ConsoleState, scope: Scope, month: Period | None) -> OverviewData:
    month = month or default_period(console, scope)
    per_day = run_panel(console.store, BY_ID["violations_per_day"], console.rules, scope, month)
    by_category = run_panel(console.store, BY_ID["violations_by_category"], console.rules, scope, month)
    charts = {
        "trend_mcn": _trend(console, "mcn", month, scope),
        "trend_anchor": _trend(console, "anchor", month, scope),
        "per_day": [_day(r, month.timezone) for r in per_day],
        "by_category": by_category,
    }
    return OverviewData(
        period=month,
        mcn_scores=compute_scores(console.store, console.rules, "mcn", month, scope),
        anchor_scores=compute_scores(console.store, console.rules, "anchor", month, scope),
        charts=charts,
    )


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, user: CurrentUser, period: str | None = None) -> Response:
    console = state(request)
    month = Period.parse(period, console.settings.timezone) if period else None  # malformed: 400
    data = overview_data(console, user.scope, month)
    lang = language_of(request)
    t = translator(lang)
    return page(
        request,
        "overview.html",
        user,
        period=data.period,
        mcn_scores=_bands(data.mcn_scores, console),
        anchor_scores=_bands(data.anchor_scores, console),
        # serialised by the template's tojson: <, >, & and ' escaped; the codes' names and the
        # charts' words from static tables (no query)
        charts={**data.charts, "labels": chart_labels(lang), "text": {k: t(k) for k in CHART_WORDS}},
        rules=console.rules,
    )


@router.get("/violations", response_class=HTMLResponse)
def violations(
    request: Request, user: CurrentUser, period: str | None = None, anchor: str | None = None
) -> Response:
    console = state(request)
    month = period_of(request, period, default_period(console, user.scope))
    rows = find_violations(console.store, user.scope, period=month, anchor_id=anchor or None, limit=500)
    return page(request, "violations.html", user, period=month, rows=rows, anchor=anchor or "")


def around(text: str, term: str) -> tuple[str, str, str]:
    """``text`` cut around the first ``term`` in it (before, term, after), to mark the claim in its
    sentence; the whole text before an empty term or one it does not hold."""
    at = text.find(term) if term else -1
    if at < 0:
        return text, "", ""
    return text[:at], term, text[at + len(term) :]


def scoped_case(request: Request, user: User, event_id: str) -> Case:
    """The violation if the user may see it; 404 otherwise (whether it exists or not).

    Kept per (scope, event id) like the overview (``console_overview_cache_s``), computed once for
    concurrent readers and dropped on a review: the case is six queries of the store, and the
    store takes one query at a time (a server store a few). The scope is part of the key, so one
    MCN's officer never gets a case loaded for another scope. Shared read only."""
    console = state(request)
    case: Case | None = console.cases.get(
        (user.scope, event_id),
        lambda: load_case(console.store, user.scope, event_id, context_s=console.settings.evidence_context_s),
    )
    if case is None:
        raise HTTPException(404)
    return case


@router.get("/violations/{event_id}", response_class=HTMLResponse)
def violation(request: Request, user: CurrentUser, event_id: str) -> Response:
    case = scoped_case(request, user, event_id)
    v = case.violation
    return page(
        request,
        "violation.html",
        user,
        case=case,
        v=v,
        quoted=around(str(v.get("text") or ""), str(v.get("term") or "")),
        hit=lambda s: s["end_offset_s"] >= v["offset_s"] and s["offset_s"] <= v["end_offset_s"],
        period=Period.containing(v["ts"], state(request).settings.timezone),
    )


@router.get("/violations/{event_id}/clip.wav")
def clip(request: Request, user: CurrentUser, event_id: str) -> Response:
    case = scoped_case(request, user, event_id)
    if not case.audio_path:
        raise HTTPException(404, "this stream has no archived audio")
    start, end = case.clip_bounds(state(request).settings.clip_padding_s)
    try:
        data = cut_clip(case.audio_path, start, end)
    except AudioError as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(data, media_type="audio/wav")


def save_review(console: ConsoleState, user: User, case: Case, decision: str, reason: str) -> None:
    """Write a review and its audit entry (the review id sorts by time, so the latest wins)."""
    now = datetime.now(UTC)
    review = Review(
        review_id=f"{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}",
        violation_id=case.event_id,
        reviewer=user.username,
        decision=decision,  # type: ignore[arg-type]
        reviewed_at=now,
        reason=reason,
    )
    mcn_id = str(case.violation["mcn_id"])
    console.store.insert("reviews", [review_row(review, mcn_id=mcn_id)])
    console.overviews.clear()  # a dismissal changes scores: no reader sees the old ones after this
    console.cases.clear()  # and the case's review history: the redirect shows the new review
    record(console.store, user.username, f"review.{decision}", case.event_id, mcn_id, reason=reason)


@router.post("/violations/{event_id}/review")
def review(
    request: Request,
    user: CheckedUser,
    event_id: str,
    decision: Annotated[Literal["confirm", "dismiss"], Form()],
    reason: Annotated[str, Form(max_length=MAX_REASON)],
) -> Response:
    if not user.can_review:
        raise HTTPException(403)
    case = scoped_case(request, user, event_id)
    if not reason.strip():
        raise HTTPException(400, "a reason is required")
    save_review(state(request), user, case, decision, reason.strip())
    return RedirectResponse(f"/violations/{event_id}", status_code=303)
