"""The ClickHouse warehouse: schema migrations and two stores behind one interface.

``open_store(settings)`` gives the store the settings name: ``embedded`` (chdb in
``data_dir/warehouse``) or ``server`` (clickhouse-server over the native protocol), migrated to
this release's schema unless ``migrate=False``.
"""

from __future__ import annotations

from pipeline.config import Settings
from pipeline.warehouse.store import LATEST_VERSION, Migration, Store, migrations

__all__ = ["LATEST_VERSION", "Migration", "Store", "migrations", "open_store"]


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """The warehouse the settings name, ready for use."""
    store: Store
    if settings.warehouse == "server":
        from pipeline.warehouse.server import ServerStore

        store = ServerStore(
            host=settings.clickhouse_host,
            port=settings.clickhouse_port,
            database=settings.clickhouse_database,
            user=settings.clickhouse_user,
            password=settings.clickhouse_password.get_secret_value(),
            connect_timeout_s=settings.clickhouse_connect_timeout_s,
            retries=settings.warehouse_retries,
            backoff_s=settings.warehouse_backoff_s,
        )
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
