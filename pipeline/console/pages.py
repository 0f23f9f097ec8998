"""The console's pages: overview (scores, grades, trends), violation detail, review (the list of
violations is the review queue, :mod:`pipeline.console.queue`).

Every read goes through the user's scope (``user.scope``): an MCN officer's queries carry their
MCN in the SQL itself, and a violation of another MCN is "not found", exactly like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipeline.console import attachments
from pipeline.console.auth import CheckedUser, CurrentUser
from pipeline.console.context import ConsoleState, page, state
from pipeline.console.i18n import language_of, translator
from pipeline.console.labels import chart_labels
from pipeline.console.lifecycle_text import refusal_text
from pipeline.console.player import around, heard_and_read, player_bounds, player_of
from pipeline.console.ranges import ranged_response
from pipeline.console.reviewing import read_attachment
from pipeline.console.reviewing import save_review as save_review  # noqa: PLC0414 (re-exported)
from pipeline.console.users import User
from pipeline.errors import AudioError
from pipeline.reporting.casefile import Case, load_case
from pipeline.reporting.lifecycle import ACTIONS, ACTOR, MAY_ATTACH, TransitionRefused, available
from pipeline.reporting.panels import BY_ID, run_panel
from pipeline.reporting.scope import Period, Scope, scoped_query
from pipeline.reporting.scoring import Level, Score, compute_scores, compute_trend
from pipeline.speech.clips import cut_clip

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
        heard=heard_and_read(v),
        player=player_of(case, state(request).settings.clip_padding_s),
        period=Period.containing(v["ts"], state(request).settings.timezone),
        actions=available(case.state, user.role),  # the review lifecycle's buttons (lifecycle.py)
        attachable=MAY_ATTACH,
    )


@router.get("/violations/{event_id}/clip.wav")
def clip(request: Request, user: CurrentUser, event_id: str) -> Response:
    case = scoped_case(request, user, event_id)
    if not case.audio_path:
        raise HTTPException(404, "this stream has no archived audio")
    # the transcript the page shows, not only the sentence: a click on any line of it seeks
    start, end = player_bounds(case.violation, case.transcript, state(request).settings.clip_padding_s)
    try:
        data = cut_clip(case.audio_path, start, end)
    except AudioError as exc:
        raise HTTPException(404, str(exc)) from None
    return ranged_response(request, data, "audio/wav")  # ranges: the player seeks to the claim


@router.post("/violations/{event_id}/review")
def review(
    request: Request,
    user: CheckedUser,
    event_id: str,
    *,
    decision: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=MAX_REASON)],
    attachment: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """One step of the review lifecycle (pipeline/reporting/lifecycle.py): 403 for an action the
    user's role never takes, 404 for a violation they may not see, 409 for one its state does not
    allow (said in the reader's language), else 303 back to the violation (also when the same
    step was taken already: nothing is written twice)."""
    if decision not in ACTIONS:
        raise HTTPException(400, f"unknown action; one of {', '.join(ACTIONS)}")
    if ACTOR[decision] != user.role:
        raise HTTPException(403)
    case = scoped_case(request, user, event_id)
    if not reason.strip():
        raise HTTPException(400, "a reason is required")
    console = state(request)
    upload = read_attachment(attachment, console.settings.console_max_attachment_bytes)
    try:
        save_review(console, user, case, decision, reason.strip(), attachment=upload)
    except TransitionRefused as exc:
        status = {"role": 403, "state": 409}.get(exc.kind, 400)
        raise HTTPException(status, refusal_text(exc, language_of(request))) from None
    return RedirectResponse(f"/violations/{event_id}", status_code=303)


@router.get("/violations/{event_id}/attachments/{sha256}")
def attachment_file(request: Request, user: CurrentUser, event_id: str, sha256: str) -> Response:
    """An attachment in the violation's history, to a reader who may see the violation (404 for
    anyone else, and for a hash no review of this violation lists)."""
    case = scoped_case(request, user, event_id)
    listed = next((r for r in case.reviews if r.get("attachment_sha256") == sha256), None)
    if listed is None:
        raise HTTPException(404)
    data = attachments.read(state(request).settings.data_dir, sha256)
    if data is None:
        raise HTTPException(404)
    media_type = str(listed["attachment_type"])
    name = f"attachment-{sha256[:12]}{attachments.suffix_of(media_type)}"
    return Response(
        data, media_type=media_type, headers={"content-disposition": f'attachment; filename="{name}"'}
    )
