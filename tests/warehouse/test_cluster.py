"""The warehouse on a real ClickHouse cluster: ZooKeeper and 2 shards × 2 replicas (tests/cluster.py).

- the schema is created once, ``ON CLUSTER``, and migrating again (through any node) is a no-op;
- rows written through the store land on both replicas of the shard their stream hashes to, and
  an event's duplicates meet there and fold under FINAL;
- scores, the console's panels, violation lists and cases, the ledger and a stream's restore
  read the same on the cluster as on one server for the same data;
- a replica killed mid-write loses nothing and doubles nothing once it is back; with a whole
  shard down the insert fails as an outage and the sink holds its rows (nothing acked) until
  the shard returns.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline.config import PROJECT_ROOT, Settings, load_settings
from pipeline.errors import WarehouseError, WarehouseUnavailable
from pipeline.records import Review, StreamInfo, stable_id
from pipeline.reporting.casefile import find_violations, load_case
from pipeline.reporting.panels import PANELS, run_panel
from pipeline.reporting.scope import Period, Scope
from pipeline.reporting.scoring import compute_scores, compute_trend
from pipeline.reporting.scoring_rules import load_rules
from pipeline.reporting.selection import selection_figures
from pipeline.warehouse import LATEST_VERSION, Store, open_store
from pipeline.warehouse.cluster import SHARDED, local_table
from pipeline.warehouse.ledger import current_ledger
from pipeline.warehouse.rows import review_row, stream_row, violation_row
from pipeline.warehouse.server import ServerStore
from pipeline.warehouse.sink import BatchingSink
from pipeline.warehouse.streams import stored_stream
from tests import scenario
from tests.cluster import ClickHouseCluster, Node
from tests.conftest import unique_database
from tests.services import ClickHouseServer

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.cluster]

RULES = load_rules(PROJECT_ROOT / "lexicons" / "scoring.yaml")
NOVEMBER = Period.parse(scenario.PERIOD, "Asia/Shanghai")
SCOPES = (Scope.everything(), Scope.only("mcn-starlight"), Scope.only("mcn-rival"))


def cluster_settings(
    cluster: ClickHouseCluster, database: str, node: Node | None = None, alt_hosts: str = ""
) -> Settings:
    return load_settings(
        warehouse="server",
        clickhouse_port=(node or cluster.entry).port,
        clickhouse_alt_hosts=alt_hosts,
        clickhouse_database=database,
        clickhouse_cluster=cluster.name,
        warehouse_retries=3,
        warehouse_backoff_s=0.2,
    )


@pytest.fixture
def cluster_store(clickhouse_cluster: ClickHouseCluster) -> Iterator[Store]:
    with open_store(cluster_settings(clickhouse_cluster, unique_database())) as store:
        yield store
        drop_everywhere(store, clickhouse_cluster)


def drop_everywhere(store: Store, cluster: ClickHouseCluster) -> None:
    """Drop a test's database on every node (its replicated tables leave ZooKeeper: the session's
    cluster stays lean)."""
    store.command(f"DROP DATABASE IF EXISTS {store.database} ON CLUSTER {cluster.name}")


def on_node(node: Node, database: str) -> ServerStore:
    """A plain store on one node, to read its local tables."""
    return ServerStore(host="127.0.0.1", port=node.port, database=database, retries=0)


def local_ids(
    cluster: ClickHouseCluster, database: str, table: str = "violations", key: str = "event_id"
) -> dict[tuple[int, int], list[str]]:
    """Each node's rows of a sharded table (its local table, FINAL), after syncing its replica."""
    found = {}
    for node in cluster.nodes:
        with on_node(node, database) as store:
            store.command(f"SYSTEM SYNC REPLICA {local_table(table)}")
            rows = store.query(f"SELECT {key} AS k FROM {local_table(table)} FINAL ORDER BY k")
            found[node.shard, node.replica] = [str(r["k"]) for r in rows]
    return found


def stream_violations(streams: int, per_stream: int, *, tag: str = "") -> list[dict[str, Any]]:
    """Violation rows of ``streams`` streams of two MCNs, ``per_stream`` each, ids from the stream."""
    base = scenario.starlight_violations()[0]
    rows = []
    for s in range(streams):
        stream_id = f"{tag}stream-{s:03d}"
        for e in range(per_stream):
            v = replace(
                base,
                event_id=stable_id("violation", stream_id, e),
                stream_id=stream_id,
                anchor_id=f"anchor-{s % 5}",
                mcn_id=("mcn-starlight", "mcn-rival")[s % 2],
                ts=base.ts + timedelta(seconds=e),
                offset_s=float(e),
            )
            rows.append(violation_row(v))
    return rows


def count_final(store: Store, table: str = "violations") -> tuple[int, int]:
    (row,) = store.query(f"SELECT count() AS n, uniqExact(event_id) AS u FROM {table} FINAL")
    return int(row["n"]), int(row["u"])


# ---------------------------------------------------------------------------------------------
# Schema


def test_the_schema_is_created_once_on_every_node_and_migrating_again_does_nothing(
    clickhouse_cluster: ClickHouseCluster,
) -> None:
    database = unique_database()
    began = time.monotonic()
    with open_store(cluster_settings(clickhouse_cluster, database)) as store:
        took_s = time.monotonic() - began
        assert store.schema_version() == LATEST_VERSION
        assert store.migrate() == []
    print(f"cluster schema ({LATEST_VERSION} migrations ON CLUSTER) in {took_s:.1f} s")
    other = clickhouse_cluster.node(2, 2)
    with open_store(cluster_settings(clickhouse_cluster, database, other), migrate=False) as second:
        second.command("SYSTEM SYNC REPLICA schema_migrations")  # replication is asynchronous
        assert second.migrate() == []  # the other node knows the migrations were applied
        check_schema_on_every_node(clickhouse_cluster, database)
        drop_everywhere(second, clickhouse_cluster)


def check_schema_on_every_node(clickhouse_cluster: ClickHouseCluster, database: str) -> None:
    for node in clickhouse_cluster.nodes:
        with on_node(node, database) as store:
            engines = {
                r["name"]: r["engine"]
                for r in store.query(
                    "SELECT name, engine FROM system.tables WHERE database = %(db)s", {"db": database}
                )
            }
            for table in SHARDED:
                assert engines[table] == "Distributed"
                assert engines[local_table(table)] == "ReplicatedReplacingMergeTree"
            assert engines["audit_log"] == "ReplicatedMergeTree"
            assert engines["reviews"] == engines["users"] == "ReplicatedReplacingMergeTree"
            store.command("SYSTEM SYNC REPLICA schema_migrations")
            versions = store.query("SELECT version FROM schema_migrations ORDER BY version")
            assert [r["version"] for r in versions] == list(range(1, LATEST_VERSION + 1))
            assert "off_card" in store.columns("violations")  # the ALTERs reached the Distributed table
            assert "end_reason" in store.columns(local_table("streams"))
            assert "read_as" in store.columns("violations")
            assert "attachment_sha256" in store.columns("reviews")  # altered once, replicated


def test_a_cluster_needs_the_server_warehouse(tmp_path: Any) -> None:
    from pipeline.errors import ConfigError

    settings = load_settings(warehouse="embedded", data_dir=tmp_path, clickhouse_cluster="claimwatch")
    with pytest.raises(ConfigError, match="CLAIMWATCH_WAREHOUSE=server"):
        open_store(settings)


# ---------------------------------------------------------------------------------------------
# Where rows go


def test_rows_land_on_both_replicas_of_the_shard_their_stream_hashes_to(
    clickhouse_cluster: ClickHouseCluster, cluster_store: Store
) -> None:
    rows = stream_violations(12, 5)
    assert cluster_store.insert("violations", rows) == 60
    found = local_ids(clickhouse_cluster, cluster_store.database)
    shard1, shard2 = found[1, 1], found[2, 1]
    assert found[1, 2] == shard1, "each replica holds its whole shard"
    assert found[2, 2] == shard2, "each replica holds its whole shard"
    assert shard1, "twelve streams spread over both shards"
    assert shard2, "twelve streams spread over both shards"
    assert not set(shard1) & set(shard2)
    assert sorted(shard1 + shard2) == sorted(r["event_id"] for r in rows)
    hashed = cluster_store.query(
        "SELECT event_id, cityHash64(stream_id) % 2 AS shard_index FROM violations FINAL"
    )
    for row in hashed:  # shard weights are equal: shard i takes hash % 2 == i - 1
        assert row["event_id"] in (shard1, shard2)[row["shard_index"]]
    (stamped,) = cluster_store.query("SELECT min(inserted_at) AS first FROM violations")
    assert stamped["first"] > datetime.now(UTC) - timedelta(hours=1), "DEFAULT now() through Distributed"
    streams_of = {r["event_id"]: r["stream_id"] for r in rows}
    assert not {streams_of[e] for e in shard1} & {streams_of[e] for e in shard2}


def test_duplicates_of_an_event_meet_on_one_shard_and_fold_under_final(
    clickhouse_cluster: ClickHouseCluster, cluster_store: Store
) -> None:
    rows = stream_violations(8, 10)
    cluster_store.insert("violations", rows)
    cluster_store.insert("violations", rows[::2])  # a batch retried after a crash
    later = [{**r, "inserted_at": datetime.now(UTC) + timedelta(seconds=5)} for r in rows[1::3]]
    cluster_store.insert("violations", later)  # the same events, written again by another worker
    assert count_final(cluster_store) == (80, 80)
    assert cluster_store.table_counts()["violations"] == 80
    stream = StreamInfo("dup-stream", "anchor-1", "mcn-starlight", datetime(2026, 11, 3, tzinfo=UTC))
    cluster_store.insert("streams", [stream_row(stream)])
    ended = replace(stream, ended_at=stream.started_at + timedelta(hours=1))
    cluster_store.insert("streams", [stream_row(ended)])  # the newer row replaces the older
    stored = stored_stream(cluster_store, "dup-stream")
    assert stored is not None
    assert stored.info.ended_at == ended.ended_at


# ---------------------------------------------------------------------------------------------
# The same answers as one server


def seed_both(stores: tuple[Store, Store]) -> None:
    """The scoring scenario plus streams spread over both shards, with reviews, in each store."""
    price = next(v for v in scenario.starlight_violations() if v.category == "price")
    now = datetime.now(UTC).replace(microsecond=0)
    reviews = [
        review_row(Review("r1", price.event_id, "cert", "dismiss", now, "quoted"), mcn_id=price.mcn_id),
        review_row(Review("r2", rows_event(0), "cert", "dismiss", now, "echo"), mcn_id="mcn-starlight"),
        review_row(Review("r3", rows_event(1), "cert", "confirm", now, "ok"), mcn_id="mcn-rival"),
    ]
    extra = stream_violations(10, 4, tag="more-")
    extra_streams = [
        stream_row(
            StreamInfo(
                f"more-stream-{s:03d}",
                f"anchor-{s % 5}",
                ("mcn-starlight", "mcn-rival")[s % 2],
                datetime(2026, 11, 5 + s, 10, tzinfo=UTC),
                ended_at=datetime(2026, 11, 5 + s, 11, 30, tzinfo=UTC),
            )
        )
        for s in range(10)
    ]
    for store in stores:
        scenario.seed(store)
        store.insert("violations", extra)
        store.insert("streams", extra_streams)
        store.insert("reviews", reviews)


def rows_event(i: int) -> str:
    return str(stream_violations(10, 4, tag="more-")[i * 4]["event_id"])


def comparable(value: Any) -> Any:
    """A result with insertion times dropped (DEFAULT now() differs per store), floats rounded
    (shards sum in another order) and lists of dicts sorted where the SQL leaves order open."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return comparable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k != "inserted_at"}
    if isinstance(value, list | tuple):
        return [comparable(v) for v in value]
    if isinstance(value, float):
        return round(value, 9)
    return value


def unordered(rows: list[Any]) -> list[Any]:
    return sorted((comparable(r) for r in rows), key=repr)


@pytest.fixture
def both(
    clickhouse_cluster: ClickHouseCluster, clickhouse_server: ClickHouseServer, tmp_path: Any
) -> Iterator[tuple[Store, Store]]:
    single = load_settings(
        warehouse="server", clickhouse_port=clickhouse_server.port, clickhouse_database=unique_database()
    )
    with (
        open_store(cluster_settings(clickhouse_cluster, unique_database())) as cluster,
        open_store(single) as server,
    ):
        seed_both((cluster, server))
        yield cluster, server
        drop_everywhere(cluster, clickhouse_cluster)


def test_the_data_spans_both_shards(clickhouse_cluster: ClickHouseCluster, both: tuple[Store, Store]) -> None:
    found = local_ids(clickhouse_cluster, both[0].database)
    assert found[1, 1]
    assert found[2, 1]


@pytest.mark.parametrize("level", ["anchor", "mcn"])
def test_scores_and_trends_are_the_same_on_the_cluster_and_one_server(
    both: tuple[Store, Store], level: str
) -> None:
    cluster, server = both
    for scope in SCOPES:
        on_cluster = compute_scores(cluster, RULES, level, NOVEMBER, scope)  # type: ignore[arg-type]
        assert on_cluster, "the scenario has scores"
        assert comparable(on_cluster) == comparable(compute_scores(server, RULES, level, NOVEMBER, scope))  # type: ignore[arg-type]
        months = NOVEMBER.recent(3)
        assert compute_trend(cluster, RULES, level, months, scope) == compute_trend(  # type: ignore[arg-type]
            server,
            RULES,
            level,  # type: ignore[arg-type]
            months,
            scope,
        )


def test_the_consoles_panels_are_the_same_on_the_cluster_and_one_server(both: tuple[Store, Store]) -> None:
    cluster, server = both
    for scope in SCOPES:
        for panel in PANELS:
            on_cluster = run_panel(cluster, panel, RULES, scope, NOVEMBER)
            assert unordered(on_cluster) == unordered(run_panel(server, panel, RULES, scope, NOVEMBER)), (
                panel.id
            )


def test_violations_cases_ledger_and_streams_read_the_same_on_the_cluster(both: tuple[Store, Store]) -> None:
    cluster, server = both
    for scope in SCOPES:
        listed = find_violations(cluster, scope, period=NOVEMBER)
        assert comparable(listed) == comparable(find_violations(server, scope, period=NOVEMBER))
        for row in listed[:12]:
            case = load_case(cluster, scope, row["event_id"])
            assert comparable(case) == comparable(load_case(server, scope, row["event_id"]))
    for mcn_id in ("mcn-starlight", "mcn-rival"):
        assert selection_figures(cluster, mcn_id, NOVEMBER) == selection_figures(server, mcn_id, NOVEMBER)
    assert current_ledger(cluster) == current_ledger(server)
    as_of = datetime(2026, 11, 1, tzinfo=UTC)
    assert current_ledger(cluster, as_of=as_of) == current_ledger(server, as_of=as_of)
    for stream_id in ("demo-001", "rival-001", "more-stream-003"):
        assert stored_stream(cluster, stream_id) == stored_stream(server, stream_id)
    assert cluster.table_counts() == server.table_counts()


# ---------------------------------------------------------------------------------------------
# Failures


def test_a_replica_killed_mid_write_loses_nothing_and_doubles_nothing(
    clickhouse_cluster: ClickHouseCluster, cluster_store: Store
) -> None:
    victim = clickhouse_cluster.node(2, 1)  # shard 2's writes go to it first (load_balancing in_order)
    rows = stream_violations(20, 40, tag="kill-")
    batches = [rows[i : i + 40] for i in range(0, len(rows), 40)]
    sink = BatchingSink(cluster_store, max_rows=40)
    acked: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for batch in batches:
                for row in batch:
                    sink.add("violations", row)
                sink.flush_until_done(backoff_s=0.2, max_backoff_s=1.0)
                acked.extend(batch)  # the worker acks its input only now
        except BaseException as exc:
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    while len(acked) < 200 and writer.is_alive():
        time.sleep(0.01)
    victim.kill()
    try:
        killed_at = len(acked)
        writer.join(120)
        assert not writer.is_alive()
        assert not errors
        assert killed_at < len(rows), "the replica died while the writer was still writing"
        assert len(acked) == len(rows)
        assert sink.refused.total() == 0
        # Rows the victim took but its twin had not fetched yet are out of sight until it is back
        # (replication is asynchronous; insert_quorum=2 would close this, and stop writes instead).
        visible, _ = count_final(cluster_store)
        print(f"replica killed after {killed_at} rows acked; {800 - visible} of 800 unseen while it is down")
    finally:
        victim.start()
    found = local_ids(clickhouse_cluster, cluster_store.database)  # syncs the victim's replica
    assert count_final(cluster_store) == (800, 800)
    assert found[2, 1] == found[2, 2], "the returned replica caught up with its shard"
    assert found[1, 1] == found[1, 2]
    assert sorted(found[1, 1] + found[2, 1]) == sorted(r["event_id"] for r in rows)


def test_a_store_whose_node_dies_fails_over_to_the_next_and_loses_nothing(
    clickhouse_cluster: ClickHouseCluster,
) -> None:
    node, entry = clickhouse_cluster.node(2, 2), clickhouse_cluster.entry
    settings = cluster_settings(
        clickhouse_cluster, unique_database(), node=node, alt_hosts=f"127.0.0.1:{entry.port}"
    )
    before, after = stream_violations(6, 10, tag="fo-a-"), stream_violations(6, 10, tag="fo-b-")
    with open_store(settings) as store:
        try:
            store.insert("violations", before)
            assert count_final(store) == (60, 60)
            twin = clickhouse_cluster.node(2, 1)
            with on_node(twin, store.database) as on_twin:  # the rows the node took: on its twin too
                on_twin.command(f"SYSTEM SYNC REPLICA {local_table('violations')}")
            node.kill()
            try:
                store.insert("violations", after)  # the pool's connections die; retried via entry
                assert count_final(store) == (120, 120)
                assert {r["k"] for r in store.query("SELECT DISTINCT stream_id AS k FROM violations")} == {
                    r["stream_id"] for r in before + after
                }
            finally:
                node.start()
            found = local_ids(clickhouse_cluster, store.database)
            assert found[2, 1] == found[2, 2], "the node that died caught up with its shard"
            assert sorted(found[1, 1] + found[2, 1]) == sorted(r["event_id"] for r in before + after)
        finally:
            drop_everywhere(store, clickhouse_cluster)


def test_a_whole_shard_down_fails_the_insert_and_the_sink_holds_its_rows_until_it_returns(
    clickhouse_cluster: ClickHouseCluster, cluster_store: Store
) -> None:
    rows = stream_violations(12, 5, tag="down-")
    shard = list(clickhouse_cluster.shard_nodes(2))
    for node in shard:
        node.stop()
    try:
        with pytest.raises(WarehouseError) as raised:
            cluster_store.insert("violations", rows)
        print(f"shard down: {type(raised.value).__name__}: {raised.value}")
        assert isinstance(raised.value, WarehouseUnavailable)
        sink = BatchingSink(cluster_store, max_rows=100)
        for row in rows:
            sink.add("violations", row)
        done = threading.Event()
        flusher = threading.Thread(target=lambda: (sink.flush_until_done(backoff_s=0.2), done.set()))
        flusher.start()
        time.sleep(3)
        assert not done.is_set(), "nothing acked while a shard is down"
        assert len(sink) == len(rows)
        assert sink.refused.total() == 0
    finally:
        for node in shard:
            node.start()
    flusher.join(120)
    assert done.is_set()
    assert len(sink) == 0
    assert count_final(cluster_store) == (60, 60)
    found = local_ids(clickhouse_cluster, cluster_store.database)
    assert found[2, 1] == found[2, 2]
    assert found[1, 1] == found[1, 2]
    assert sorted(found[1, 1] + found[2, 1]) == sorted(r["event_id"] for r in rows)
