"""The review queue over a million violations: page loads by filter, keyset against OFFSET.

    python -m bench.review_queue [--rows 1000000] [--repeat 10] [--store embedded|server]

Seeds a warehouse (embedded chdb in a temporary directory, or ``--store server``: a
clickhouse-server 18.16 started for the run, as the tests start one) with ``--rows`` violations
written by the warehouse itself (``INSERT … SELECT … FROM numbers(N)``: 20 MCNs, 200 anchors, the
seven claim categories and the qualification and ledger kinds, three severities, one row every
~30 s through 2026, so a month holds ~90,000), a review for every tenth row, an assignment for
every hundredth, and a ledger of 500 products per MCN. Then it serves the console and loads
``/violations`` pages as a certifier (every MCN) and as an MCN's officer, ``--repeat`` times each,
the first page and a page 500,000 rows deep (a keyset cursor), with each filter the queue offers.

Baseline, in the same run: the deep page's keys by ``OFFSET`` at the same depth (what a
page-number pager does), against the keyset query that replaces it; the ratio is OFFSET over
keyset. Target: p95 ≤ 300 ms for every page load.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.console_load import bench_settings
from pipeline.console.users import add_user
from pipeline.reporting.queue import Cursor, QueueFilter, cursor_after, encode_cursor, offset_sql, page_sql
from pipeline.reporting.queue_pages import page_keys
from pipeline.reporting.scope import Scope, scoped_query
from pipeline.warehouse import Store, open_store
from tests.console_support import PASSWORD, log_in, running_console

TARGET_P95_S = 0.3
MCNS = 20
ANCHORS = 200
PRODUCTS = 500
DEEP = 500_000
TIMEZONE = "Asia/Shanghai"  # the settings' default
OFFICER_MCN = "mcn-07"

# (kind, category, severity, term, sentence): what a row says, chosen by its number.
ROWS = [
    ("claim", "absolute", "medium", "全网最低", "这款面霜全网最低，家人们赶紧拍"),
    ("claim", "price", "high", "原价三百九", "原价三百九今天只要五十九"),
    ("claim", "medical", "high", "治疗湿疹", "宝宝湿疹用它一抹就好，能治疗湿疹"),
    ("claim", "efficacy", "medium", "美白", "用了一周就美白了"),
    ("claim", "guarantee", "medium", "无效退款", "七天无效退款，放心买"),
    ("claim", "authority", "high", "国宴专供", "这是国宴专供的茶叶"),
    ("claim", "superstition", "low", "招财转运", "戴上这个手串招财转运"),
    ("qualification", "missing_qualification", "high", "", "缺少化妆品注册证"),
    ("ledger", "off_ledger", "high", "", "直播间所售商品不在选品台账中"),
]


BATCH = 50_000
"""Violations per insert: a live warehouse holds the parts many inserts wrote, not one merged part."""


def seed(store: Store, rows: int) -> float:
    """Write the benchmark's warehouse; returns the seconds it took."""
    started = time.perf_counter()
    kinds = len(ROWS)

    def pick(index: int) -> str:
        return "[" + ", ".join(f"'{r[index]}'" for r in ROWS) + f"][n % {kinds} + 1]"

    mcn = f"concat('mcn-', substring(toString(100 + n % {MCNS}), 2, 2))"  # no leftPad on 18.16
    ts = "toDateTime('2026-01-01 00:00:00', 'UTC') + n * 29"
    for first in range(0, rows, BATCH):
        numbers = f"(SELECT number + {first} AS n FROM numbers({min(BATCH, rows - first)}))"
        store.command(
            "INSERT INTO violations (event_id, stream_id, anchor_id, mcn_id, kind, category, severity, "
            "ts, offset_s, end_offset_s, source, listing_id, product_id, text, term, rule_id, "
            "legal_basis, lexicon_version, rewrite, evidence) "
            f"SELECT concat('bench-', toString(n)), concat('stream-', toString(intDiv(n, 2000))), "
            f"concat('anchor-', toString(n % {ANCHORS})), {mcn}, {pick(0)}, {pick(1)}, {pick(2)}, "
            f"{ts}, toFloat64(n % 3600), toFloat64(n % 3600 + 4), 'speech', "
            "CAST(NULL AS Nullable(String)), "
            f"CAST(concat('sku-', toString(n % {PRODUCTS})) AS Nullable(String)), "
            f"{pick(4)}, {pick(3)}, 'BENCH', '《中华人民共和国广告法》第九条', 'bench', "
            f"CAST(NULL AS Nullable(String)), '{{}}' FROM {numbers}"
        )
        store.command(
            "INSERT INTO reviews (review_id, violation_id, mcn_id, reviewer, decision, reason, reviewed_at) "
            f"SELECT concat('review-', toString(n)), concat('bench-', toString(n)), {mcn}, 'bench', "
            f"if(n % 20 = 0, 'dismiss', 'confirm'), '', {ts} + 3600 FROM {numbers} WHERE n % 10 = 0"
        )
        store.command(
            "INSERT INTO assignments "
            "(assignment_id, violation_id, mcn_id, assignee, assigned_by, assigned_at) "
            f"SELECT concat('assignment-', toString(n)), concat('bench-', toString(n)), {mcn}, "
            f"'officer', 'bench', {ts} + 60 FROM {numbers} WHERE n % 100 = 5"
        )
        print(f"\r  {min(first + BATCH, rows):,} of {rows:,}", end="", flush=True)
    print()
    names = "['玻尿酸面霜', '益生菌固体饮料', '桂花乌龙茶', '黑曜石手串'][n % 4 + 1]"
    store.command(
        "INSERT INTO ledger (mcn_id, product_id, imported_at, import_id, product_name, brand, category, "
        "supplier, status, reviewed_at, reviewer, approved_claims, qualifications, test_report, "
        "test_report_date, raw, row_hash) "
        f"SELECT {mcn}, concat('sku-', toString(n % {PRODUCTS})), toDateTime('2026-01-01 00:00:00', 'UTC'), "
        f"'bench', concat({names}, toString(n % {PRODUCTS})), 'bench', 'cosmetics', 'bench', 'approved', "
        "CAST(NULL AS Nullable(Date)), 'bench', CAST([] AS Array(String)), '[]', '', "
        f"CAST(NULL AS Nullable(Date)), '{{}}', toString(n) "
        f"FROM (SELECT number AS n FROM numbers({MCNS * PRODUCTS}))"
    )
    return time.perf_counter() - started


def cursor_at(store: Store, scope: Scope, f: QueueFilter, depth: int) -> Cursor:
    """The keyset position ``depth`` rows into the filter's order (found once, by OFFSET)."""
    sql, params = offset_sql(f, TIMEZONE, depth - 1, limit=0)
    rows = scoped_query(store, sql, scope, params)
    return cursor_after(rows[0], f.sort)


# name → query parameters (the cursor parameters are filled in once the warehouse is seeded)
PAGES: dict[str, dict[str, str]] = {
    "newest, first page": {},
    "newest, 500k rows deep": {"after": ""},
    "severity sort": {"sort": "severity"},
    "severity sort, 500k deep": {"sort": "severity", "after": ""},
    "category": {"category": "medical"},
    "search (term)": {"q": "国宴专供"},
    "search (product name)": {"q": "桂花乌龙茶18"},
    "status=pending": {"status": "pending"},
    "status=dismiss": {"status": "dismiss"},
    "one week": {"from": "2026-03-02", "to": "2026-03-08"},
    "anchor": {"anchor": "anchor-42"},
    "assigned=nobody": {"assigned": "nobody"},
}
OFFICER_PAGES: dict[str, dict[str, str]] = {
    "officer: newest": {},
    "officer: category + pending": {"category": "price", "status": "pending"},
    "officer: search": {"q": "湿疹"},
}


def fill_cursors(store: Store, pages: dict[str, dict[str, str]]) -> None:
    for params in pages.values():
        if "after" in params:
            f = QueueFilter(sort=params.get("sort", "newest"))  # type: ignore[arg-type]
            params["after"] = encode_cursor(cursor_at(store, Scope.everything(), f, DEEP))


def timed(call: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def load(client: httpx.Client, params: dict[str, str]) -> None:
    response = client.get("/violations", params=params)
    if response.status_code != 200 or 'data-id="' not in response.text:
        raise RuntimeError(f"/violations {params}: HTTP {response.status_code} {response.text[:300]}")


def p50_p95(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    return statistics.median(values), statistics.quantiles(values, n=20, method="inclusive")[18]


def keyset_against_offset(store: Store, repeat: int) -> list[tuple[str, float, float, float]]:
    """The deep page's keys three ways, for the sorts the queue offers (seconds, p95): by
    ``OFFSET``, by one keyset query over all the time, and window by window (what the queue does)."""
    out = []
    everything = Scope.everything()
    for sort in ("newest", "severity"):
        f = QueueFilter(sort=sort)  # type: ignore[arg-type]
        deep = QueueFilter(sort=sort, cursor=cursor_at(store, everything, f, DEEP))  # type: ignore[arg-type]
        keyset_sql, keyset_params = page_sql(deep, TIMEZONE)
        offset_q, offset_params = offset_sql(f, TIMEZONE, DEEP)
        offset = timed(lambda: scoped_query(store, offset_q, everything, offset_params), repeat)  # noqa: B023
        whole = timed(lambda: scoped_query(store, keyset_sql, everything, keyset_params), repeat)  # noqa: B023
        windowed = timed(lambda: page_keys(store, everything, deep, TIMEZONE), repeat)  # noqa: B023
        out.append((sort, p50_p95(offset)[1], p50_p95(whole)[1], p50_p95(windowed)[1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--store", choices=("embedded", "server"), default="embedded")
    args = parser.parse_args()
    if args.rows <= DEEP:
        parser.error(f"--rows must be more than {DEEP} (the deep pages start there)")
    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_settings(Path(tmp), args.store) as settings,
        open_store(settings) as store,
    ):
        print(f"store: {args.store}; seeding {args.rows:,} violations …", flush=True)
        print(f"seeded in {seed(store, args.rows):.1f} s", flush=True)
        add_user(store, "bench-certifier", PASSWORD, "certifier")
        add_user(store, "bench-officer", PASSWORD, "mcn_officer", mcn_id=OFFICER_MCN)
        fill_cursors(store, PAGES)
        base = keyset_against_offset(store, args.repeat)
        with running_console(settings, store) as url:
            results: list[tuple[str, list[float]]] = []
            for user, pages in (("bench-certifier", PAGES), ("bench-officer", OFFICER_PAGES)):
                with contextlib.closing(log_in(url, user)) as client:
                    client.timeout = httpx.Timeout(120.0)
                    for name, params in pages.items():
                        load(client, params)  # warm: templates, the first read of a part
                        results.append((name, timed(lambda: load(client, params), args.repeat)))  # noqa: B023
    report(results, base, args.rows)


def report(
    results: list[tuple[str, list[float]]], base: list[tuple[str, float, float, float]], rows: int
) -> None:
    print(f"\n/violations page loads over {rows:,} violations ({len(results[0][1])} each)")
    print(f"{'page':<30} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    ok = True
    for name, times in results:
        p50, p95 = p50_p95(times)
        ok = ok and p95 <= TARGET_P95_S
        mark = "ok" if p95 <= TARGET_P95_S else "over target"
        print(f"{name:<30} {p50 * 1000:>8.0f} {p95 * 1000:>8.0f} {max(times) * 1000:>8.0f}  {mark}")
    print(f"\nthe page's keys {DEEP:,} rows deep (query only, p95)")
    print(f"{'sort':<12} {'OFFSET ms':>10} {'one query':>10} {'windows':>10} {'OFFSET/windows':>15}")
    for sort, offset, whole, windowed in base:
        print(
            f"{sort:<12} {offset * 1000:>10.0f} {whole * 1000:>10.0f} {windowed * 1000:>10.0f} "
            f"{offset / windowed:>15.1f}"
        )
    print(f"target p95 ≤ {TARGET_P95_S * 1000:.0f} ms for every page load: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
