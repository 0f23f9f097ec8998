"""The review queue's query: filters, sort orders and keyset pages over the violations.

Pure query building (no I/O): :func:`parse_filters` turns a request's parameters into a
:class:`QueueFilter` (a :class:`QueueError` says what is wrong with them), :func:`page_sql` writes
the SQL of one page, :func:`encode_cursor` / :func:`decode_cursor` the opaque position a page
ends at. Every statement carries the ``{scope}`` token (``scoped_query``), and runs on
clickhouse-server 18.16, chdb and a cluster: no tuple comparison, no ``IN [array]``, and the small
replicated tables (reviews, assignments, ledger) read with ``GLOBAL IN``.

Pages are keyset pages, never ``OFFSET``: a page asks for the rows after the last one shown,
in the sort's own order (its key ends with the unique ``event_id``), so the thousandth page costs
what the first does and rows written meanwhile neither repeat nor skip a row.

The page query reads only the sort key's columns (``ts``, ``severity``, ``event_id``) of the
matching rows; the page's rows themselves are read afterwards by id (:func:`rows_sql`), so a
million matching rows are never read with their text.

A page reads a :class:`Window` of time at a time (:func:`windows`): a day next to where the page
starts, then eight times wider, until it has its rows or reached the end of the data. ``FINAL``
(which keeps the newest copy of a row written twice) is single-threaded on 18.16 and costs the
whole table's time when a query can skip no part of it: 260 ms at a million rows, against 6 ms
for a week's window (``python -m bench.review_queue --store server``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pipeline.reporting.scope import YEARS, Period, ScopeError

STATUSES: tuple[str, ...] = ("pending", "confirm", "dismiss")
"""The review statuses the queue filters by: ``pending`` (no review yet), else the latest review's
decision. The review lifecycle adds its decisions here."""
SEVERITIES: tuple[str, ...] = ("high", "medium", "low")
KINDS: tuple[str, ...] = ("claim", "qualification", "ledger")
SORTS: tuple[str, ...] = ("newest", "oldest", "severity")
ASSIGNED: tuple[str, ...] = ("me", "nobody")
PAGE_SIZE = 50
FIRST_WINDOW = timedelta(days=1)
"""How much time a page's first query reads (then :data:`WIDEN` times more each time)."""
WIDEN = 8
MAX_SEARCH = 100
MAX_ID = 200
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Sort = Literal["newest", "oldest", "severity"]

SEVERITY_RANK = "multiIf(severity = 'high', 3, severity = 'medium', 2, severity = 'low', 1, 0)"
"""The severity as a number to sort by (high first); an unknown severity sorts last."""

LATEST_DECISIONS = (
    "SELECT violation_id FROM reviews FINAL WHERE {scope} GROUP BY violation_id "
    "HAVING argMax(decision, (reviewed_at, review_id)) = %(status)s"
)
REVIEWED = "SELECT DISTINCT violation_id FROM reviews FINAL WHERE {scope}"
ASSIGNED_TO = (
    "SELECT violation_id FROM assignments FINAL WHERE {scope} GROUP BY violation_id "
    "HAVING argMax(assignee, (assigned_at, assignment_id)) = %(assignee)s"
)
ASSIGNED_ANYONE = (
    "SELECT violation_id FROM assignments FINAL WHERE {scope} GROUP BY violation_id "
    "HAVING argMax(assignee, (assigned_at, assignment_id)) != ''"
)
PRODUCTS_NAMED = (
    "SELECT DISTINCT product_id FROM ledger WHERE {scope} "
    "AND positionCaseInsensitiveUTF8(product_name, %(q)s) > 0"
)
ROW_COLUMNS = (
    "event_id, stream_id, anchor_id, mcn_id, kind, category, severity, ts, offset_s, end_offset_s, "
    "listing_id, product_id, text, term, rule_id, off_card"
)
LATEST_ASSIGNMENTS_SQL = (
    "SELECT violation_id, argMax(assignee, (assigned_at, assignment_id)) AS assignee, "
    "max(assigned_at) AS last_assigned_at FROM assignments FINAL "
    "WHERE {scope} AND has(%(ids)s, violation_id) GROUP BY violation_id"
)


class QueueError(ScopeError):
    """The queue's parameters are malformed (answered as a 400 with this message)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ends: the last row's sort key."""

    sort: Sort
    ts: datetime
    event_id: str
    rank: int = 0


@dataclass(frozen=True, slots=True)
class Window:
    """The slice of time one page query reads: ``since <= ts < until`` (None: unbounded)."""

    since: datetime | None = None
    until: datetime | None = None


def windows(
    start: datetime, end: datetime, sort: Sort, first: timedelta = FIRST_WINDOW, widen: int = WIDEN
) -> Iterator[Window]:
    """The windows a page walks, from ``start`` (its first row's time at the most: newest sorts;
    at the least: oldest) towards ``end`` (the data's oldest row, or its newest), each ``widen``
    times wider than the one before; they tile the time from ``start`` on, and the last is open
    (so no row is missed whatever ``end`` says)."""
    width, edge = first, None
    while True:
        if sort == "oldest":
            bound = start + width if end - start >= width else None
            yield Window(edge, bound)
        else:
            bound = start - width if start - end >= width else None
            yield Window(bound, edge)
        if bound is None:
            return
        edge, width = bound, width * widen


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What the queue lists: every field empty lists everything in scope, newest first."""

    category: str = ""
    severity: str = ""
    status: str = ""
    anchor: str = ""
    stream: str = ""
    kind: str = ""
    q: str = ""
    assigned: str = ""
    date_from: date | None = None
    date_to: date | None = None
    sort: Sort = "newest"
    cursor: Cursor | None = None

    def query_string_items(self) -> list[tuple[str, str]]:
        """The filter as request parameters (without the cursor), for links and forms."""
        items = [
            ("category", self.category),
            ("severity", self.severity),
            ("status", self.status),
            ("anchor", self.anchor),
            ("stream", self.stream),
            ("kind", self.kind),
            ("q", self.q),
            ("assigned", self.assigned),
            ("from", self.date_from.isoformat() if self.date_from else ""),
            ("to", self.date_to.isoformat() if self.date_to else ""),
            ("sort", self.sort if self.sort != "newest" else ""),
        ]
        return [(k, v) for k, v in items if v]

    def first_page(self) -> QueueFilter:
        return replace(self, cursor=None)

    def describe(self) -> str:
        """The filter in one line, for the audit log ("" when it is everything)."""
        return " ".join(f"{k}={v}" for k, v in self.query_string_items())


def parse_filters(params: Mapping[str, str], timezone: str) -> QueueFilter:
    """The queue's filter from request parameters; a :class:`QueueError` for a malformed one.

    ``period=YYYY-MM`` (the old page's links) is a month's dates; ``from``/``to`` win over it."""
    for key in ("category", "severity", "status", "kind", "sort", "assigned"):
        value = params.get(key, "")
        if value and not _CODE.match(value):
            raise QueueError(f"{key} {value[:40]!r} is not a code")
    category = params.get("category", "")
    severity = _one_of("severity", params.get("severity", ""), SEVERITIES)
    status = _one_of("status", params.get("status", ""), STATUSES)
    kind = _one_of("kind", params.get("kind", ""), KINDS)
    sort = _one_of("sort", params.get("sort", ""), SORTS) or "newest"
    assigned = _one_of("assigned", params.get("assigned", ""), ASSIGNED)
    anchor, stream = _id("anchor", params.get("anchor", "")), _id("stream", params.get("stream", ""))
    q = params.get("q", "").strip()
    if len(q) > MAX_SEARCH:
        raise QueueError(f"the search text is longer than {MAX_SEARCH} characters")
    date_from, date_to = _day("from", params.get("from", "")), _day("to", params.get("to", ""))
    if params.get("period") and date_from is None and date_to is None:
        month = Period.parse(params["period"], timezone)
        date_from, date_to = month.start.astimezone(ZoneInfo(timezone)).date(), month.last_day
    if date_from and date_to and date_from > date_to:
        raise QueueError("the date 'from' is after the date 'to'")
    cursor = decode_cursor(params["after"]) if params.get("after") else None
    if cursor is not None and cursor.sort != sort:
        raise QueueError("the page position belongs to another sort order")
    return QueueFilter(
        category=category,
        severity=severity,
        status=status,
        anchor=anchor,
        stream=stream,
        kind=kind,
        q=q,
        assigned=assigned,
        date_from=date_from,
        date_to=date_to,
        sort=sort,  # type: ignore[arg-type]
        cursor=cursor,
    )


def _one_of(key: str, value: str, allowed: tuple[str, ...]) -> str:
    if value and value not in allowed:
        raise QueueError(f"{key} must be one of {', '.join(allowed)}")
    return value


def _id(key: str, value: str) -> str:
    value = value.strip()
    if len(value) > MAX_ID:
        raise QueueError(f"the {key} id is longer than {MAX_ID} characters")
    return value


def _day(key: str, text: str) -> date | None:
    if not text:
        return None
    try:
        if not _DAY.match(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise QueueError(f"the date '{key}' {text[:40]!r} is not a date written YYYY-MM-DD") from None
    if not YEARS[0] <= day.year < YEARS[1]:
        raise QueueError(f"the date '{key}' is outside the years {YEARS[0]}-{YEARS[1] - 1}")
    return day


def encode_cursor(cursor: Cursor) -> str:
    """The page position as a short opaque URL-safe token."""
    data = [cursor.sort, int(cursor.ts.timestamp()), cursor.event_id, cursor.rank]
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    """A token of :func:`encode_cursor`; a :class:`QueueError` for anything else."""
    if len(token) > 4 * MAX_ID:
        raise QueueError("the page position is malformed")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        sort, seconds, event_id, rank = json.loads(raw.decode())
        if sort not in SORTS or not isinstance(event_id, str) or len(event_id) > MAX_ID:
            raise ValueError
        if not isinstance(seconds, int) or not isinstance(rank, int) or not 0 <= rank <= 3:
            raise ValueError
        moment = datetime.fromtimestamp(seconds, UTC)
        if not YEARS[0] <= moment.year < YEARS[1]:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, OverflowError, OSError, UnicodeDecodeError):
        raise QueueError("the page position is malformed") from None
    return Cursor(sort, moment, event_id, rank)


def cursor_after(row: Mapping[str, Any], sort: Sort) -> Cursor:
    """The position just past ``row`` (a row of :func:`page_sql`)."""
    return Cursor(sort, row["ts"], str(row["event_id"]), int(row.get("rank") or 0))


def where_sql(f: QueueFilter, timezone: str, user: str = "") -> tuple[str, dict[str, Any]]:
    """The filter's conditions (with ``{scope}``) and their parameters, cursor excluded.
    ``user``: whose assignments ``assigned=me`` means."""
    where = ["{scope}"]
    params: dict[str, Any] = {}
    for column, value in (
        ("category", f.category),
        ("severity", f.severity),
        ("anchor_id", f.anchor),
        ("stream_id", f.stream),
        ("kind", f.kind),
    ):
        if value:
            where.append(f"{column} = %({column})s")
            params[column] = value
    ts_from, ts_to = day_bounds(f, timezone)
    if ts_from is not None:
        where.append("ts >= %(ts_from)s")
        params["ts_from"] = ts_from
    if ts_to is not None:
        where.append("ts < %(ts_to)s")
        params["ts_to"] = ts_to
    if f.q:
        where.append(
            "(positionCaseInsensitiveUTF8(term, %(q)s) > 0 OR positionCaseInsensitiveUTF8(text, %(q)s) > 0 "
            "OR positionCaseInsensitiveUTF8(ifNull(product_id, ''), %(q)s) > 0 "
            f"OR ifNull(product_id, '') GLOBAL IN ({PRODUCTS_NAMED}))"
        )
        params["q"] = f.q
    if f.status == "pending":
        where.append(f"event_id GLOBAL NOT IN ({REVIEWED})")
    elif f.status:
        where.append(f"event_id GLOBAL IN ({LATEST_DECISIONS})")
        params["status"] = f.status
    if f.assigned == "me":
        where.append(f"event_id GLOBAL IN ({ASSIGNED_TO})")
        params["assignee"] = user
    elif f.assigned == "nobody":
        where.append(f"event_id GLOBAL NOT IN ({ASSIGNED_ANYONE})")
    return " AND ".join(where), params


def day_bounds(f: QueueFilter, timezone: str) -> tuple[datetime | None, datetime | None]:
    """The filter's dates as UTC moments: the first day's start, the day after the last's."""
    zone = ZoneInfo(timezone)
    since = datetime.combine(f.date_from, time(), zone).astimezone(UTC) if f.date_from else None
    until = (
        datetime.combine(f.date_to + timedelta(days=1), time(), zone).astimezone(UTC) if f.date_to else None
    )
    return since, until


def _after_sql(cursor: Cursor) -> tuple[str, dict[str, Any]]:
    """Rows strictly past the cursor in its sort's order (no tuple comparison: 18.16)."""
    params = {"c_ts": cursor.ts, "c_id": cursor.event_id, "c_rank": cursor.rank}
    if cursor.sort == "oldest":
        return "(ts > %(c_ts)s OR (ts = %(c_ts)s AND event_id > %(c_id)s))", params
    newer = "(ts < %(c_ts)s OR (ts = %(c_ts)s AND event_id < %(c_id)s))"
    if cursor.sort == "newest":
        return newer, params
    return f"({SEVERITY_RANK} < %(c_rank)s OR ({SEVERITY_RANK} = %(c_rank)s AND {newer}))", params


ORDER_BY: Mapping[str, str] = {
    "newest": "ts DESC, event_id DESC",
    "oldest": "ts ASC, event_id ASC",
    "severity": "rank DESC, ts DESC, event_id DESC",
}


def page_sql(
    f: QueueFilter,
    timezone: str,
    *,
    user: str = "",
    limit: int = PAGE_SIZE,
    window: Window = Window(),
    rank: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """The keys of one page (``limit`` + 1 rows: one more tells whether a next page exists),
    read from ``window`` only; ``rank``: of that severity rank only (the severity sort reads
    each rank in turn, in the newest-first order)."""
    where, params = where_sql(f, timezone, user)
    if f.cursor is not None:
        after, more = _after_sql(f.cursor)
        where += " AND " + after
        params.update(more)
    if window.since is not None:
        where += " AND ts >= %(w_since)s"
        params["w_since"] = window.since
    if window.until is not None:
        where += " AND ts < %(w_until)s"
        params["w_until"] = window.until
    if rank is not None:
        where += f" AND {SEVERITY_RANK} = %(rank)s"
        params["rank"] = rank
    params["limit"] = int(limit) + 1
    sql = (
        f"SELECT event_id, ts, {SEVERITY_RANK} AS rank FROM violations FINAL WHERE {where} "
        f"ORDER BY {ORDER_BY[f.sort]} LIMIT %(limit)s"
    )
    return sql, params


def page_windows(
    f: QueueFilter, timezone: str, oldest: datetime, newest: datetime, first: timedelta = FIRST_WINDOW
) -> Iterator[Window]:
    """The windows of :func:`windows` for this filter's page, given the time the data spans
    (:data:`BOUNDS_SQL`): they start at the cursor, else at the data's (or the dates') edge."""
    since, until = day_bounds(f, timezone)
    lo = max(oldest, since) if since is not None else oldest
    hi = min(newest, until - timedelta(seconds=1)) if until is not None else newest
    if f.sort == "oldest":
        return windows(f.cursor.ts if f.cursor is not None else lo, hi, "oldest", first)
    return windows(f.cursor.ts if f.cursor is not None else hi, lo, "newest", first)


def severity_ranks(f: QueueFilter) -> list[int]:
    """The severity ranks the severity sort reads, in turn (from the cursor's on)."""
    ranks = [3, 2, 1, 0]
    if f.severity:
        ranks = [3 - SEVERITIES.index(f.severity)]
    if f.cursor is not None:
        ranks = [r for r in ranks if r <= f.cursor.rank]
    return ranks


BOUNDS_SQL = "SELECT min(ts) AS oldest, max(ts) AS newest, count() AS n FROM violations WHERE {scope}"
"""The time the scope's violations span (no ``FINAL``: a copy has its row's time)."""


def offset_sql(
    f: QueueFilter, timezone: str, offset: int, limit: int = PAGE_SIZE
) -> tuple[str, dict[str, Any]]:
    """The same page by ``OFFSET`` (for the benchmark's baseline only: cost grows with the offset)."""
    where, params = where_sql(f, timezone)
    params.update({"limit": int(limit) + 1, "offset": int(offset)})
    sql = (
        f"SELECT event_id, ts, {SEVERITY_RANK} AS rank FROM violations FINAL WHERE {where} "
        f"ORDER BY {ORDER_BY[f.sort]} LIMIT %(limit)s OFFSET %(offset)s"
    )
    return sql, params


def rows_sql(keys: Sequence[Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The page's rows by id, limited to the page's time span (so whole months are skipped)."""
    times = [k["ts"] for k in keys]
    sql = (
        f"SELECT {ROW_COLUMNS} FROM violations FINAL WHERE {{scope}} AND ts >= %(lo)s AND ts <= %(hi)s "
        "AND has(%(ids)s, event_id)"
    )
    return sql, {"lo": min(times), "hi": max(times), "ids": [str(k["event_id"]) for k in keys]}
