"""The ClickHouse warehouse: schema migrations and two stores behind one interface.

``open_store(settings)`` gives the store the settings name: ``embedded`` (chdb in
``data_dir/warehouse``) or ``server`` (clickhouse-server over the native protocol; with
``clickhouse_cluster`` set, a ClickHouse cluster through one of its nodes), migrated to this
release's schema unless ``migrate=False``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.warehouse.store import LATEST_VERSION, Migration, Store, migrations

__all__ = ["LATEST_VERSION", "Migration", "Store", "migrations", "open_store"]


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """The warehouse the settings name, ready for use."""
    store: Store
    if settings.warehouse == "server":
        store = _server_class(settings)(
            host=settings.clickhouse_host,
            port=settings.clickhouse_port,
            alt_hosts=settings.clickhouse_alt_hosts,
            database=settings.clickhouse_database,
            user=settings.clickhouse_user,
            password=settings.clickhouse_password.get_secret_value(),
            connect_timeout_s=settings.clickhouse_connect_timeout_s,
            retries=settings.warehouse_retries,
            backoff_s=settings.warehouse_backoff_s,
            pool_size=settings.clickhouse_pool_size,
        )
    elif settings.clickhouse_cluster:
        raise ConfigError("CLAIMWATCH_CLICKHOUSE_CLUSTER needs CLAIMWATCH_WAREHOUSE=server")
    else:
        from pipeline.warehouse.embedded import EmbeddedStore

        store = EmbeddedStore(settings.warehouse_dir, database=settings.clickhouse_database)
    try:
        if migrate:
            store.migrate()
    except BaseException:
        store.close()
        raise
    return store


def _server_class(settings: Settings) -> Callable[..., Store]:
    """The server store, or the cluster store where the settings name a cluster."""
    if settings.clickhouse_cluster:
        from pipeline.warehouse.cluster_store import ClusterStore

        return partial(ClusterStore, cluster=settings.clickhouse_cluster)
    from pipeline.warehouse.server import ServerStore

    return ServerStore
