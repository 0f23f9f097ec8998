"""Live violations: the page (the live wall of pipeline.console.wall above the last 24 hours'
violations), the wall's event stream, and a server-sent event stream of new violations in the
reader's scope.

The stream polls the warehouse every ``console_sse_interval_s`` for violations inserted after the
last one sent (a cursor of insertion time and event id, also sent as the event id, so a browser
that reconnects resumes where it left off via ``Last-Event-ID``). Each connection ends after
``MAX_STREAM_S``; EventSource reconnects by itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from pipeline.console.auth import CurrentUser
from pipeline.console.context import local_time, page, state
from pipeline.console.i18n import language_of
from pipeline.console.live_wall import wall_events, wall_view, window_text
from pipeline.console.users import User
from pipeline.console.wall import WallRules
from pipeline.reporting.casefile import find_violations
from pipeline.reporting.categories import severity_label, violation_label
from pipeline.reporting.scope import Scope, scoped_query

router = APIRouter()
MAX_STREAM_S = 300.0
RECENT = timedelta(hours=24)


@router.get("/live", response_class=HTMLResponse)
def live_page(request: Request, user: CurrentUser) -> Response:
    """The live wall (the reader's rooms on air) above the violations stored in the last 24 hours."""
    console = state(request)
    since = datetime.now(UTC) - RECENT
    rows = find_violations(console.store, user.scope, since=since, limit=100)
    wall = wall_view(request, user)
    lang = language_of(request)
    rules = WallRules.of(console.settings)
    return page(
        request, "live.html", user, wall=wall,
        window=window_text(rules, lang), rows=rows,
    )  # fmt: skip


@router.get("/live/events/wall")
async def live_wall_events(request: Request, user: CurrentUser, max_s: float = MAX_STREAM_S) -> Response:
    """The live wall as server-sent events (``event: wall``, the rooms when they changed)."""
    return _event_stream(wall_events(request, user, _bounded(max_s)))


def _bounded(max_s: float) -> float:
    return min(max(max_s, 0.0), MAX_STREAM_S)


def _event_stream(events: AsyncIterator[str]) -> Response:
    """A server-sent event stream, never cached nor buffered by a proxy."""
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


def _cursor(text: str | None) -> tuple[datetime, str]:
    """Parse ``<iso time>|<event id>``; a missing or bad cursor starts from now."""
    try:
        stamp, _, event_id = (text or "").partition("|")
        return datetime.fromisoformat(stamp).astimezone(UTC), event_id
    except (ValueError, OverflowError):  # OverflowError: a time that leaves the calendar in UTC
        return datetime.now(UTC).replace(microsecond=0), ""


def newer(request: Request, scope: Scope, after: tuple[datetime, str]) -> list[dict[str, Any]]:
    """Violations inserted after the cursor, oldest first."""
    return scoped_query(
        state(request).store,
        "SELECT event_id, inserted_at, ts, mcn_id, anchor_id, stream_id, category, off_card, severity, term, "
        "text "
        "FROM violations FINAL WHERE {scope} AND (inserted_at > %(t)s OR (inserted_at = %(t)s "
        "AND event_id > %(id)s)) ORDER BY inserted_at, event_id LIMIT 200",
        scope,
        {"t": after[0], "id": after[1]},
    )


def _event(request: Request, row: dict[str, Any]) -> str:
    lang = language_of(request)
    cursor = f"{row['inserted_at'].isoformat()}|{row['event_id']}"
    data = {
        "event_id": row["event_id"],
        "time": local_time(row["ts"], state(request).settings.timezone),
        "mcn_id": row["mcn_id"],
        "anchor_id": row["anchor_id"],
        "stream_id": row["stream_id"],
        "category": violation_label(row["category"], row["off_card"], lang),
        "off_card": bool(row["off_card"]),
        "severity": severity_label(row["severity"], lang),
        "severity_code": row["severity"],
        "term": row["term"],
        "text": row["text"],
    }
    return f"id: {cursor}\nevent: violation\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _events(
    request: Request, user: User, cursor: tuple[datetime, str], max_s: float, *, resume: bool = True
) -> AsyncIterator[str]:
    """The stream from ``cursor``. A fresh connection (``resume`` false: its cursor is now) first
    polls after one interval, since nothing can be newer yet; one that resumes polls at once."""
    interval = state(request).settings.console_sse_interval_s
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_s
    yield f"retry: {int(interval * 1000)}\n\n"
    if not resume:
        yield ": keep-alive\n\n"
        await asyncio.sleep(min(interval, max_s))
    while loop.time() < deadline and not await request.is_disconnected():
        for row in await anyio.to_thread.run_sync(newer, request, user.scope, cursor):
            cursor = (row["inserted_at"], row["event_id"])
            yield _event(request, row)
        yield ": keep-alive\n\n"
        await asyncio.sleep(interval)


@router.get("/live/events")
async def live_events(
    request: Request, user: CurrentUser, since: str | None = None, max_s: float = MAX_STREAM_S
) -> Response:
    sent = request.headers.get("last-event-id") or since
    cursor = _cursor(sent)
    return _event_stream(_events(request, user, cursor, _bounded(max_s), resume=bool(sent)))
