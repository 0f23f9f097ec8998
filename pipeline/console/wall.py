"""The live wall's data: one room per stream on air (or lately off it), in the reader's scope.

"On air" is what the warehouse knows, not a recent insertion: a stream with no end announced
whose speech (``transcripts``; silence is never stored) or start is recent. Each room's state
comes from the time since its last speech (:func:`room_state`): *live*, *stalled* after
``console_wall_stall_s`` of silence, *ended* after ``console_wall_end_s`` or once its end is
announced (``streams.ended_at``, with ``end_reason`` when the source was lost). An ended room
stays on the wall ``console_wall_keep_s``. Rooms are ordered by risk (:func:`risk_key`).

The queries follow :mod:`pipeline.reporting.panels`: each table is read on its own with the
``{scope}`` token and grouped by stream; the rooms are joined here, in Python, so no query joins
two sharded tables on a cluster; a subquery of another table (or of the reviews) is ``GLOBAL``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pipeline.config import Settings
from pipeline.errors import ClaimWatchError
from pipeline.reporting.scope import Scope, scoped_query
from pipeline.reporting.scoring import DISMISSED_SQL
from pipeline.warehouse import Store

RoomState = Literal["live", "stalled", "ended"]
SEVERITIES = ("high", "medium", "low")
MAX_ROOMS = 200
"""Rooms on one wall at most (the riskiest; the rest are left off)."""


class WallError(ClaimWatchError):
    """The wall's thresholds contradict each other."""


@dataclass(frozen=True, slots=True)
class WallRules:
    """The wall's thresholds, in seconds (``console_wall_*`` settings)."""

    window_s: float = 600.0
    stall_s: float = 60.0
    end_s: float = 600.0
    keep_s: float = 1800.0

    def __post_init__(self) -> None:
        if min(self.window_s, self.stall_s, self.end_s) <= 0 or self.keep_s < 0:
            raise WallError(f"wall thresholds must be positive: {self}")
        if self.end_s <= self.stall_s:
            raise WallError(f"a room must stall ({self.stall_s:g} s) before it ends ({self.end_s:g} s)")

    @classmethod
    def of(cls, settings: Settings) -> WallRules:
        return cls(
            settings.console_wall_window_s,
            settings.console_wall_stall_s,
            settings.console_wall_end_s,
            settings.console_wall_keep_s,
        )


@dataclass(frozen=True, slots=True)
class Hit:
    """A room's latest violation."""

    event_id: str
    ts: datetime
    category: str
    off_card: bool
    severity: str
    term: str
    text: str


@dataclass(frozen=True, slots=True)
class Room:
    """One stream as the wall shows it."""

    stream_id: str
    anchor_id: str
    mcn_id: str
    started_at: datetime
    state: RoomState
    last_audio: datetime | None = None
    """The end of its latest stored speech (None: none yet)."""
    ended_at: datetime | None = None
    """When it ended: announced, or the last sound plus ``end_s`` for a silent one."""
    end_reason: str = ""
    """``announced`` (its audio ended), ``source`` (its source was lost: ``detail`` says why) or
    ``silence`` (no end announced, no speech for ``end_s``); empty while on air."""
    detail: str = ""
    product: str = ""
    """The title of the product being presented (empty: none)."""
    counts: Mapping[str, int] = field(default_factory=dict)
    """Violations in the window by severity (dismissed ones left out)."""
    last_hit: Hit | None = None


# -- pure parts -----------------------------------------------------------------------------------


def heard_at(started_at: datetime, last_audio: datetime | None) -> datetime:
    """The last moment the room was known on air: its last speech, or its start."""
    return started_at if last_audio is None else max(started_at, last_audio)


def room_state(
    now: datetime,
    rules: WallRules,
    *,
    started_at: datetime,
    last_audio: datetime | None,
    ended_at: datetime | None = None,
    end_reason: str = "",
) -> tuple[RoomState, datetime | None, str]:
    """The state of a room at ``now``, when it ended and why (``announced``, ``source``,
    ``silence``): ended once announced, else by the silence since its last speech (or its start):
    live below ``stall_s``, stalled from ``stall_s``, ended from ``end_s`` (at last sound + end_s)."""
    if ended_at is not None and ended_at <= now:
        return "ended", ended_at, "source" if end_reason else "announced"
    heard = heard_at(started_at, last_audio)
    silent_s = (now - heard).total_seconds()
    if silent_s >= rules.end_s:
        return "ended", heard + timedelta(seconds=rules.end_s), "silence"
    return ("stalled" if silent_s >= rules.stall_s else "live"), None, ""


def on_wall(now: datetime, rules: WallRules, state: RoomState, ended_at: datetime | None) -> bool:
    """Whether a room is shown: on air, or ended at most ``keep_s`` ago."""
    return state != "ended" or ended_at is None or (now - ended_at).total_seconds() <= rules.keep_s


def risk_key(room: Room) -> tuple[Any, ...]:
    """Riskiest first: rooms on air before ended ones; then more high-severity hits in the window,
    then more medium, more low; then the latest hit first; then by stream id (a stable order)."""
    last = room.last_hit.ts.timestamp() if room.last_hit else float("-inf")
    counts = [-room.counts.get(s, 0) for s in SEVERITIES]
    return (room.state == "ended", *counts, -last, room.stream_id)


def by_risk(rooms: Iterable[Room]) -> list[Room]:
    return sorted(rooms, key=risk_key)


# -- queries ------------------------------------------------------------------------------------

_AUDIO_END = "ts + toUInt32(greatest(end_offset_s - offset_s, 0))"

STREAMS_SQL = (
    "SELECT stream_id, anchor_id, mcn_id, started_at, ended_at, end_reason FROM streams FINAL "
    "WHERE {scope} AND started_at <= %(now)s AND (ifNull(ended_at >= %(kept)s, 0) = 1 "
    "OR (isNull(ended_at) AND (started_at >= %(horizon)s OR stream_id GLOBAL IN "
    "(SELECT stream_id FROM transcripts WHERE {scope} AND ts >= %(horizon)s))))"
)
"""Candidate rooms: ended (announced) within the keep time, or not ended and started or heard
since the horizon (the oldest last sound of a room that may still be shown)."""

AUDIO_SQL = (
    f"SELECT stream_id, max({_AUDIO_END}) AS last_audio FROM transcripts "
    "WHERE {scope} AND ts >= %(horizon)s GROUP BY stream_id"
)

STAGE_SQL = (
    "SELECT stream_id, argMax(event, (ts, event_id)) AS last_event, "
    "argMax(listing_id, (ts, event_id)) AS last_listing, "
    "argMaxIf(title, (ts, event_id), event = 'explain') AS stage_title, "
    "argMaxIf(listing_id, (ts, event_id), event = 'explain') AS stage_listing "
    "FROM listings FINAL WHERE {scope} AND ts >= %(since)s AND event IN ('explain', 'off_shelf') "
    "GROUP BY stream_id"
)
"""Per stream, the product presented last, unless that listing went off the shelf after."""

HITS_SQL = (
    "SELECT stream_id, "
    + ", ".join(f"countIf(severity = '{s}' AND ts >= %(window)s) AS {s}" for s in SEVERITIES)
    + ", max(ts) AS hit_ts, "
    + ", ".join(
        f"argMax({c}, (ts, event_id)) AS hit_{c}"
        for c in ("event_id", "category", "off_card", "severity", "term", "text")
    )
    + " FROM violations FINAL WHERE {scope} AND ts >= %(since)s "
    f"AND event_id GLOBAL NOT IN ({DISMISSED_SQL}) GROUP BY stream_id"
)
"""Per stream, its violations in the window by severity and its latest one (dismissed left out)."""


def _by_stream(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(r["stream_id"]): r for r in rows}


def wall_rooms(store: Store, scope: Scope, rules: WallRules, now: datetime | None = None) -> list[Room]:
    """The rooms the reader may see, riskiest first (at most :data:`MAX_ROOMS`)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    horizon = now - timedelta(seconds=rules.end_s + rules.keep_s)
    kept = now - timedelta(seconds=rules.keep_s)
    streams = scoped_query(store, STREAMS_SQL, scope, {"now": now, "kept": kept, "horizon": horizon})
    if not streams:
        return []
    audio = _by_stream(scoped_query(store, AUDIO_SQL, scope, {"horizon": horizon}))
    since = min(s["started_at"] for s in streams)
    stage = _by_stream(scoped_query(store, STAGE_SQL, scope, {"since": since}))
    window = now - timedelta(seconds=rules.window_s)
    hits = _by_stream(scoped_query(store, HITS_SQL, scope, {"since": since, "window": window}))
    rooms = []
    for s in streams:
        sid = str(s["stream_id"])
        last_audio = audio[sid]["last_audio"] if sid in audio else None
        state, ended_at, why = room_state(
            now, rules, started_at=s["started_at"], last_audio=last_audio,
            ended_at=s["ended_at"], end_reason=str(s["end_reason"]),
        )  # fmt: skip
        if not on_wall(now, rules, state, ended_at):
            continue
        rooms.append(
            Room(
                stream_id=sid, anchor_id=str(s["anchor_id"]), mcn_id=str(s["mcn_id"]),
                started_at=s["started_at"], state=state, last_audio=last_audio, ended_at=ended_at,
                end_reason=why, detail=str(s["end_reason"]), product=_on_stage(stage.get(sid)),
                counts={k: int(hits[sid][k]) for k in SEVERITIES} if sid in hits else {},
                last_hit=_hit(hits.get(sid)),
            )
        )  # fmt: skip
    return by_risk(rooms)[:MAX_ROOMS]


def _on_stage(row: Mapping[str, Any] | None) -> str:
    if not row or not row["stage_listing"]:
        return ""
    if row["last_event"] == "off_shelf" and row["last_listing"] == row["stage_listing"]:
        return ""
    return str(row["stage_title"])


def _hit(row: Mapping[str, Any] | None) -> Hit | None:
    if not row:
        return None
    return Hit(
        event_id=str(row["hit_event_id"]),
        ts=row["hit_ts"],
        category=str(row["hit_category"]),
        off_card=bool(row["hit_off_card"]),
        severity=str(row["hit_severity"]),
        term=str(row["hit_term"]),
        text=str(row["hit_text"]),
    )
