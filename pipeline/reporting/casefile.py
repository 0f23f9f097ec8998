"""What the warehouse knows about violations, read within a reader's MCN scope.

:func:`load_case` gathers one violation with its context: the transcript around it, the listing
card and the ledger row *as they stood at the violation's time*, the stream (and its archived
audio) and the review history. :func:`find_violations` lists violations with their latest review.
The console's pages and the evidence bundles both read through here, so both see the same facts
and both are scoped the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.reporting.scope import Period, Scope, scoped_query
from pipeline.warehouse import Store

VIOLATION_COLUMNS = (
    "event_id, stream_id, anchor_id, mcn_id, kind, category, severity, ts, offset_s, end_offset_s, "
    "source, listing_id, product_id, text, term, rule_id, legal_basis, lexicon_version, rewrite, off_card, "
    "evidence"
)
REVIEWER_SHOWN = "certifier"  # who reviewed, as a reader limited to some MCNs sees it: the role,
# not the user name (an officer has no need of the certifier's login name, and could aim at it)
LATEST_REVIEWS_SQL = (
    "SELECT violation_id, argMax(decision, (reviewed_at, review_id)) AS decision, "
    "argMax(reason, (reviewed_at, review_id)) AS reason, "
    "argMax(reviewer, (reviewed_at, review_id)) AS reviewer, "
    "max(reviewed_at) AS last_reviewed_at FROM reviews FINAL WHERE {scope} AND has(%(ids)s, violation_id) "
    "GROUP BY violation_id"
)


@dataclass(frozen=True, slots=True)
class Case:
    """One violation and the facts around it."""

    violation: dict[str, Any]
    stream: dict[str, Any] | None
    transcript: list[dict[str, Any]]
    listing: dict[str, Any] | None
    ledger: dict[str, Any] | None
    reviews: list[dict[str, Any]] = field(default_factory=list)

    @property
    def event_id(self) -> str:
        return str(self.violation["event_id"])

    @property
    def decision(self) -> str | None:
        """The latest review decision (``confirm``/``dismiss``), None when not reviewed."""
        return str(self.reviews[-1]["decision"]) if self.reviews else None

    @property
    def audio_path(self) -> str:
        return str(self.stream["audio_path"]) if self.stream else ""

    def clip_bounds(self, padding_s: float) -> tuple[float, float]:
        """The clip of the violation: its sentence (for speech) with ``padding_s`` either side."""
        v = self.violation
        return max(0.0, float(v["offset_s"]) - padding_s), float(v["end_offset_s"]) + padding_s


def load_case(store: Store, scope: Scope, event_id: str, *, context_s: float = 30.0) -> Case | None:
    """The violation with this id if the scope allows it, with its context; else None."""
    rows = scoped_query(
        store,
        f"SELECT {VIOLATION_COLUMNS} FROM violations FINAL WHERE event_id = %(id)s AND {{scope}} LIMIT 1",
        scope,
        {"id": event_id},
    )
    if not rows:
        return None
    v = rows[0]
    v["evidence"] = _parse(v["evidence"])
    return Case(
        violation=v,
        stream=_stream(store, scope, v),
        transcript=_transcript(store, scope, v, context_s),
        listing=_listing(store, scope, v),
        ledger=_ledger(store, scope, v),
        reviews=_reviews(store, scope, event_id),
    )


def _stream(store: Store, scope: Scope, v: dict[str, Any]) -> dict[str, Any] | None:
    rows = scoped_query(
        store,
        "SELECT stream_id, anchor_id, mcn_id, started_at, ended_at, source, audio_path FROM streams FINAL "
        "WHERE stream_id = %(s)s AND {scope}",
        scope,
        {"s": v["stream_id"]},
    )
    return rows[0] if rows else None


def _transcript(store: Store, scope: Scope, v: dict[str, Any], context_s: float) -> list[dict[str, Any]]:
    return scoped_query(
        store,
        "SELECT segment_id, offset_s, end_offset_s, ts, text, low_confidence FROM transcripts FINAL "
        "WHERE stream_id = %(s)s AND end_offset_s >= %(a)s AND offset_s <= %(b)s AND {scope} "
        "ORDER BY offset_s",
        scope,
        {
            "s": v["stream_id"],
            "a": float(v["offset_s"]) - context_s,
            "b": float(v["end_offset_s"]) + context_s,
        },
    )


def _listing(store: Store, scope: Scope, v: dict[str, Any]) -> dict[str, Any] | None:
    """The listing card's latest event at or before the violation (the card as the viewer saw it)."""
    if not v.get("listing_id"):
        return None
    rows = scoped_query(
        store,
        "SELECT event_id, ts, event, listing_id, raw FROM listings FINAL WHERE stream_id = %(s)s "
        "AND listing_id = %(l)s AND ts <= %(t)s AND {scope} ORDER BY ts DESC, event_id DESC LIMIT 1",
        scope,
        {"s": v["stream_id"], "l": v["listing_id"], "t": v["ts"]},
    )
    return _with_raw(rows[0]) if rows else None


def _ledger(store: Store, scope: Scope, v: dict[str, Any]) -> dict[str, Any] | None:
    """The ledger row of the product as it stood at the violation's time (latest import before it)."""
    if not v.get("product_id"):
        return None
    rows = scoped_query(
        store,
        "SELECT mcn_id, product_id, imported_at, import_id, status, raw, row_hash FROM ledger FINAL "
        "WHERE mcn_id = %(m)s AND product_id = %(p)s AND imported_at <= %(t)s AND {scope} "
        "ORDER BY imported_at DESC LIMIT 1",
        scope,
        {"m": v["mcn_id"], "p": v["product_id"], "t": v["ts"]},
    )
    return _with_raw(rows[0]) if rows else None


def _reviews(store: Store, scope: Scope, event_id: str) -> list[dict[str, Any]]:
    rows = scoped_query(
        store,
        "SELECT review_id, reviewer, decision, reason, reviewed_at FROM reviews FINAL "
        "WHERE violation_id = %(id)s AND {scope} ORDER BY reviewed_at, review_id",
        scope,
        {"id": event_id},
    )
    return rows if scope.mcn_ids is None else [{**r, "reviewer": REVIEWER_SHOWN} for r in rows]


def _with_raw(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "raw": _parse(row["raw"])}


def _parse(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {"unparsed": text}


def find_violations(
    store: Store,
    scope: Scope,
    *,
    period: Period | None = None,
    anchor_id: str | None = None,
    stream_id: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Violations in scope, newest first, each with its latest review (``decision`` etc.)."""
    where: list[str] = ["{scope}"]
    params: dict[str, Any] = {"limit": int(limit)}
    for column, value in (("anchor_id", anchor_id), ("stream_id", stream_id)):
        if value is not None:
            where.append(f"{column} = %({column})s")
            params[column] = value
    if period is not None:
        where.append("ts >= %(start)s AND ts < %(end)s")
        params.update(period.params())
    if since is not None:
        where.append("inserted_at > %(since)s")
        params["since"] = since
    rows = scoped_query(
        store,
        f"SELECT {VIOLATION_COLUMNS}, inserted_at FROM violations FINAL WHERE {' AND '.join(where)} "
        "ORDER BY ts DESC, event_id LIMIT %(limit)s",
        scope,
        params,
    )
    return _with_reviews(store, scope, rows)


def _with_reviews(store: Store, scope: Scope, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not rows:
        return rows
    latest = {
        r["violation_id"]: r
        for r in scoped_query(store, LATEST_REVIEWS_SQL, scope, {"ids": [r["event_id"] for r in rows]})
    }
    for row in rows:
        review = latest.get(row["event_id"], {})
        row["decision"] = review.get("decision")
        row["review_reason"] = review.get("reason", "")
    return rows
