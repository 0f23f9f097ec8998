"""The review queue against a store: one keyset page, every page in turn (the CSV export), and
assignments (who is working a violation).

The SQL is :mod:`pipeline.reporting.queue`'s; every read runs through :func:`scoped_query`, so an
officer's queue holds their own MCN's violations only.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.reporting.casefile import LATEST_REVIEWS_SQL, REVIEWER_SHOWN
from pipeline.reporting.queue import (
    BOUNDS_SQL,
    FIRST_WINDOW,
    LATEST_ASSIGNMENTS_SQL,
    PAGE_SIZE,
    Cursor,
    QueueFilter,
    Window,
    cursor_after,
    page_sql,
    page_windows,
    rows_sql,
    severity_ranks,
)
from pipeline.reporting.scope import Scope, scoped_query
from pipeline.warehouse import Store


@dataclass(frozen=True, slots=True)
class QueuePage:
    """One page of the queue, in the filter's order, and where the next one starts (None: last)."""

    rows: list[dict[str, Any]]
    next_cursor: Cursor | None


def queue_page(
    store: Store,
    scope: Scope,
    f: QueueFilter,
    timezone: str,
    *,
    user: str = "",
    limit: int = PAGE_SIZE,
    first_window: timedelta = FIRST_WINDOW,
) -> QueuePage:
    """The page ``f.cursor`` points at (the first when None), each row with its latest review
    (``decision``, ``review_reason``, ``reviewer``) and assignee (``assignee``)."""
    keys = page_keys(store, scope, f, timezone, user=user, limit=limit, first_window=first_window)
    more = len(keys) > limit
    keys = keys[:limit]
    if not keys:
        return QueuePage([], None)
    sql, params = rows_sql(keys)
    found: dict[str, dict[str, Any]] = {}
    for row in scoped_query(store, sql, scope, params):
        found.setdefault(str(row["event_id"]), row)
    rows = [found[str(k["event_id"])] for k in keys if str(k["event_id"]) in found]
    annotate(store, scope, rows)
    return QueuePage(rows, cursor_after(keys[-1], f.sort) if more else None)


def page_keys(
    store: Store,
    scope: Scope,
    f: QueueFilter,
    timezone: str,
    *,
    user: str = "",
    limit: int = PAGE_SIZE,
    first_window: timedelta = FIRST_WINDOW,
) -> list[dict[str, Any]]:
    """The sort keys of the page's rows and one more (when there is one), window by window."""
    bounds = scoped_query(store, BOUNDS_SQL, scope, {})
    if not bounds or not bounds[0]["n"]:
        return []
    oldest, newest = bounds[0]["oldest"], bounds[0]["newest"]
    if f.sort != "severity":
        spans = page_windows(f, timezone, oldest, newest, first_window)
        return _walk(store, scope, f, timezone, user=user, wanted=limit + 1, spans=spans)
    keys: list[dict[str, Any]] = []
    for rank in severity_ranks(f):
        at = f.cursor if f.cursor is not None and f.cursor.rank == rank else None
        part = replace(f, sort="newest", cursor=Cursor("newest", at.ts, at.event_id) if at else None)
        spans = page_windows(part, timezone, oldest, newest, first_window)
        keys += _walk(
            store, scope, part, timezone, user=user, wanted=limit + 1 - len(keys), spans=spans, rank=rank
        )
        if len(keys) > limit:
            break
    return keys


def _walk(
    store: Store,
    scope: Scope,
    f: QueueFilter,
    timezone: str,
    *,
    user: str,
    wanted: int,
    spans: Iterator[Window],
    rank: int | None = None,
) -> list[dict[str, Any]]:
    """Up to ``wanted`` keys in the filter's order, read a window at a time (the windows follow
    each other in that order, so each one's rows come after the one's before)."""
    keys: list[dict[str, Any]] = []
    for span in spans:
        sql, params = page_sql(f, timezone, user=user, limit=wanted - len(keys) - 1, window=span, rank=rank)
        keys += scoped_query(store, sql, scope, params)
        if len(keys) >= wanted:
            break
    return keys


def every_row(
    store: Store, scope: Scope, f: QueueFilter, timezone: str, *, user: str = "", batch: int = 1000
) -> Iterator[dict[str, Any]]:
    """Every row the filter matches, page after page (a keyset walk: no page is read twice)."""
    current = f.first_page()
    while True:
        page = queue_page(store, scope, current, timezone, user=user, limit=batch)
        yield from page.rows
        if page.next_cursor is None:
            return
        current = replace(current, cursor=page.next_cursor)


def annotate(store: Store, scope: Scope, rows: list[dict[str, Any]]) -> None:
    """Each row's latest review and assignee, in two queries."""
    ids = [str(r["event_id"]) for r in rows]
    reviews = {r["violation_id"]: r for r in scoped_query(store, LATEST_REVIEWS_SQL, scope, {"ids": ids})}
    assigned = {
        r["violation_id"]: r for r in scoped_query(store, LATEST_ASSIGNMENTS_SQL, scope, {"ids": ids})
    }
    for row in rows:
        review = reviews.get(row["event_id"], {})
        row["decision"] = review.get("decision")
        row["review_reason"] = review.get("reason", "")
        reviewer = review.get("reviewer", "")
        row["reviewer"] = reviewer if scope.mcn_ids is None or not reviewer else REVIEWER_SHOWN
        row["assignee"] = assigned.get(row["event_id"], {}).get("assignee", "")


def assign(store: Store, violations: Sequence[tuple[str, str]], assignee: str, assigned_by: str) -> list[str]:
    """Assign violations (``(event_id, mcn_id)`` pairs) to ``assignee`` ('' releases them), in one
    insert; returns the assignment ids."""
    now = datetime.now(UTC)
    rows = [
        {
            "assignment_id": f"{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}",
            "violation_id": event_id,
            "mcn_id": mcn_id,
            "assignee": assignee,
            "assigned_by": assigned_by,
            "assigned_at": now,
        }
        for event_id, mcn_id in violations
    ]
    store.insert("assignments", rows)
    return [str(r["assignment_id"]) for r in rows]


def violations_in_scope(store: Store, scope: Scope, ids: Sequence[str]) -> dict[str, str]:
    """Of these ids, those the scope allows: event id → its MCN."""
    rows = scoped_query(
        store,
        "SELECT DISTINCT event_id, mcn_id FROM violations WHERE {scope} AND has(%(ids)s, event_id)",
        scope,
        {"ids": list(ids)},
    )
    return {str(r["event_id"]): str(r["mcn_id"]) for r in rows}
