"""The batching sink: size and age bounds, retries through a warehouse outage, nothing lost."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.errors import WarehouseError, WarehouseUnavailable
from pipeline.records import Violation
from pipeline.warehouse import Store
from pipeline.warehouse.rows import violation_row
from pipeline.warehouse.server import ServerStore
from pipeline.warehouse.sink import BatchingSink, Row
from tests.services import ClickHouseServer

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def violation(i: int) -> Violation:
    return Violation(f"ev{i}", "s1", "a1", "m1", "claim", "absolute", "medium", T0 + timedelta(seconds=i),
                     float(i), i + 1.0, "speech", text="最好")  # fmt: skip


def row(i: int) -> Row:
    return violation_row(violation(i))


def poison(i: int) -> Row:
    """A violation row no warehouse can hold: its time is before the UNIX epoch in UTC."""
    return violation_row(replace(violation(i), ts=datetime(1970, 1, 1, tzinfo=timezone(timedelta(hours=8)))))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.integration
def test_due_by_size_or_age_and_flush_writes_everything(store: Store) -> None:
    clock = Clock()
    sink = BatchingSink(store, max_rows=3, max_age_s=1.0, clock=clock)
    assert not sink.due()
    sink.add("violations", row(1))
    sink.add("violations", row(2))
    assert not sink.due()
    clock.now = 1.5
    assert sink.due()  # age
    sink.add("violations", row(3))
    assert sink.flush() == 3
    assert not sink.due()
    assert len(sink) == 0
    for i in range(4, 7):
        sink.add("violations", row(i))
    assert sink.due()  # size
    sink.flush()
    assert store.query("SELECT count() AS n FROM violations FINAL") == [{"n": 6}]


class Flaky(BatchingSink):
    """A sink whose first ``failures`` writes fail, as a warehouse outage would."""

    def __init__(self, store: Store, failures: int) -> None:
        super().__init__(store)
        self.failures = failures

    def write(self, table: str, rows: list[Row]) -> None:
        if self.failures:
            self.failures -= 1
            raise WarehouseError("down")
        super().write(table, rows)


@pytest.mark.integration
def test_a_failed_flush_keeps_the_rows(store: Store) -> None:
    sink = Flaky(store, failures=1)
    sink.add("violations", row(1))
    with pytest.raises(WarehouseError):
        sink.flush()
    assert len(sink) == 1
    assert sink.flush() == 1
    assert store.query("SELECT count() AS n FROM violations FINAL") == [{"n": 1}]


@pytest.mark.integration
@pytest.mark.slow
def test_flush_waits_out_a_real_server_outage(tmp_path: Path) -> None:
    server = ClickHouseServer(tmp_path / "ch").start()
    try:
        store = ServerStore(host="127.0.0.1", port=server.port, database="outage", retries=1, backoff_s=0.1)
        store.migrate()
        sink = BatchingSink(store, max_rows=100)
        for i in range(50):
            sink.add("violations", row(i))
        server.stop()
        threading.Timer(5.0, server.start).start()  # ClickHouse comes back after 5 s
        started = time.monotonic()
        assert sink.flush_until_done(backoff_s=0.5) == 50
        assert time.monotonic() - started >= 4
        assert store.query("SELECT count() AS n FROM violations FINAL") == [{"n": 50}]
        store.close()
    finally:
        server.stop()


@pytest.mark.integration
def test_a_refused_row_is_set_aside_with_the_reason_and_the_rest_is_stored(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    sink = BatchingSink(store, max_rows=8)
    for i in range(20):
        sink.add("violations", poison(i) if i in (3, 17) else row(i))
    sink.add("transcripts", {"segment_id": "t1", "stream_id": "s1", "ts": T0, "low_confidence": 300})
    with caplog.at_level(logging.ERROR, logger="pipeline.warehouse.sink"):
        assert sink.flush() == 18
    assert len(sink) == 0
    assert store.query("SELECT count() AS n FROM violations FINAL") == [{"n": 18}]
    assert store.query("SELECT count() AS n FROM violations FINAL WHERE event_id IN ('ev3', 'ev17')") == [
        {"n": 0}
    ]
    assert sink.refused == {"violations": 2, "transcripts": 1}
    letters = sink.take_refused()
    assert sink.take_refused() == []  # taken once
    assert [(letter.topic, json.loads(letter.payload).get("event_id")) for letter in letters] == [
        ("warehouse.violations", "ev3"),
        ("warehouse.violations", "ev17"),
        ("warehouse.transcripts", None),
    ]
    assert "column ts" in letters[0].reason
    assert "DateTime's range" in letters[0].reason
    assert "column low_confidence" in letters[2].reason
    assert letters[0].key == b"s1"
    assert sum("refused" in r.getMessage() for r in caplog.records) == 3


@pytest.mark.integration
def test_flush_until_done_returns_at_once_for_a_poison_row(store: Store) -> None:
    sink = BatchingSink(store)
    sink.add("violations", poison(1))
    sink.add("violations", row(2))
    done = threading.Event()
    threading.Thread(target=lambda: (sink.flush_until_done(backoff_s=0.1), done.set()), daemon=True).start()
    assert done.wait(20), "a row the warehouse refuses for good wedged the sink"
    assert sink.refused == {"violations": 1}


@pytest.mark.integration
def test_stop_ends_waiting_out_an_outage_at_once_and_keeps_the_rows(tmp_path: Path) -> None:
    server = ClickHouseServer(tmp_path / "ch").start()
    try:
        store = ServerStore(host="127.0.0.1", port=server.port, database="stop", retries=0, backoff_s=0.1)
        store.migrate()
        sink = BatchingSink(store)
        sink.add("violations", row(1))
        server.stop()
        outcome: list[BaseException] = []

        def flush() -> None:
            try:
                sink.flush_until_done(backoff_s=60.0)
            except WarehouseUnavailable as exc:
                outcome.append(exc)

        flusher = threading.Thread(target=flush, daemon=True)
        flusher.start()
        time.sleep(1.0)  # it is waiting 60 s before its next try now
        started = time.monotonic()
        sink.stop()  # as a worker does on SIGTERM
        flusher.join(5.0)
        assert not flusher.is_alive(), "stop did not end the wait"
        assert time.monotonic() - started < 2.0
        assert "stopped" in str(outcome[0])
        assert len(sink) == 1  # nothing acked, nothing dropped: the next worker stores it
        store.close()
    finally:
        server.stop()
