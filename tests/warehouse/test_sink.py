"""The batching sink: size and age bounds, retries through a warehouse outage, nothing lost."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.errors import WarehouseError
from pipeline.records import Violation
from pipeline.warehouse import Store
from pipeline.warehouse.rows import violation_row
from pipeline.warehouse.server import ServerStore
from pipeline.warehouse.sink import BatchingSink, Row
from tests.services import ClickHouseServer

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def row(i: int) -> Row:
    return violation_row(
        Violation(f"ev{i}", "s1", "a1", "m1", "claim", "absolute", "medium", T0 + timedelta(seconds=i),
                  float(i), i + 1.0, "speech", text="最好")
    )  # fmt: skip


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
