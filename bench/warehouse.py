"""Insert throughput of violations on both stores: batched inserts against one-row inserts.

    python -m bench.warehouse [--rows 50000] [--single-rows 500] [--batch 10000]

Starts a clickhouse-server (Debian's, as in the tests) and an embedded chdb store in temporary
directories. One-row inserts are the baseline; the ratio says what batching buys.
Target: batched ≥ 50,000 rows/s on the embedded store on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.records import Violation
from pipeline.warehouse import Store
from pipeline.warehouse.embedded import EmbeddedStore
from pipeline.warehouse.rows import violation_row
from pipeline.warehouse.server import ServerStore
from tests.services import ClickHouseServer

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def rows(n: int, prefix: str) -> list[dict[str, Any]]:
    return [
        violation_row(
            Violation(
                event_id=f"{prefix}-{i}", stream_id=f"s{i % 50}", anchor_id=f"anchor-{i % 20}",
                mcn_id=f"mcn-{i % 5}", kind="claim", category="absolute", severity="medium",
                ts=T0 + timedelta(seconds=i), offset_s=i * 1.0, end_offset_s=i + 2.0, source="speech",
                text="这是全网最好用的面霜，没有之一", term="最好用", rule_id="ABS-001",
                legal_basis="广告法第九条第三项", evidence={"listing_id": "L1"},
            )
        )
        for i in range(n)
    ]  # fmt: skip


def measure(store: Store, data: list[dict[str, Any]], batch: int) -> float:
    """Rows per second inserting ``data`` in batches of ``batch`` rows."""
    started = time.perf_counter()
    for i in range(0, len(data), batch):
        store.insert("violations", data[i : i + batch])
    return len(data) / (time.perf_counter() - started)


def run(store: Store, n_rows: int, n_single: int, batch: int) -> tuple[float, float]:
    store.migrate()
    measure(store, rows(100, "warmup"), 100)
    batched = measure(store, rows(n_rows, "batched"), batch)
    single = measure(store, rows(n_single, "single"), 1)
    return batched, single


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--single-rows", type=int, default=500)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = ClickHouseServer(Path(tmp) / "server").start()
        try:
            stores: list[Store] = [
                EmbeddedStore(Path(tmp) / "embedded", database="bench"),
                ServerStore(host="127.0.0.1", port=server.port, database="bench"),
            ]
            print(f"{'store':<10} {'batched rows/s':>15} {'one-row rows/s':>15} {'ratio':>8}")
            for store in stores:
                with store:
                    batched, single = run(store, args.rows, args.single_rows, args.batch)
                print(f"{store.kind:<10} {batched:>15,.0f} {single:>15,.0f} {batched / single:>8.1f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
