"""The migrations rewritten for a cluster (pure: no servers; the cluster itself is in test_cluster.py)."""

from __future__ import annotations

import re

import pytest

from pipeline.errors import MigrationError, WarehouseError
from pipeline.warehouse import migrations
from pipeline.warehouse.cluster import (
    SHARDED,
    Topology,
    cluster_statements,
    counted_tables,
    create_database,
    local_table,
)
from pipeline.warehouse.sql import split_statements

TOPOLOGY = Topology("claimwatch", "cw")
STATEMENTS = [s for m in migrations() for s in split_statements(m.sql)]
CREATED = {m.group(1) for s in STATEMENTS if (m := re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", s))}


def test_every_migration_statement_has_a_cluster_form() -> None:
    for statement in STATEMENTS:
        rewritten = cluster_statements(statement, TOPOLOGY)
        assert rewritten
        # every statement reaches every node: ON CLUSTER, or an ALTER of a table replicated to all
        once = statement.startswith("ALTER") and rewritten == [statement.replace("TABLE ", "TABLE cw.", 1)]
        assert once or all(" ON CLUSTER claimwatch" in s for s in rewritten), statement


def test_the_event_tables_are_sharded_by_stream_and_the_rest_replicated_everywhere() -> None:
    assert set(SHARDED) == {"streams", "transcripts", "listings", "violations"} < CREATED
    for statement in STATEMENTS:
        if not statement.startswith("CREATE"):
            continue
        table = re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", statement).group(1)  # type: ignore[union-attr]
        rewritten = cluster_statements(statement, TOPOLOGY)
        if table in SHARDED:
            local, distributed = rewritten
            assert local.startswith(f"CREATE TABLE IF NOT EXISTS cw.{table}_local ON CLUSTER claimwatch (")
            assert f"('/clickhouse/tables/{{shard}}/cw/{table}', '{{replica}}'" in local
            assert distributed == (
                f"CREATE TABLE IF NOT EXISTS cw.{table} ON CLUSTER claimwatch AS cw.{table}_local "
                f"ENGINE = Distributed(claimwatch, cw, {table}_local, cityHash64(stream_id))"
            )
        else:
            (everywhere,) = rewritten
            assert f"cw.{table} ON CLUSTER claimwatch" in everywhere
            assert f"('/clickhouse/tables/all/cw/{table}', '{{replica}}'" in everywhere


def test_engines_keep_their_version_column_keys_and_partitions() -> None:
    (streams,) = [s for s in STATEMENTS if "TABLE IF NOT EXISTS streams " in s]
    local = cluster_statements(streams, TOPOLOGY)[0]
    assert local.endswith(
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/cw/streams', '{replica}', "
        "updated_at) ORDER BY stream_id"
    )
    (violations,) = [s for s in STATEMENTS if "TABLE IF NOT EXISTS violations " in s]
    assert cluster_statements(violations, TOPOLOGY)[0].endswith(
        "PARTITION BY toYYYYMM(ts) ORDER BY (mcn_id, anchor_id, ts, event_id)"
    )
    (audit,) = [s for s in STATEMENTS if "TABLE IF NOT EXISTS audit_log " in s]
    assert (
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/cw/audit_log', '{replica}') "
        in (cluster_statements(audit, TOPOLOGY)[0])
    )


def test_altering_a_sharded_table_alters_its_local_tables_and_remakes_the_distributed_one() -> None:
    assert cluster_statements("ALTER TABLE violations ADD COLUMN off_card UInt8 DEFAULT 0", TOPOLOGY) == [
        "ALTER TABLE cw.violations_local ON CLUSTER claimwatch ADD COLUMN off_card UInt8 DEFAULT 0",
        "DROP TABLE IF EXISTS cw.violations ON CLUSTER claimwatch",
        "CREATE TABLE IF NOT EXISTS cw.violations ON CLUSTER claimwatch AS cw.violations_local "
        "ENGINE = Distributed(claimwatch, cw, violations_local, cityHash64(stream_id))",
    ]
    assert cluster_statements("ALTER TABLE users ADD COLUMN x String", TOPOLOGY) == [
        "ALTER TABLE cw.users ADD COLUMN x String"  # once: replication carries it to every node
    ]


def test_other_statements_are_refused_and_names_must_be_identifiers() -> None:
    with pytest.raises(MigrationError, match="CREATE/ALTER TABLE only"):
        cluster_statements("DROP TABLE violations", TOPOLOGY)
    with pytest.raises(WarehouseError):
        Topology("claim-watch", "cw")
    assert create_database(TOPOLOGY) == "CREATE DATABASE IF NOT EXISTS cw ON CLUSTER claimwatch"


def test_counted_tables_are_what_readers_see() -> None:
    engines = {
        "violations": "Distributed",
        local_table("violations"): "ReplicatedReplacingMergeTree",
        "audit_log": "ReplicatedMergeTree",
        "users": "ReplicatedReplacingMergeTree",
        "note_local": "MergeTree",  # a table that merely ends so, with no Distributed twin
    }
    assert counted_tables(engines) == {
        "violations": True,
        "audit_log": False,
        "users": True,
        "note_local": False,
    }
    assert counted_tables({"streams": "ReplacingMergeTree", "audit_log": "MergeTree"}) == {
        "streams": True,
        "audit_log": False,
    }
