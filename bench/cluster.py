"""The warehouse on the tests' ClickHouse cluster (2 shards × 2 replicas) beside one server.

    python -m bench.cluster [--rows 50000] [--batch 1000] [--scores 5]

Starts ZooKeeper and four clickhouse-servers as the cluster tests do (tests/cluster.py) and one
clickhouse-server (tests/services.py), all on this machine, and measures on both: starting them,
the schema (migrations; ON CLUSTER on the cluster), batched violation inserts (the sink's batch
of 1,000 rows by default: on the cluster each insert returns once every shard has its part,
``insert_distributed_sync=1``), the latency of one batch (what a worker waits before it acks),
the scores of the scoring scenario plus the inserted rows, and the servers' resident memory.
One server is the baseline; on one machine the cluster cannot be faster, the figures say what
its synchronous inserts and distributed queries cost.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.warehouse import rows
from pipeline.config import PROJECT_ROOT, load_settings
from pipeline.reporting.scope import Period, Scope
from pipeline.reporting.scoring import compute_scores
from pipeline.reporting.scoring_rules import load_rules
from pipeline.warehouse import Store, open_store
from tests import scenario
from tests.cluster import ClickHouseCluster
from tests.services import ClickHouseServer


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def rss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def measure(store: Store, n_rows: int, batch: int, n_scores: int) -> dict[str, float]:
    data = rows(n_rows, "bench")
    latencies = [
        timed(lambda i=i: store.insert("violations", data[i : i + batch])) for i in range(0, n_rows, batch)
    ]
    scenario.seed(store)
    rules = load_rules(PROJECT_ROOT / "lexicons" / "scoring.yaml")
    period = Period.parse(scenario.PERIOD, "Asia/Shanghai")
    score_s = [
        timed(lambda: compute_scores(store, rules, "anchor", period, Scope.everything()))
        for _ in range(n_scores)
    ]
    return {
        "rows/s": n_rows / sum(latencies),
        "batch p50 ms": statistics.median(latencies) * 1000,
        "batch p95 ms": sorted(latencies)[int(0.95 * (len(latencies) - 1))] * 1000,
        "scores ms": statistics.median(score_s) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--scores", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        server = ClickHouseServer(Path(tmp) / "server").start()
        results: dict[str, dict[str, float]] = {"server": {"start s": time.perf_counter() - began}}
        began = time.perf_counter()
        cluster = ClickHouseCluster(Path(tmp) / "cluster").start()
        results["cluster"] = {"start s": time.perf_counter() - began}
        try:
            targets = {
                "server": load_settings(
                    warehouse="server", clickhouse_port=server.port, clickhouse_database="bench"
                ),
                "cluster": load_settings(
                    warehouse="server",
                    clickhouse_port=cluster.entry.port,
                    clickhouse_database="bench",
                    clickhouse_cluster=cluster.name,
                ),
            }
            for name, settings in targets.items():
                began = time.perf_counter()
                with open_store(settings) as store:
                    results[name]["schema s"] = time.perf_counter() - began
                    results[name].update(measure(store, args.rows, args.batch, args.scores))
            results["server"]["RSS MB"] = rss_mb([server.pid])
            results["cluster"]["RSS MB"] = rss_mb(
                [n.server.pid for n in cluster.nodes] + [cluster.zookeeper.pid]
            )
        finally:
            cluster.stop()
            server.stop()
    print(f"{args.rows:,} violation rows in batches of {args.batch:,}; scores of the scenario + those rows")
    print(f"{'':<14}{'server':>12}{'cluster':>12}")
    for key in results["server"]:
        print(f"{key:<14}{results['server'][key]:>12,.1f}{results['cluster'][key]:>12,.1f}")


if __name__ == "__main__":
    main()
