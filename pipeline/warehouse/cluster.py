"""The schema on a ClickHouse cluster: each migration statement rewritten for ``ON CLUSTER``.

The migrations are written for one server. On a cluster (the ``clickhouse_cluster`` setting, a
cluster of the servers' ``remote_servers``) each table keeps its name, so every query ClaimWatch
runs stays as it is, and becomes one of two kinds:

- **sharded** (the event tables, :data:`SHARDED`): a ``Replicated*MergeTree`` table ``<name>_local``
  on every node, replicated within its shard (ZooKeeper path ``/clickhouse/tables/{shard}/...``),
  and a ``Distributed`` table ``<name>`` over them, sharded by ``cityHash64(stream_id)``. Every
  event id, segment id and the streams row derive from their stream, so an event and its
  duplicates land on one shard, where ``ReplacingMergeTree`` folds them and ``FINAL`` hides them,
  as on one server.
- **everywhere** (everything else: ledger, reviews, cards, users, sessions, audit_log,
  schema_migrations): small tables replicated to every node of every shard (one ZooKeeper path
  for the whole cluster). A query over a sharded table that reads one of them in a subquery
  finds all of it on each shard, so no query needs ``GLOBAL`` for them; the scoring SQL still
  says ``GLOBAL NOT IN`` for reviews, which reads them on the node the console wrote to.

``CREATE TABLE`` and ``ALTER TABLE`` are the only statements the migrations may use. An ALTER of a
table replicated everywhere runs on one node, without ``ON CLUSTER``: all its replicas share one
ZooKeeper path, so replication applies it to every node, while ``ON CLUSTER`` would run it once
per shard and the second run finds the column there already. ClickHouse
18.16 cannot ``ALTER ... ON CLUSTER`` a ``Distributed`` table (it insists the table be
replicated), so after altering a sharded table's local tables its Distributed table, which holds
no data, is dropped and created again from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.errors import MigrationError
from pipeline.warehouse.sql import quote_identifier

SHARDED: Mapping[str, str] = {
    "streams": "cityHash64(stream_id)",
    "transcripts": "cityHash64(stream_id)",
    "listings": "cityHash64(stream_id)",
    "violations": "cityHash64(stream_id)",
}
"""Sharded tables and their sharding key: the stream, so duplicates meet on one shard."""

LOCAL_SUFFIX = "_local"
ZOOKEEPER_ROOT = "/clickhouse/tables"

_CREATE = re.compile(
    r"^CREATE TABLE IF NOT EXISTS (?P<table>\w+)\s*(?P<columns>\(.*\))\s*"
    r"ENGINE\s*=\s*(?P<engine>\w*MergeTree)(?:\((?P<args>[^)]*)\))?(?P<rest>.*)$",
    re.S,
)
_ALTER = re.compile(r"^ALTER TABLE (?P<table>\w+)\s+(?P<action>.+)$", re.S)


@dataclass(frozen=True, slots=True)
class Topology:
    """Where the schema goes: a cluster named in the servers' config, and the database."""

    cluster: str
    database: str

    def __post_init__(self) -> None:
        quote_identifier(self.cluster)
        quote_identifier(self.database)

    def qualified(self, table: str) -> str:
        return f"{self.database}.{table}"

    def on_cluster(self, table: str) -> str:
        return f"{self.qualified(table)} ON CLUSTER {self.cluster}"


def local_table(table: str) -> str:
    """The name of a sharded table's replicated table on each node."""
    return table + LOCAL_SUFFIX


def create_database(topology: Topology) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {topology.database} ON CLUSTER {topology.cluster}"


def cluster_statements(statement: str, topology: Topology) -> list[str]:
    """One migration statement as the statements that apply it to every node of the cluster."""
    text = statement.strip()
    if created := _CREATE.match(text):
        return _create(created, topology)
    if altered := _ALTER.match(text):
        return _alter(altered.group("table"), altered.group("action").strip(), topology)
    raise MigrationError(f"cluster mode cannot apply this statement (CREATE/ALTER TABLE only): {text[:80]}")


def _create(match: re.Match[str], topology: Topology) -> list[str]:
    table = match.group("table")
    sharded = table in SHARDED
    name = local_table(table) if sharded else table
    shard = "{shard}" if sharded else "all"
    path = f"{ZOOKEEPER_ROOT}/{shard}/{topology.database}/{table}"
    args = ", ".join(a for a in (f"'{path}'", "'{replica}'", (match.group("args") or "").strip()) if a)
    engine = f"Replicated{match.group('engine')}({args})"
    columns, rest = match.group("columns"), match.group("rest").rstrip()
    local = f"CREATE TABLE IF NOT EXISTS {topology.on_cluster(name)} {columns} ENGINE = {engine}{rest}"
    return [local, distributed_table(table, topology)] if sharded else [local]


def distributed_table(table: str, topology: Topology) -> str:
    """The Distributed table over a sharded table's local tables, with the same columns."""
    engine = f"Distributed({topology.cluster}, {topology.database}, {local_table(table)}, {SHARDED[table]})"
    return (
        f"CREATE TABLE IF NOT EXISTS {topology.on_cluster(table)} "
        f"AS {topology.qualified(local_table(table))} ENGINE = {engine}"
    )


def _alter(table: str, action: str, topology: Topology) -> list[str]:
    if table not in SHARDED:  # one table under one ZooKeeper path: its replication carries the ALTER
        return [f"ALTER TABLE {topology.qualified(table)} {action}"]
    return [
        f"ALTER TABLE {topology.on_cluster(local_table(table))} {action}",
        f"DROP TABLE IF EXISTS {topology.on_cluster(table)}",
        distributed_table(table, topology),
    ]


def counted_tables(engines: Mapping[str, str]) -> dict[str, bool]:
    """The tables a reader sees (a sharded table's Distributed one, not its local tables), each
    with whether its engine folds duplicates (so counting it needs FINAL)."""
    return {
        name: "Replacing" in engines.get(local_table(name), engine)
        for name, engine in engines.items()
        if not (name.endswith(LOCAL_SUFFIX) and name.removesuffix(LOCAL_SUFFIX) in engines)
    }
