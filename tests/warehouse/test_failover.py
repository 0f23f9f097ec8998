"""The server store's failover (``CLAIMWATCH_CLICKHOUSE_ALT_HOSTS``): the host list is checked at
the edge, and a store whose first server does not answer works through the next one. The
cluster half (a node dying under a live store) is in tests/warehouse/test_cluster.py."""

from __future__ import annotations

import pytest

from pipeline.config import load_settings, parse_hosts
from pipeline.errors import ConfigError, WarehouseUnavailable
from pipeline.reporting.audit import recent, record
from pipeline.reporting.scope import Scope
from pipeline.stream.broker import free_port
from pipeline.warehouse import open_store
from pipeline.warehouse.server import ServerStore
from tests.conftest import unique_database
from tests.services import ClickHouseServer


def test_hosts_are_read_as_host_and_port_with_the_native_port_by_default() -> None:
    assert parse_hosts("ch-2:9440, ch-3 ,") == [("ch-2", 9440), ("ch-3", 9000)]
    assert parse_hosts("") == []


@pytest.mark.parametrize("bad", ["ch-2:x", ":9000", "ch-2:0", "ch-2:70000"])
def test_a_bad_host_list_is_refused_with_the_setting_named(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"clickhouse_alt_hosts.*not a host:port"):
        load_settings(clickhouse_alt_hosts=f"ch-1:9000,{bad}")


@pytest.mark.integration
def test_a_store_whose_first_server_is_down_works_through_the_next(
    clickhouse_server: ClickHouseServer,
) -> None:
    dead = free_port()  # nothing listens there
    settings = load_settings(
        warehouse="server",
        clickhouse_port=dead,
        clickhouse_alt_hosts=f"127.0.0.1:{clickhouse_server.port}",
        clickhouse_database=unique_database(),
        warehouse_retries=0,
    )
    with open_store(settings) as store:
        assert f"127.0.0.1:{dead}, else 127.0.0.1:{clickhouse_server.port}/" in store.location
        record(store, "tester", "failover.write", "target")
        assert [r["action"] for r in recent(store, Scope.everything())] == ["failover.write"]
        store.command(f"DROP DATABASE {store.database}")


@pytest.mark.integration
def test_without_alternatives_a_dead_server_is_an_outage() -> None:
    with pytest.raises(WarehouseUnavailable):
        ServerStore(host="127.0.0.1", port=free_port(), database=unique_database(), retries=0)
