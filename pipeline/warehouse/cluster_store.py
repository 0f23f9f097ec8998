"""The cluster store: a server store talking to one node of a ClickHouse cluster.

Everything a single server store does, with three differences (the DDL itself is
:mod:`pipeline.warehouse.cluster`):

- migrations and the database are created ``ON CLUSTER``; ``schema_migrations`` is replicated to
  every node, so a migration is applied once for the whole cluster and every node knows it;
- inserts go through the Distributed tables with ``insert_distributed_sync=1``: the INSERT
  returns only once each shard's part is written on a replica of that shard, so a batch the sink
  flushed is stored before the worker acks its input; with a whole shard down the INSERT fails
  (an outage: the sink keeps the rows and retries, and a retry is folded like any duplicate);
- ``distributed_product_mode='global'`` makes any subquery over a sharded table inside a query
  over another run once and ship its result (GLOBAL IN / JOIN), and ``load_balancing='in_order'``
  sends reads and writes to the first live replica of each shard, so a reader sees what was just
  written there rather than a replica still fetching it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pipeline.warehouse.cluster import Topology, cluster_statements, create_database
from pipeline.warehouse.server import ServerStore
from pipeline.warehouse.sql import split_statements
from pipeline.warehouse.store import Migration


class ClusterStore(ServerStore):
    """A ClickHouse cluster (``remote_servers`` name ``cluster``) reached through one of its nodes."""

    kind = "cluster"
    session_settings: ClassVar[Mapping[str, Any]] = {
        "insert_distributed_sync": 1,
        "distributed_product_mode": "global",
        "load_balancing": "in_order",
    }

    def __init__(self, *, cluster: str, database: str, **options: Any) -> None:
        self.topology = Topology(cluster, database)
        super().__init__(database=database, **options)

    @property
    def location(self) -> str:
        return f"cluster {self.topology.cluster} via {super().location}"

    def _create_database_sql(self) -> str:
        return create_database(self.topology)

    def _statements(self, migration: Migration) -> list[str]:
        return [
            rewritten
            for statement in split_statements(migration.sql)
            for rewritten in cluster_statements(statement, self.topology)
        ]
