"""The server store's connection pool (issue 16, item 7): up to ``pool_size`` queries at once from
as many threads, never more connections than that, results as with one connection, and the pool
closed with the store. Against the real clickhouse-server (18.16 in CI)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from pipeline.errors import WarehouseError
from pipeline.warehouse.server import ServerStore
from tests.conftest import unique_database
from tests.services import ClickHouseServer

pytestmark = pytest.mark.integration
SLEEP_S = 0.6


@pytest.fixture
def pooled(clickhouse_server: ClickHouseServer) -> Iterator[ServerStore]:
    store = ServerStore(
        host="127.0.0.1", port=clickhouse_server.port, database=unique_database(), pool_size=4
    )
    yield store
    store.close()


def at_once(store: ServerStore, threads: int, sql: str) -> tuple[float, list[object]]:
    results: list[object] = []
    workers = [threading.Thread(target=lambda: results.append(store.query(sql))) for _ in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    return time.monotonic() - started, results


def test_queries_of_several_threads_run_at_once(pooled: ServerStore) -> None:
    took, results = at_once(pooled, 4, f"SELECT sleep({SLEEP_S}) AS s, 1 AS x")
    assert results == [[{"s": 0, "x": 1}]] * 4
    assert took < 3 * SLEEP_S  # four sleeps side by side, not one after another (2.4 s)
    assert len(pooled._opened) == 4


def test_never_more_connections_than_the_pool(pooled: ServerStore) -> None:
    took, results = at_once(pooled, 8, f"SELECT sleep({SLEEP_S}) AS s")
    assert len(results) == 8
    assert took >= 2 * SLEEP_S - 0.05  # eight sleeps on four connections: two rounds
    assert len(pooled._opened) == 4


def test_one_connection_takes_one_query_at_a_time(clickhouse_server: ClickHouseServer) -> None:
    store = ServerStore(
        host="127.0.0.1", port=clickhouse_server.port, database=unique_database(), pool_size=1
    )
    try:
        took, _ = at_once(store, 3, f"SELECT sleep({SLEEP_S}) AS s")
        assert took >= 3 * SLEEP_S - 0.05
    finally:
        store.close()


def test_pooled_writes_and_reads_agree(pooled: ServerStore) -> None:
    pooled.command("CREATE TABLE pool_check (n UInt32) ENGINE = MergeTree ORDER BY n")
    workers = [
        threading.Thread(
            target=lambda k=k: pooled.insert("pool_check", [{"n": k * 100 + i} for i in range(100)])
        )
        for k in range(6)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert pooled.query("SELECT count() AS c, sum(n) AS s FROM pool_check") == [
        {"c": 600, "s": sum(range(600))}
    ]
    _, counts = at_once(pooled, 6, "SELECT count() AS c FROM pool_check")
    assert counts == [[{"c": 600}]] * 6


def test_a_failed_query_leaves_its_connection_usable(pooled: ServerStore) -> None:
    with pytest.raises(WarehouseError, match="Code: 60"):  # UNKNOWN_TABLE
        pooled.query("SELECT * FROM no_such_table")
    assert pooled.query("SELECT 1 AS x") == [{"x": 1}]
    _, results = at_once(pooled, 4, "SELECT 2 AS x")
    assert results == [[{"x": 2}]] * 4


def test_close_disconnects_every_connection(pooled: ServerStore) -> None:
    at_once(pooled, 4, f"SELECT sleep({SLEEP_S / 2}) AS s")
    opened = list(pooled._opened)
    pooled.close()
    assert all(not c.connection.connected for c in opened)


def test_a_pool_needs_a_connection(clickhouse_server: ClickHouseServer) -> None:
    with pytest.raises(ValueError, match="pool_size"):
        ServerStore(host="127.0.0.1", port=clickhouse_server.port, database="x", pool_size=0)
