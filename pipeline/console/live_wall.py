"""The live wall as the page shows it: each room in the reader's words, and the event stream that
sends the whole wall again whenever it changed (a new hit, a room stalled or ended, a product on
stage).

The wall stream polls :func:`pipeline.console.wall.wall_rooms` every ``console_sse_interval_s``
and sends an ``event: wall`` with the rooms, riskiest first, when they differ from the last ones
sent (a fresh connection gets the wall at once). The time since each room's last audio is sent as
a time, and counted on the page (``static/wall.js``) between events.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from fastapi import Request

from pipeline.console.context import local_time, state
from pipeline.console.i18n import language_of, translator
from pipeline.console.users import User
from pipeline.console.wall import SEVERITIES, Room, WallRules, wall_rooms
from pipeline.reporting.categories import Language, severity_label, violation_label

STATE_TEXT = {
    ("live", ""): "wall_state_live",
    ("stalled", ""): "wall_state_stalled",
    ("ended", "announced"): "wall_state_ended",
    ("ended", "source"): "wall_ended_source",
    ("ended", "silence"): "wall_ended_silence",
}


def ago(seconds: float, language: Language) -> str:
    """``12 秒前`` / ``3 min ago``: seconds below a minute, minutes below an hour, then hours."""
    t = translator(language)
    seconds = max(0, int(seconds))
    if seconds < 60:
        return t("wall_ago_s").replace("{n}", str(seconds))
    if seconds < 3600:
        return t("wall_ago_m").replace("{n}", str(seconds // 60))
    return t("wall_ago_h").replace("{n}", str(seconds // 3600))


def window_text(rules: WallRules, language: Language) -> str:
    minutes = rules.window_s / 60
    return translator(language)("wall_window").replace("{n}", f"{minutes:g}")


def room_view(room: Room, now: datetime, language: Language, timezone: str) -> dict[str, Any]:
    """A room as JSON for the page: ids, state and its words, counts, the last hit, last audio."""
    t = translator(language)
    hit = room.last_hit
    return {
        "stream_id": room.stream_id,
        "anchor_id": room.anchor_id,
        "mcn_id": room.mcn_id,
        "state": room.state,
        "state_text": t(STATE_TEXT.get((room.state, room.end_reason), f"wall_state_{room.state}")),
        "detail": room.detail,
        "product": room.product,
        "counts": {s: int(room.counts.get(s, 0)) for s in SEVERITIES},
        "severity_text": {s: severity_label(s, language) for s in SEVERITIES},
        "last_hit": None
        if hit is None
        else {
            "event_id": hit.event_id,
            "time": local_time(hit.ts, timezone),
            "category": violation_label(hit.category, hit.off_card, language),
            "off_card": hit.off_card,
            "severity": hit.severity,
            "severity_text": severity_label(hit.severity, language),
            "term": hit.term,
            "text": hit.text,
        },
        "last_audio": None if room.last_audio is None else room.last_audio.timestamp(),
        "last_audio_text": t("wall_no_audio")
        if room.last_audio is None
        else ago((now - room.last_audio).total_seconds(), language),
    }


def wall_view(request: Request, user: User, now: datetime | None = None) -> dict[str, Any]:
    """The reader's wall now: ``now`` (epoch seconds) and its rooms, riskiest first."""
    console = state(request)
    now = now or datetime.now(UTC)
    rooms = wall_rooms(console.store, user.scope, WallRules.of(console.settings), now)
    lang = language_of(request)
    return {
        "now": now.timestamp(),
        "rooms": [room_view(r, now, lang, console.settings.timezone) for r in rooms],
    }


def _changed(view: dict[str, Any], last: str | None) -> str | None:
    """The view's rooms as JSON when they differ from ``last`` (what was sent), else None; the
    time and the words of the time since last audio (counted on the page) are not a change."""
    rooms = [{k: v for k, v in r.items() if k != "last_audio_text"} for r in view["rooms"]]
    text = json.dumps(rooms, ensure_ascii=False, sort_keys=True)
    return None if text == last else text


async def wall_events(request: Request, user: User, max_s: float) -> AsyncIterator[str]:
    """The wall at once, then again each time it changed, until ``max_s`` (EventSource reconnects)."""
    interval = state(request).settings.console_sse_interval_s
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_s
    yield f"retry: {int(interval * 1000)}\n\n"
    sent: str | None = None
    while loop.time() < deadline and not await request.is_disconnected():
        view = await anyio.to_thread.run_sync(wall_view, request, user)
        if (changed := _changed(view, sent)) is not None:
            sent = changed
            yield f"event: wall\ndata: {json.dumps(view, ensure_ascii=False)}\n\n"
        else:
            yield ": keep-alive\n\n"
        await asyncio.sleep(interval)
