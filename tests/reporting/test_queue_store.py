"""The review queue against real stores (chdb and clickhouse-server 18.16): each filter, the search,
both sort orders, keyset pages that together list every row exactly once, and the MCN scope.

The expected rows are worked out here in Python from the rows the test itself wrote."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from pipeline.records import LedgerEntry, Review
from pipeline.reporting.queue import FIRST_WINDOW, SEVERITIES, QueueFilter, parse_filters
from pipeline.reporting.queue_pages import assign, every_row, queue_page, violations_in_scope
from pipeline.reporting.scope import Scope
from pipeline.warehouse import Store
from pipeline.warehouse.rows import ledger_row, review_row, violation_row
from tests import scenario

pytestmark = pytest.mark.integration
TZ = "Asia/Shanghai"
CATEGORIES = ("price", "absolute", "medical", "off_ledger")
N = 130
START = datetime(2026, 10, 30, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai: dates differ from UTC's


def seeded(store: Store) -> list[dict[str, Any]]:
    """N violations over two MCNs, three anchors, ties in time; some reviewed, some assigned."""
    template = scenario.starlight_violations()[0]
    rows = []
    for i in range(N):
        mcn = "mcn-a" if i % 3 else "mcn-b"
        category = CATEGORIES[i % 4]
        v = replace(
            template,
            event_id=f"q-{i:04d}",
            stream_id=f"s-{i % 5}",
            anchor_id=f"anchor-{i % 3}-{mcn}",
            mcn_id=mcn,
            kind="ledger" if category == "off_ledger" else "claim",
            category=category,
            severity=SEVERITIES[i % 3],  # type: ignore[arg-type]
            ts=START + timedelta(hours=(i // 2) * 3),  # two rows per second: the id breaks the tie
            term=f"词{i % 7}",
            text=f"第{i}句 {'全网最低价' if i % 10 == 0 else '普通'}",
            product_id=f"P-{i % 6}",
        )
        rows.append(violation_row(v))
    store.insert("violations", rows)
    reviews = []
    for i in range(0, N, 4):  # every fourth reviewed: confirm, later dismiss for every eighth
        reviews.append(_review(f"q-{i:04d}", "confirm", rows[i]["mcn_id"], 0))
        if i % 8 == 0:
            reviews.append(_review(f"q-{i:04d}", "dismiss", rows[i]["mcn_id"], 1))
    store.insert("reviews", reviews)
    assign(store, [(r["event_id"], r["mcn_id"]) for r in rows[:20]], "li", "cert")
    assign(store, [(r["event_id"], r["mcn_id"]) for r in rows[:5]], "", "cert")  # released again
    entry = LedgerEntry("P-5", "mcn-a", "玻尿酸精华", "b", "c", "approved")
    store.insert("ledger", [ledger_row(entry, imported_at=START, import_id="i1")])
    return rows


def _review(violation_id: str, decision: str, mcn_id: str, second: int) -> dict[str, Any]:
    at = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(seconds=second)
    review = Review(f"r-{violation_id}-{second}", violation_id, "cert", decision, at, "why")  # type: ignore[arg-type]
    return review_row(review, mcn_id=mcn_id)


def status_of(i: int) -> str:
    return "pending" if i % 4 else ("dismiss" if i % 8 == 0 else "confirm")


def walk(
    store: Store,
    scope: Scope,
    f: QueueFilter,
    *,
    limit: int = 7,
    user: str = "",
    window: timedelta = FIRST_WINDOW,
) -> list[str]:
    """Every page in turn; each row's id."""
    ids: list[str] = []
    current = f
    for _ in range(N):
        page = queue_page(store, scope, current, TZ, user=user, limit=limit, first_window=window)
        assert len(page.rows) <= limit
        ids += [r["event_id"] for r in page.rows]
        if page.next_cursor is None:
            return ids
        current = replace(current, cursor=page.next_cursor)
    raise AssertionError("pages never ended")


def expected(rows: list[dict[str, Any]], keep: Any, order: str = "newest") -> list[str]:
    picked = [(i, r) for i, r in enumerate(rows) if keep(i, r)]
    rank = {"high": 3, "medium": 2, "low": 1}
    if order == "oldest":
        picked.sort(key=lambda p: (p[1]["ts"], p[1]["event_id"]))
    elif order == "newest":
        picked.sort(key=lambda p: (p[1]["ts"], p[1]["event_id"]), reverse=True)
    else:
        picked.sort(key=lambda p: (rank[p[1]["severity"]], p[1]["ts"], p[1]["event_id"]), reverse=True)
    return [r["event_id"] for _, r in picked]


def test_pages_list_every_row_once_in_each_order(store: Store) -> None:
    rows = seeded(store)
    for order in ("newest", "oldest", "severity"):
        for window in (FIRST_WINDOW, timedelta(minutes=90), timedelta(days=400)):
            # a page's windows: rows 3 h apart, so some windows hold none and a page spans many
            listed = walk(store, Scope.everything(), QueueFilter(sort=order), window=window)  # type: ignore[arg-type]
            assert listed == expected(rows, lambda i, r: True, order), (order, window)
            assert len(set(listed)) == N
    sparse = walk(
        store,
        Scope.everything(),
        QueueFilter(category="price", severity="high", sort="severity"),
        window=timedelta(minutes=30),
    )
    assert sparse == expected(
        rows, lambda i, r: r["category"] == "price" and r["severity"] == "high", "severity"
    )
    dated = parse_filters({"from": "2026-11-02", "to": "2026-11-03", "sort": "oldest"}, TZ)
    assert walk(store, Scope.everything(), dated, window=timedelta(hours=2)) == walk(
        store, Scope.everything(), dated, window=timedelta(days=90)
    )


def test_filters_and_search(store: Store) -> None:
    rows = seeded(store)
    everything = Scope.everything()
    cases: list[tuple[dict[str, str], Any]] = [
        ({"category": "price"}, lambda i, r: r["category"] == "price"),
        ({"severity": "high"}, lambda i, r: r["severity"] == "high"),
        ({"kind": "ledger"}, lambda i, r: r["kind"] == "ledger"),
        ({"anchor": "anchor-1-mcn-a"}, lambda i, r: r["anchor_id"] == "anchor-1-mcn-a"),
        ({"stream": "s-2"}, lambda i, r: r["stream_id"] == "s-2"),
        ({"status": "pending"}, lambda i, r: status_of(i) == "pending"),
        ({"status": "confirm"}, lambda i, r: status_of(i) == "confirm"),
        ({"status": "dismiss"}, lambda i, r: status_of(i) == "dismiss"),
        ({"q": "全网最低价"}, lambda i, r: "全网最低价" in r["text"]),  # the sentence
        ({"q": "词3"}, lambda i, r: r["term"] == "词3"),  # the term
        ({"q": "p-4"}, lambda i, r: r["product_id"] == "P-4"),  # the product id, any case
        ({"q": "玻尿酸"}, lambda i, r: r["product_id"] == "P-5"),  # the product's name in the ledger
        ({"assigned": "me"}, lambda i, r: 5 <= i < 20),
        ({"assigned": "nobody"}, lambda i, r: not 5 <= i < 20),
        (
            {"category": "absolute", "severity": "medium", "status": "pending"},
            lambda i, r: (
                r["category"] == "absolute" and r["severity"] == "medium" and status_of(i) == "pending"
            ),
        ),
    ]
    for params, keep in cases:
        f = parse_filters(params, TZ)
        want = expected(rows, keep)
        assert want, params  # each case selects something, and not everything
        assert len(want) < N, params
        assert walk(store, everything, f, user="li") == want, params


def test_dates_are_the_consoles_days(store: Store) -> None:
    rows = seeded(store)
    f = parse_filters({"from": "2026-11-01", "to": "2026-11-03"}, TZ)
    lo, hi = datetime(2026, 10, 31, 16, tzinfo=UTC), datetime(2026, 11, 3, 16, tzinfo=UTC)
    want = expected(rows, lambda i, r: lo <= r["ts"] < hi)
    assert want
    assert walk(store, Scope.everything(), f) == want
    month = parse_filters({"period": "2026-11"}, TZ)
    assert (month.date_from, month.date_to) == (date(2026, 11, 1), date(2026, 11, 30))


def test_an_officer_sees_their_own_mcn_only(store: Store) -> None:
    rows = seeded(store)
    mine = Scope.only("mcn-b")
    listed = walk(store, mine, QueueFilter())
    assert listed == expected(rows, lambda i, r: r["mcn_id"] == "mcn-b")
    assert walk(store, mine, parse_filters({"anchor": "anchor-1-mcn-a"}, TZ)) == []
    other = [r["event_id"] for r in rows if r["mcn_id"] == "mcn-a"][:3]
    assert violations_in_scope(store, mine, [*other, listed[0]]) == {listed[0]: "mcn-b"}


def test_rows_carry_their_latest_review_and_assignee(store: Store) -> None:
    rows = seeded(store)
    page = queue_page(store, Scope.everything(), parse_filters({"sort": "oldest"}, TZ), TZ, limit=24)
    by_id = {r["event_id"]: r for r in page.rows}
    for i in range(24):
        row = by_id[rows[i]["event_id"]]
        assert (row["decision"] or "pending") == status_of(i), i
        assert row["assignee"] == ("li" if 5 <= i < 20 else ""), i
    every = list(every_row(store, Scope.everything(), QueueFilter(), TZ, batch=11))
    assert [r["event_id"] for r in every] == expected(rows, lambda i, r: True)
