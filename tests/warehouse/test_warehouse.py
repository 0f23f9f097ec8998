"""The warehouse on both stores: schema, batches, idempotent re-inserts, queries, failures."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from pipeline.config import Settings, load_settings
from pipeline.errors import MigrationError, RowRefused, WarehouseError, WarehouseUnavailable
from pipeline.records import Evidence, LedgerEntry, Qualification, StreamInfo, TranscriptSegment, Violation
from pipeline.warehouse import LATEST_VERSION, Store, open_store
from pipeline.warehouse.rows import ledger_row, stream_row, transcript_row, violation_row

pytestmark = pytest.mark.integration

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 20, 0, tzinfo=CST)
TABLES = {"streams", "transcripts", "listings", "ledger", "violations", "reviews", "audit_log"}


def violation(i: int, *, mcn: str = "mcn-a", anchor: str = "anchor-1", text: str = "全网最低价") -> Violation:
    return Violation(
        event_id=f"ev-{mcn}-{i}",
        stream_id="s1",
        anchor_id=anchor,
        mcn_id=mcn,
        kind="claim",
        category="price",
        severity="high",
        ts=T0 + timedelta(seconds=i),
        offset_s=float(i),
        end_offset_s=i + 1.5,
        source="speech",
        listing_id="L1" if i % 2 else None,
        text=text,
        term="全网最低价",
        rule_id="PRICE-001",
        legal_basis="价格法第十四条",
        evidence=Evidence(reason=f"n={i}", listing_field="title"),
    )


def test_schema_is_created_with_every_table(store: Store) -> None:
    counts = store.table_counts()
    assert set(counts) >= TABLES
    assert store.schema_version() == LATEST_VERSION


def test_migrate_is_idempotent(store: Store) -> None:
    assert store.migrate() == []
    assert store.migrate() == []
    rows = store.query("SELECT count() AS n FROM schema_migrations")
    assert rows[0]["n"] == LATEST_VERSION


def test_batch_insert_and_query_back_values(store: Store) -> None:
    batch = [violation_row(violation(i)) for i in range(100)]
    assert store.insert("violations", batch) == 100
    rows = store.query(
        "SELECT event_id, ts, offset_s, listing_id, rewrite, evidence, text FROM violations FINAL "
        "WHERE event_id = %(id)s",
        {"id": "ev-mcn-a-7"},
    )
    assert len(rows) == 1
    row = rows[0]
    assert row["ts"] == T0 + timedelta(seconds=7)
    assert row["ts"].tzinfo is not None
    assert row["offset_s"] == 7.0
    assert row["listing_id"] == "L1"
    assert row["rewrite"] is None
    evidence = json.loads(row["evidence"])
    assert (evidence["reason"], evidence["listing_field"], evidence["listing"]) == ("n=7", "title", None)
    assert row["text"] == "全网最低价"


def test_same_violation_twice_is_one_row_in_every_query(store: Store) -> None:
    rows = [violation_row(violation(i)) for i in range(10)]
    store.insert("violations", rows)
    store.insert("violations", rows)  # a redelivered batch
    store.insert("violations", rows[:3] + rows[:3])  # duplicates inside one batch
    assert store.query("SELECT count() AS n FROM violations FINAL")[0]["n"] == 10
    assert store.query("SELECT uniqExact(event_id) AS n FROM violations FINAL")[0]["n"] == 10
    per_category = store.query(
        "SELECT category, countIf(severity = 'high') AS n FROM violations FINAL GROUP BY category"
    )
    assert per_category == [{"category": "price", "n": 10}]
    assert store.table_counts()["violations"] == 10


def test_queries_filter_by_mcn_and_period(store: Store) -> None:
    store.insert("violations", [violation_row(violation(i, mcn="mcn-a")) for i in range(5)])
    store.insert("violations", [violation_row(violation(i, mcn="mcn-b")) for i in range(3)])
    rows = store.query(
        "SELECT mcn_id, count() AS n FROM violations FINAL "
        "WHERE ts >= %(start)s AND ts < %(end)s GROUP BY mcn_id ORDER BY mcn_id",
        {"start": T0, "end": T0 + timedelta(seconds=4)},
    )
    assert rows == [{"mcn_id": "mcn-a", "n": 4}, {"mcn_id": "mcn-b", "n": 3}]
    chosen = store.query(
        "SELECT count() AS n FROM violations FINAL WHERE mcn_id IN %(ids)s", {"ids": ("mcn-b", "mcn-x")}
    )
    assert chosen == [{"n": 3}]
    with pytest.raises(WarehouseError, match="empty tuple"):
        store.query("SELECT 1 WHERE 'a' IN %(ids)s", {"ids": ()})


def test_hostile_parameters_are_data_not_sql(store: Store) -> None:
    store.insert("violations", [violation_row(violation(1))])
    for hostile in ["x' OR '1'='1", "'; DROP TABLE violations; --", "\\'", "mcn-a\x00", "反斜杠\\"]:
        assert store.query(
            "SELECT count() AS n FROM violations FINAL WHERE mcn_id = %(m)s", {"m": hostile}
        ) == [{"n": 0}]
    assert store.table_counts()["violations"] == 1


def test_text_with_quotes_newlines_and_emoji_round_trips(store: Store) -> None:
    text = "它说'最好'\n\"第一\"\t\\ 😀 ＮＯ．１"
    store.insert("violations", [violation_row(violation(1, text=text))])
    assert store.query("SELECT text FROM violations FINAL")[0]["text"] == text


def test_transcripts_streams_and_ledger_rows(store: Store) -> None:
    stream = StreamInfo("s1", "anchor-1", "mcn-a", T0, source="stream.ogg")
    store.insert("streams", [stream_row(stream)])
    store.insert("streams", [stream_row(replace(stream, ended_at=T0 + timedelta(hours=1)))])
    seg = TranscriptSegment("seg-1", "s1", 10.0, 12.5, "全网最低价")
    store.insert("transcripts", [transcript_row(seg, stream)] * 2)
    entry = LedgerEntry(
        "P-1", "mcn-a", "面霜", "水润坊", "cosmetics", "approved",
        reviewed_at=date(2026, 9, 2), approved_claims=("保湿", "轻薄"),
        qualifications=(Qualification("cosmetics_filing", "浙G妆网备字2023001147", date(2028, 12, 31)),),
    )  # fmt: skip
    first = datetime(2026, 10, 1, tzinfo=UTC)
    store.insert("ledger", [ledger_row(entry, imported_at=first, import_id="i1")])
    store.insert("ledger", [ledger_row(entry, imported_at=first + timedelta(days=30), import_id="i2")])

    streams = store.query("SELECT stream_id, ended_at FROM streams FINAL")
    assert streams == [{"stream_id": "s1", "ended_at": T0 + timedelta(hours=1)}]
    seg_rows = store.query("SELECT ts, text FROM transcripts FINAL")
    assert seg_rows == [{"ts": T0 + timedelta(seconds=10), "text": "全网最低价"}]
    history = store.query(
        "SELECT import_id, approved_claims, reviewed_at FROM ledger FINAL "
        "WHERE mcn_id = %(m)s ORDER BY imported_at",
        {"m": "mcn-a"},
    )
    assert [h["import_id"] for h in history] == ["i1", "i2"]
    assert history[0]["approved_claims"] == ["保湿", "轻薄"]
    assert history[0]["reviewed_at"] == date(2026, 9, 2)
    as_of = store.query(
        "SELECT argMax(import_id, imported_at) AS import_id FROM ledger FINAL "
        "WHERE product_id = 'P-1' AND imported_at <= %(t)s",
        {"t": first + timedelta(days=1)},
    )
    assert as_of == [{"import_id": "i1"}]


def test_unknown_column_is_refused(store: Store) -> None:
    with pytest.raises(RowRefused, match="no column"):
        store.insert("violations", [{"event_id": "x", "colour": "red"}])


NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# Values found by trying each column type on clickhouse-server 18.16 and chdb: what one store
# refuses, the other often stores wrong without a word (chdb clamps a time to 1970 or 2106 and
# wraps 300 into a UInt8 as 44; 18.16 stores a Date past 2149-06-06 as 1970-01-01).
UNSTORABLE = [
    ("listings", {"ts": datetime(1970, 1, 1, tzinfo=CST)}, "ts"),  # before the epoch in UTC
    ("listings", {"ts": datetime(2106, 2, 7, 6, 28, 16, tzinfo=UTC)}, "ts"),  # past UInt32 seconds
    ("listings", {"ts": datetime(1, 1, 2, tzinfo=UTC)}, "ts"),
    ("listings", {"ts": "not a time"}, "ts"),
    ("listings", {"price": "cheap"}, "price"),
    ("listings", {"title": "面霜\ud800"}, "title"),  # a lone surrogate: not UTF-8
    ("ledger", {"reviewed_at": date(1969, 12, 31)}, "reviewed_at"),
    ("ledger", {"reviewed_at": date(2149, 6, 7)}, "reviewed_at"),  # Date is UInt16 days
    ("ledger", {"approved_claims": ["保湿", "\udc80"]}, "approved_claims"),
    ("transcripts", {"low_confidence": 300}, "low_confidence"),  # UInt8
    ("transcripts", {"low_confidence": -1}, "low_confidence"),
    ("transcripts", {"no_speech_prob": 1e300}, "no_speech_prob"),  # beyond Float32
]
KEYS = {"listings": "event_id", "ledger": "product_id", "transcripts": "segment_id"}


@pytest.mark.parametrize(("table", "values", "column"), UNSTORABLE)
def test_a_value_a_column_cannot_hold_is_refused_naming_the_column(
    store: Store, table: str, values: dict[str, object], column: str
) -> None:
    row = {KEYS[table]: "bad", "ts" if table != "ledger" else "imported_at": NOW, **values}
    with pytest.raises(RowRefused) as caught:
        store.insert(table, [row])
    assert caught.value.column == column
    assert f"column {column}" in str(caught.value)
    assert store.query(f"SELECT count() AS n FROM {table}") == [{"n": 0}]


def test_values_at_the_edges_of_each_range_are_stored(store: Store) -> None:
    edges = [
        ("listings", {"ts": datetime(1970, 1, 1, 8, tzinfo=CST), "price": -1.5}),
        ("listings", {"ts": datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC), "title": "\x00\u202e"}),
        ("ledger", {"reviewed_at": date(1970, 1, 1), "test_report_date": date(2149, 6, 6)}),
        ("transcripts", {"low_confidence": 255, "no_speech_prob": 3.4e38, "avg_logprob": float("-inf")}),
    ]
    for i, (table, values) in enumerate(edges):
        row = {KEYS[table]: f"edge{i}", "ts" if table != "ledger" else "imported_at": NOW, **values}
        assert store.insert(table, [row]) == 1
    (ledger,) = store.query("SELECT reviewed_at, test_report_date FROM ledger")
    assert (ledger["reviewed_at"], ledger["test_report_date"]) == (date(1970, 1, 1), date(2149, 6, 6))
    times = store.query("SELECT ts FROM listings ORDER BY ts")
    assert [r["ts"] for r in times] == [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC),
    ]


def test_bad_sql_is_an_error_not_a_retry(store: Store) -> None:
    started = time.monotonic()
    with pytest.raises(WarehouseError) as caught:
        store.query("SELECT nonsense FROM nowhere")
    assert not isinstance(caught.value, WarehouseUnavailable)
    assert time.monotonic() - started < 5


def test_newer_schema_is_refused(store: Store) -> None:
    store.insert(
        "schema_migrations",
        [{"version": LATEST_VERSION + 1, "name": "future", "checksum": "", "applied_at": datetime.now(UTC)}],
    )
    with pytest.raises(MigrationError, match="newer than this release"):
        store.migrate()


def test_an_older_database_is_upgraded_on_open(store_settings: Settings) -> None:
    with open_store(store_settings, migrate=False) as fresh:
        assert fresh.schema_version() == 0
    with open_store(store_settings) as opened:
        assert opened.schema_version() == LATEST_VERSION


def test_store_that_is_down_fails_clearly_after_bounded_retries(tmp_path: object) -> None:
    from pipeline.stream.broker import free_port

    settings = load_settings(
        warehouse="server", clickhouse_port=free_port(), warehouse_retries=3, warehouse_backoff_s=0.05
    )
    started = time.monotonic()
    with pytest.raises(WarehouseUnavailable, match=r"unreachable after 4 attempts"):
        open_store(settings)
    elapsed = time.monotonic() - started
    assert 0.05 + 0.1 + 0.2 <= elapsed < 10


def test_embedded_directory_held_by_another_process_is_a_clear_error(tmp_path: object) -> None:
    import subprocess
    import sys
    from pathlib import Path

    data = Path(str(tmp_path))
    with subprocess.Popen(
        [sys.executable, "-c", (
            "import time\nfrom pipeline.config import load_settings\n"
            "from pipeline.warehouse import open_store\n"
            f"s = open_store(load_settings(data_dir={str(data)!r}))\n"
            "print('ready', flush=True)\ntime.sleep(60)"
        )],
        stdout=subprocess.PIPE, text=True,
    ) as holder:  # fmt: skip
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "ready"
            probe = subprocess.run(
                [sys.executable, "-m", "pipeline", "db", "status"],
                env={"CLAIMWATCH_DATA_DIR": str(data), "PATH": "/usr/bin:/bin"},
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert probe.returncode == 2
            assert "another ClaimWatch process may hold it" in probe.stderr
        finally:
            holder.kill()
