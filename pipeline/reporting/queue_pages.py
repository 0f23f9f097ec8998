"""The review queue against a store: one keyset page, every page in turn (the CSV export), and
assignments (who is working a violation).

The SQL is :mod:`pipeline.reporting.queue`'s; every read runs through :func:`scoped_query`, so an
officer's queue holds their own MCN's violations only.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pipeline.reporting.casefile import LATEST_REVIEWS_SQL, REVIEWER_SHOWN
from pipeline.reporting.queue import (
    LATEST_ASSIGNMENTS_SQL,
    PAGE_SIZE,
    Cursor,
    QueueFilter,
    cursor_after,
    page_sql,
    rows_sql,
)
from pipeline.reporting.scope import Scope, scoped_query
from pipeline.warehouse import Store


@dataclass(frozen=True, slots=True)
class QueuePage:
    """One page of the queue, in the filter's order, and where the next one starts (None: last)."""

    rows: list[dict[str, Any]]
    next_cursor: Cursor | None


def queue_page(
    store: Store, scope: Scope, f: QueueFilter, timezone: str, *, user: str = "", limit: int = PAGE_SIZE
) -> QueuePage:
    """The page ``f.cursor`` points at (the first when None), each row with its latest review
    (``decision``, ``review_reason``, ``reviewer``) and assignee (``assignee``)."""
    sql, params = page_sql(f, timezone, user=user, limit=limit)
    keys = scoped_query(store, sql, scope, params)
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
